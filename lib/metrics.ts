/**
 * The pipeline's own CloudWatch metrics: what the functions publish (embedded metric format, in
 * their logs) and what the alarms and the dashboard read. Every metric carries the `service`
 * dimension (the function's service name); the collector's counts are in the same document per
 * `project` as well (a second dimension set).
 */
export const METRIC_NAMESPACE = 'Tally';

export const METRICS = {
  /** Events written to the stream, per request. */
  eventsAccepted: 'EventsAccepted',
  /** Events refused one by one (the request itself succeeded). */
  eventsRejected: 'EventsRejected',
  /** Requests refused whole, by status class (4xx: the client's; 5xx: ours). */
  requestsRefused: 'RequestsRefused',
  /** Requests refused 429 quota_exceeded: the project sent more than its quota in a second. */
  requestsOverQuota: 'RequestsOverQuota',
  /** Requests answered 503 stream_unavailable: the stream refused the records after retries. */
  streamUnavailable: 'StreamUnavailable',
  /** Produce responses in which a Kafka broker says it throttled the collector (a quota). */
  streamThrottled: 'StreamThrottled',
  /** A scheduled job's run that finished (the heartbeat its alarm waits for). */
  runsSucceeded: 'RunsSucceeded',
} as const;

/** The outcome of one collector request, as counted. */
export interface CollectCount {
  project: string | null;
  accepted: number;
  rejected: number;
  status: number;
  code?: string;
}

/** The count of one answered collector request. */
export function collectCount(
  stats: { project: string | null; accepted: number; rejected: number },
  response: { status: number; body?: unknown },
): CollectCount {
  const error = (response.body as { error?: { code?: unknown } } | undefined)?.error;
  return {
    project: stats.project,
    accepted: stats.accepted,
    rejected: stats.rejected,
    status: response.status,
    ...(typeof error?.code === 'string' ? { code: error.code } : {}),
  };
}

/**
 * What one answered request adds to each collector metric (only the ones it adds to): the one
 * mapping both publishers use, per request on Lambda and summed over an interval in the container.
 */
export function countedMetrics(count: CollectCount): Array<[name: string, amount: number]> {
  const out: Array<[string, number]> = [];
  if (count.accepted > 0) out.push([METRICS.eventsAccepted, count.accepted]);
  if (count.rejected > 0) out.push([METRICS.eventsRejected, count.rejected]);
  if (count.status >= 400) out.push([METRICS.requestsRefused, 1]);
  if (count.code === 'stream_unavailable') out.push([METRICS.streamUnavailable, 1]);
  if (count.code === 'quota_exceeded') out.push([METRICS.requestsOverQuota, 1]);
  return out;
}
