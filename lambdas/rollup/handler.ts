import { readEndpoint, readGlueNames, readLakeBucket } from '../../lib/config.js';
import { S3ObjectStore } from '../../lib/lake/s3-store.js';
import type { Logger } from '../../lib/log.js';
import { registerPartitions } from '../../lib/warehouse/glue.js';
import { type RollupDeps, type RollupResult, runRollup } from '../../lib/warehouse/rollup.js';
import { glueClient, s3Client } from '../aws.js';
import { onColdStart } from '../cold-start.js';
import { lambdaLogger } from '../logger.js';
import { LambdaMetrics } from '../metrics-emf.js';
import { withSecrets } from '../secrets.js';
import { starRocksFromEnv, starRocksLake } from '../starrocks.js';
import { type TickEvent, tickOf } from '../ticks.js';

/** An EventBridge scheduled event, a batch of them from the schedule's queue, or `{ "full": true }` for a backfill. */
export type RollupEvent = TickEvent;

export type RollupHandler = (event: RollupEvent) => Promise<RollupResult>;

/**
 * The scheduled rollup over the given dependencies. Errors propagate so the run counts as failed.
 * The warehouse's tables are created (idempotently) before the first run of each instance, so a
 * fresh cluster needs no manual step; a failed setup is tried again by the next run.
 */
export function createRollupHandler(deps: RollupDeps, logger: Logger): RollupHandler {
  let ready: Promise<void> | null = null;
  return async (event) => {
    ready ??= deps.warehouse.setup().catch((error: Error) => {
      ready = null;
      throw error;
    });
    await ready;
    const result = await runRollup(deps, tickOf(event));
    logger.info('rollup', {
      manifests: result.manifests,
      days: result.stats.daysRecomputed,
      windows: result.stats.windowsRecomputed,
    });
    return result;
  };
}

const fromEnv = onColdStart(async () => {
  const env = await withSecrets(process.env);
  const bucket = readLakeBucket(env);
  const { database: glueDatabase, table: glueTable } = readGlueNames(env);
  const glue = glueClient();
  const logger = lambdaLogger('rollup');
  const store = new S3ObjectStore(s3Client(readEndpoint(env, 'S3')), bucket);
  return createRollupHandler(
    {
      store,
      // StarRocks reads each day's new files (FILES()), listed here with their ETags.
      warehouse: starRocksFromEnv(env, starRocksLake(env, bucket, store)),
      logger,
      registerPartitions: async (days) => {
        await registerPartitions(glue, { database: glueDatabase, table: glueTable, bucket }, days);
      },
    },
    logger,
  );
});

/** Lambda entry point: reads manifests from S3, registers partitions in Glue, refreshes StarRocks. */
const metrics = new LambdaMetrics('rollup');

export const handler: RollupHandler = async (event) => {
  const result = await (await fromEnv())(event);
  // The heartbeat the rollup alarm waits for: only a run that finished.
  metrics.ran();
  return result;
};
