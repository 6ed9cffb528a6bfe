import { readCompactionSettings, readEndpoint, readLakeBucket } from '../../lib/config.js';
import {
  type CompactionResult,
  compactLake,
  DEFAULT_GRACE_MS,
  DEFAULT_TARGET_BYTES,
  type DeletingStore,
} from '../../lib/lake/compaction.js';
import { S3ObjectStore } from '../../lib/lake/s3-store.js';
import type { Logger } from '../../lib/log.js';
import { ErasureLog } from '../../lib/privacy/erasure.js';
import { s3Client } from '../aws.js';
import { onColdStart } from '../cold-start.js';
import { lambdaLogger } from '../logger.js';
import { LambdaMetrics } from '../metrics-emf.js';
import { type TickEvent, tickOf } from '../ticks.js';

/** An EventBridge scheduled event (only its time is used), or a batch of them from the schedule's queue. */
export type CompactionEvent = TickEvent;

export type CompactionHandler = (event: CompactionEvent) => Promise<CompactionResult>;

/** The scheduled compaction over the given store. Errors propagate so the run counts as failed. */
export function createCompactionHandler(
  store: DeletingStore,
  settings: { targetBytes: number; graceMs: number },
  logger: Logger,
): CompactionHandler {
  const erasures = new ErasureLog(store);
  return async (event) => {
    const result = await compactLake(store, {
      now: tickOf(event).now,
      targetBytes: settings.targetBytes,
      graceMs: settings.graceMs,
      erasures,
      logger,
    });
    logger.info('compaction', { ...result });
    return result;
  };
}

const fromEnv = onColdStart(async () => {
  const env = process.env;
  return createCompactionHandler(
    new S3ObjectStore(s3Client(readEndpoint(env, 'S3')), readLakeBucket(env)),
    readCompactionSettings(env, { targetBytes: DEFAULT_TARGET_BYTES, graceMs: DEFAULT_GRACE_MS }),
    lambdaLogger('compact'),
  );
});

/** Lambda entry point: compacts the lake's closed days on S3 (the only function that deletes there). */
const metrics = new LambdaMetrics('compact');

export const handler: CompactionHandler = async (event) => {
  const result = await (await fromEnv())(event);
  // The heartbeat the compact alarm waits for: only a run that finished.
  metrics.ran();
  return result;
};
