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
