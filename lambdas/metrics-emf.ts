import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type CollectCount, countedMetrics, METRIC_NAMESPACE, METRICS } from '../lib/metrics.js';

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
    for (const [name, amount] of countedMetrics(count)) m.addMetric(name, MetricUnit.Count, amount);
    if (!m.hasStoredMetrics()) return;
    // Each addDimensions is a dimension set of its own beside the service (an empty one: the
    // service alone); publishing clears them.
    m.addDimensions({});
    if (count.project !== null) m.addDimensions({ project: count.project });
    m.publishStoredMetrics();
  }

  /**
   * Kafka brokers throttled this many produce responses: one document under the `service`
   * dimension set (a throttle belongs to the stream, not a project).
   */
  throttled(responses: number): void {
    this.metrics.addMetric(METRICS.streamThrottled, MetricUnit.Count, responses);
    this.flush();
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

/** Each metric's sum over an interval, by name. */
type Sums = Map<string, number>;

/**
 * The collector's metrics for a long-lived server: the same metrics and dimension sets as
 * LambdaMetrics, summed in the process and written once an interval (`flush`): one document for
 * the totals and one per project, instead of one per request, whose log volume at tens of
 * thousands of requests a second would cost more than the servers.
 */
export class IntervalMetrics {
  private readonly metrics: Metrics;
  private total: Sums = new Map();
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
        project = new Map();
        this.projects.set(count.project, project);
      }
      sums.push(project);
    }
    for (const [name, amount] of countedMetrics(count)) {
      for (const s of sums) s.set(name, (s.get(name) ?? 0) + amount);
    }
    const answer = count.code === undefined ? String(count.status) : `${count.status} ${count.code}`;
    this.answers.set(answer, (this.answers.get(answer) ?? 0) + 1);
  }

  /** Kafka brokers throttled this many produce responses (summed with the totals, no project). */
  throttled(responses: number): void {
    this.total.set(METRICS.streamThrottled, (this.total.get(METRICS.streamThrottled) ?? 0) + responses);
  }

  /** Writes what the interval counted (nothing when it counted nothing) and starts the next; answers by status and code. */
  flush(): Record<string, number> {
    const publish = (sums: Sums, project: string | null) => {
      if (sums.size === 0) return;
      for (const [name, amount] of sums) this.metrics.addMetric(name, MetricUnit.Count, amount);
      if (project !== null) this.metrics.addDimension('project', project);
      this.metrics.publishStoredMetrics();
    };
    publish(this.total, null);
    for (const [project, sums] of this.projects) publish(sums, project);
    const answers = Object.fromEntries(this.answers);
    this.total = new Map();
    this.projects = new Map();
    this.answers = new Map();
    return answers;
  }
}
