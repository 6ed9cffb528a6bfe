import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type CollectCount, METRIC_NAMESPACE, METRICS } from '../lib/metrics.js';

/** Publishes the pipeline's metrics (lib/metrics.ts) from a Lambda, in its logs (embedded metric format). */
export class LambdaMetrics {
  private readonly metrics: Metrics;

  constructor(readonly service: string) {
    this.metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: service });
  }

  /**
   * One collector request, as one document (one log line on the hot path): its counts under the
   * `service` dimension set and, when the project is known, under `service` + `project` too.
   */
  collected(count: CollectCount): void {
    const m = this.metrics;
    if (count.accepted > 0) m.addMetric(METRICS.eventsAccepted, MetricUnit.Count, count.accepted);
    if (count.rejected > 0) m.addMetric(METRICS.eventsRejected, MetricUnit.Count, count.rejected);
    if (count.status >= 400) m.addMetric(METRICS.requestsRefused, MetricUnit.Count, 1);
    if (count.code === 'stream_unavailable') m.addMetric(METRICS.streamUnavailable, MetricUnit.Count, 1);
    if (count.code === 'quota_exceeded') m.addMetric(METRICS.requestsOverQuota, MetricUnit.Count, 1);
    if (!m.hasStoredMetrics()) return;
    // Each addDimensions is a dimension set of its own beside the service (an empty one: the
    // service alone); publishing clears them.
    m.addDimensions({});
    if (count.project !== null) m.addDimensions({ project: count.project });
    m.publishStoredMetrics();
  }

  /** A scheduled job's run finished. */
  ran(): void {
    this.metrics.addMetric(METRICS.runsSucceeded, MetricUnit.Count, 1);
    this.flush();
  }

  private flush(): void {
    // Nothing stored is nothing to write (Powertools warns on an empty flush).
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}

/** One project's sums over an interval (`total` for every request, the project known or not). */
interface Sums {
  accepted: number;
  rejected: number;
  refused: number;
  streamUnavailable: number;
  overQuota: number;
}

const noSums = (): Sums => ({ accepted: 0, rejected: 0, refused: 0, streamUnavailable: 0, overQuota: 0 });

/**
 * The collector's metrics for a long-lived server: the same metrics and dimension sets as
 * LambdaMetrics, summed in the process and written once an interval (`flush`): one document for
 * the totals and one per project, instead of one per request, whose log volume at tens of
 * thousands of requests a second would cost more than the servers.
 */
export class IntervalMetrics {
  private readonly metrics: Metrics;
  private total = noSums();
  private projects = new Map<string, Sums>();
  /** Answers by status and code over the interval, for the summary log line. */
  private answers = new Map<string, number>();

  constructor(readonly service: string) {
    this.metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: service });
  }

  collected(count: CollectCount): void {
    const sums = [this.total];
    if (count.project !== null) {
      let project = this.projects.get(count.project);
      if (project === undefined) {
        project = noSums();
        this.projects.set(count.project, project);
      }
      sums.push(project);
    }
    for (const s of sums) {
      s.accepted += count.accepted;
      s.rejected += count.rejected;
      if (count.status >= 400) s.refused += 1;
      if (count.code === 'stream_unavailable') s.streamUnavailable += 1;
      if (count.code === 'quota_exceeded') s.overQuota += 1;
    }
    const answer = count.code === undefined ? String(count.status) : `${count.status} ${count.code}`;
    this.answers.set(answer, (this.answers.get(answer) ?? 0) + 1);
  }

  /** Writes what the interval counted (nothing when it counted nothing) and starts the next; answers by status and code. */
  flush(): Record<string, number> {
    const add = (s: Sums) => {
      const m = this.metrics;
      if (s.accepted > 0) m.addMetric(METRICS.eventsAccepted, MetricUnit.Count, s.accepted);
      if (s.rejected > 0) m.addMetric(METRICS.eventsRejected, MetricUnit.Count, s.rejected);
      if (s.refused > 0) m.addMetric(METRICS.requestsRefused, MetricUnit.Count, s.refused);
      if (s.streamUnavailable > 0)
        m.addMetric(METRICS.streamUnavailable, MetricUnit.Count, s.streamUnavailable);
      if (s.overQuota > 0) m.addMetric(METRICS.requestsOverQuota, MetricUnit.Count, s.overQuota);
      return m.hasStoredMetrics();
    };
    if (add(this.total)) this.metrics.publishStoredMetrics();
    for (const [project, sums] of this.projects) {
      if (!add(sums)) continue;
      this.metrics.addDimension('project', project);
      this.metrics.publishStoredMetrics();
    }
    const answers = Object.fromEntries(this.answers);
    this.total = noSums();
    this.projects = new Map();
    this.answers = new Map();
    return answers;
  }
}
