import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { refuseDedupWindow } from '../lib/config.js';
import { utcDate } from '../lib/events.js';
import { type CompactionResult, compactLake, type DeletingStore } from '../lib/lake/compaction.js';
import type { ObjectStore } from '../lib/lake/store.js';
import type { Logger } from '../lib/log.js';
import { ErasureLog } from '../lib/privacy/erasure.js';
import type { ProjectDay } from '../lib/warehouse/days.js';
import { DuckDbWarehouse } from '../lib/warehouse/duckdb.js';
import type { RollupRun } from '../lib/warehouse/metrics-api.js';
import { Mutex } from '../lib/warehouse/mutex.js';
import { type RollupResult, runRollup } from '../lib/warehouse/rollup.js';
import type { RefreshStats } from '../lib/warehouse/warehouse.js';

/** Where the local warehouse keeps its files inside the data dir. */
export function warehousePaths(dataDir: string) {
  const dir = join(dataDir, 'warehouse');
  return {
    dir,
    database: join(dir, 'tally.duckdb'),
    activeUsersExport: join(dir, 'active_users.parquet'),
    lake: join(dataDir, 'lake'),
  };
}

export interface LocalWarehouse {
  warehouse: DuckDbWarehouse;
  /** Runs a rollup now (one at a time); the first one of a process looks at every manifest. */
  rollupNow(options?: { full?: boolean }): Promise<RollupResult>;
  /** The last rollup that ran, for the health route. */
  lastRun(): RollupRun | null;
  /**
   * After an erasure: recomputes the changed days now, one at a time with the rollups, then writes
   * the database file anew, so no block of it keeps an erased person's hash.
   */
  refreshErased(days: readonly ProjectDay[]): Promise<RefreshStats>;
  /** Compacts the lake now, one at a time with the rollups (none when compaction is off). */
  compactNow(): Promise<CompactionResult | null>;
  stop(): Promise<void>;
}

/** @default every 10 s */
export const DEFAULT_ROLLUP_INTERVAL_MS = 10_000;
/** Compaction of closed days: hourly (the first an interval after start). */
export const DEFAULT_COMPACTION_INTERVAL_MS = 60 * 60_000;
/** Replaced files stay this long for readers in other processes (`tally sql`). */
export const LOCAL_COMPACTION_GRACE_MS = 60_000;

/**
 * The embedded warehouse of `npm start`: DuckDB in the data dir over the lake on disk, a rollup
 * timer standing in for EventBridge, and after each rollup an export of `active_users` that
 * `tally sql` reads without touching the locked database.
 */
export async function startLocalWarehouse(options: {
  dataDir: string;
  store: ObjectStore;
  logger: Logger;
  intervalMs?: number;
  /** Projects that count their bots (their `countBots` in config.json). */
  countBots?: readonly string[];
  /** The lake as the compactor sees it (the only store that deletes); none: no compaction. */
  compaction?: { store: DeletingStore; intervalMs?: number };
}): Promise<LocalWarehouse> {
  refuseDedupWindow(process.env);
  const paths = warehousePaths(options.dataDir);
  await mkdir(paths.dir, { recursive: true });
  const warehouse = await DuckDbWarehouse.open({
    path: paths.database,
    lakeRoot: paths.lake,
    homeDirectory: paths.dir,
    countBots: options.countBots,
  });
  const one = new Mutex();
  let first = true;
  let lastRun: RollupRun | null = null;
  const rollupNow = (opts: { full?: boolean } = {}) =>
    one.run(async () => {
      const started = Date.now();
      const result = await runRollup(
        { store: options.store, warehouse, logger: options.logger },
        { now: new Date(), full: opts.full ?? first },
      );
      first = false;
      if (result.manifests > 0) await warehouse.exportActiveUsers(paths.activeUsersExport);
      lastRun = {
        at: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        manifests: result.manifests,
      };
      return result;
    });
  const interval = options.intervalMs ?? DEFAULT_ROLLUP_INTERVAL_MS;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    rollupNow()
      .catch((error: Error) =>
        options.logger.error('rollup failed, retrying at the next tick', { error: error.message }),
      )
      .finally(() => {
        if (!stopped && interval > 0) timer = setTimeout(tick, interval);
      });
  };
  if (interval > 0) timer = setTimeout(tick, 0);
  const compaction = options.compaction;
  const erasures = compaction ? new ErasureLog(compaction.store) : null;
  const compactNow = () =>
    compaction && erasures
      ? one.run(() =>
          compactLake(compaction.store, {
            now: new Date(),
            graceMs: LOCAL_COMPACTION_GRACE_MS,
            erasures,
            logger: options.logger,
          }),
        )
      : Promise.resolve(null);
  let compactionTimer: NodeJS.Timeout | undefined;
  const compactionInterval = compaction?.intervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS;
  const compactTick = () => {
    compactNow()
      .then((r) => {
        if (r && r.partitions > 0) options.logger.info('lake compacted', { ...r });
      })
      .catch((error: Error) =>
        options.logger.error('compaction failed, retrying at the next tick', { error: error.message }),
      )
      .finally(() => {
        if (!stopped && compactionInterval > 0) compactionTimer = setTimeout(compactTick, compactionInterval);
      });
  };
  if (compaction && compactionInterval > 0) compactionTimer = setTimeout(compactTick, compactionInterval);
  const refreshErased = (days: readonly ProjectDay[]) =>
    one.run(async () => {
      const stats = await warehouse.refresh(days, utcDate(Date.now()), { reread: true });
      await warehouse.exportActiveUsers(paths.activeUsersExport);
      await warehouse.rewrite();
      return stats;
    });
  return {
    warehouse,
    rollupNow,
    refreshErased,
    lastRun: () => lastRun,
    compactNow,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (compactionTimer) clearTimeout(compactionTimer);
      await one.run(async () => undefined);
      await warehouse.close();
    },
  };
}
