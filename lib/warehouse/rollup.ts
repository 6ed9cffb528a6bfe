import { utcDate } from '../events.js';
import { decodeManifest, type ManifestFile } from '../lake/manifest.js';
import type { ObjectStore } from '../lake/store.js';
import type { Logger } from '../log.js';
import { addDays, daysFrom, type ProjectDay, uniqueProjectDays } from './days.js';
import type { RefreshStats, Warehouse } from './warehouse.js';

/**
 * How far back manifests are looked for. A manifest is filed under the arrival hour of its
 * batch's first record, and a batch can be written late (retries, a stalled shard): this must
 * exceed the event source mapping's maximum record age.
 */
export const DEFAULT_LOOKBACK_DAYS = 2;

export interface RollupDeps {
  store: ObjectStore;
  warehouse: Warehouse;
  logger: Logger;
  /** Registers new lake partitions in a metastore (Glue) before the warehouse reads them. */
  registerPartitions?: (days: readonly ProjectDay[]) => Promise<void>;
}

export interface RollupOptions {
  now: Date;
  /** Look at every manifest, not only the last days' (first run on an existing lake, backfills). */
  full?: boolean;
  lookbackDays?: number;
  /** Called as manifests are read, for progress output. */
  onProgress?: (done: number, total: number) => void;
}

export interface RollupResult {
  manifests: number;
  changed: ProjectDay[];
  stats: RefreshStats;
}

/**
 * One rollup run: reads the manifests not rolled up yet, finds the (project, day) pairs they
 * touched, registers those partitions, recomputes them (and the windows holding them), then
 * records the manifests as done. Recording comes last: a run that dies before it is redone by
 * the next one, and recomputing a day gives the same numbers, so reruns are harmless.
 */
export async function runRollup(deps: RollupDeps, options: RollupOptions): Promise<RollupResult> {
  const today = utcDate(options.now.getTime());
  const prefixes = options.full
    ? ['manifests/']
    : daysFrom(addDays(today, -(options.lookbackDays ?? DEFAULT_LOOKBACK_DAYS)), today).map(
        (d) => `manifests/${d}/`,
      );
  const fresh: string[] = [];
  for (const prefix of prefixes) {
    const done = await deps.warehouse.processedManifests(prefix);
    for (const key of await deps.store.list(prefix))
      if (key.endsWith('.json') && !done.has(key)) fresh.push(key);
  }
  const files: ManifestFile[] = [];
  for (const [i, key] of fresh.entries()) {
    const bytes = await deps.store.get(key);
    if (bytes === null) continue;
    files.push(...decodeManifest(bytes).files);
    options.onProgress?.(i + 1, fresh.length);
  }
  const changed = files.map((file) => ({ project: file.project, dt: file.dt }));
  const days = uniqueProjectDays(changed);
  if (days.length > 0 && deps.registerPartitions) await deps.registerPartitions(days);
  const stats = await deps.warehouse.refresh(days, today, { reread: options.full === true, files });
  await deps.warehouse.markProcessed(fresh);
  await deps.warehouse.recordRollup(options.now);
  if (fresh.length > 0) {
    deps.logger.info('rollup done', {
      manifests: fresh.length,
      days: stats.daysRecomputed,
      windows: stats.windowsRecomputed,
      ...(stats.filesRead === undefined ? {} : { files: stats.filesRead }),
    });
  }
  return { manifests: fresh.length, changed: days, stats };
}
