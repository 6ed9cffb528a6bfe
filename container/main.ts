import { collectDepsFromEnv } from '../lambdas/collect/deps.js';
import { lambdaLogger } from '../lambdas/logger.js';
import { IntervalMetrics } from '../lambdas/metrics-emf.js';
import { withSecrets } from '../lambdas/secrets.js';
import { onStreamThrottled, streamWriterFromEnv } from '../lambdas/stream.js';
import { intVar } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { CoalescingWriter, PUT_PAYLOAD_UNIT_BYTES } from '../lib/stream/coalesce.js';
import { startCollectorServer } from './server.js';

/**
 * The collector container: the same collector as the Lambda, in a long-lived server whose
 * concurrent requests share PutRecords calls. Configuration as the Lambda's (`TALLY_STREAM_ARN` or
 * `TALLY_STREAM=kafka` and `TALLY_KAFKA_*`,
 * the secrets' ARNs, `TALLY_QUOTA_TABLE`...), plus `PORT` (8080), `TALLY_SECRETS_REFRESH_SECONDS`
 * (300: new projects and keys without a restart) and `TALLY_DRAIN_SECONDS` (25: what SIGTERM
 * lets requests in flight finish in; ECS waits 30 s before it kills).
 */
export async function runCollectorContainer(): Promise<void> {
  const logger = lambdaLogger('collect');
  const port = intVar(process.env, 'PORT', 8080, 0, 65_535);
  const refreshSeconds = intVar(process.env, 'TALLY_SECRETS_REFRESH_SECONDS', 300, 0, 86_400);
  const drainSeconds = intVar(process.env, 'TALLY_DRAIN_SECONDS', 25, 0, 120);
  // ECS may stop a task that is still starting (a deployment rolled back, a scale-in): until the
  // server listens there is nothing in flight to drain, so a signal ends it at once, cleanly.
  let stop = (signal: string): void => {
    logger.info('stopped before it listened', { signal });
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const env = await withSecrets(process.env);
  // Concurrent requests share PutRecords calls and, bundled, stream records of a PUT unit each.
  const stream = new CoalescingWriter(streamWriterFromEnv(env), { bundleBytes: PUT_PAYLOAD_UNIT_BYTES });
  const deps = collectDepsFromEnv(env, stream, logger);
  // Per request only what went wrong; what went right is summed and written once a minute (one
  // log line and one metric document per project), not a line a request at thousands a second.
  const metrics = new IntervalMetrics('collect');
  onStreamThrottled(env, () => metrics.throttled(1));
  const perRequest: Logger = { ...logger, info: () => {} };
  const server = await startCollectorServer(deps, perRequest, {
    port,
    count: (c) => metrics.collected(c),
  });
  const summarize = () => {
    const answers = metrics.flush();
    if (Object.keys(answers).length > 0) logger.info('collected', { answers });
  };
  const interval = setInterval(summarize, 60_000);
  interval.unref();
  const refresh =
    refreshSeconds > 0
      ? setInterval(() => {
          withSecrets(process.env)
            .then((fresh) => Object.assign(deps, collectDepsFromEnv(fresh, stream, logger)))
            .catch((error: Error) =>
              logger.warn('secrets refresh failed; the last ones stay', { error: error.message }),
            );
        }, refreshSeconds * 1000)
      : null;
  refresh?.unref();
  logger.info('collector listening', { url: server.url });
  let stopping = false;
  stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (refresh) clearInterval(refresh);
    clearInterval(interval);
    logger.info('draining', { signal, inFlight: server.inFlight() });
    server
      .drain(drainSeconds * 1000)
      .then(() => stream.drain())
      .then(() => {
        summarize();
        logger.info('drained', {
          putRecordsCalls: stream.sent.calls,
          streamRecords: stream.sent.records,
          requestRecords: stream.sent.entries,
        });
        process.exit(0);
      })
      .catch((error: Error) => {
        logger.error('drain failed', { error: error.message });
        process.exit(1);
      });
  };
}
