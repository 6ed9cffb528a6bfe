import type { ManifestFile } from '../../lake/manifest.js';
import type { ListedObject } from '../../lake/store.js';
import { LAKE_DIMENSIONS } from '../breakdowns.js';
import { type ProjectDay, uniqueProjectDays } from '../days.js';
import { BOT, ROW_ID } from '../people.js';
import { WarehouseError } from '../warehouse.js';
import { type CatalogConfig, marks, type Run, s3Properties } from './sql.js';

/**
 * Where a refresh reads the lake's files from (StarRocks' `FILES()`): what is new of a day is
 * told by the rollup's manifests (today) or by listing its partitions, and only those files are
 * read.
 */
export interface LakeFiles {
  /** `s3://<bucket>/`: the lake's keys are read under it. */
  location: string;
  /** How StarRocks reaches the bucket: the catalog's S3 settings. */
  storage: CatalogConfig;
  /** The objects under a partition's prefix (`events/project=<p>/dt=<d>/`). */
  list(prefix: string): Promise<ListedObject[]>;
  /** Files named by one `FILES()` read and recorded by one statement. @default 500 */
  filesPerStatement?: number;
}

/** Where a refresh or a live scan reads the lake. */
export interface CopyOptions {
  db: string;
  /** The external catalog's events table (live scans, analysts). */
  events: string;
  /** Rule 0: the predicate of lake rows that count (`countedRows`). */
  counted: string;
  /** The lake's files, for a refresh. */
  lake?: LakeFiles;
}

/** The lake columns a refresh reads, as `refresh_rows` holds them. */
const COUNTED = `dt, project, received_at, event_time, user_hash, anonymous_hash, type, previous_user_hash,
  previous_anonymous_hash, ${LAKE_DIMENSIONS.join(', ')}`;

/** Files of one `FILES()` read: its path property lists them, a statement stays a few hundred KB. */
const FILES_PER_STATEMENT = 500;

const LOCATION = /^s3a?:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/$/;
const LAKE_KEY = /^events\/project=([a-z0-9-]+)\/dt=(\d{4}-\d{2}-\d{2})\/[A-Za-z0-9._=-]+\.parquet$/;

/** `location` checked: a bucket's root, as `FILES()` takes it. */
export function lakeLocation(location: string): string {
  if (!LOCATION.test(location))
    throw new WarehouseError(
      'invalid_config',
      `lake location ${JSON.stringify(location).slice(0, 80)} is not s3://<bucket>/`,
    );
  return location;
}

/** Items a statement at a time (`filesPerStatement` of the lake). */
function perStatement<T>(lake: LakeFiles, items: readonly T[]): T[][] {
  const per = lake.filesPerStatement ?? FILES_PER_STATEMENT;
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += per) chunks.push(items.slice(i, i + per));
  return chunks;
}

/**
 * `FILES()` over these lake keys (under the location the engine checked): Parquet, `project` and
 * `dt` from the path (as text). A key that is not a lake data file's (a comma or a wildcard would
 * name other files) is refused, naming it.
 */
function filesOf(lake: LakeFiles, keys: readonly string[]): { sql: string; values: string[] } {
  for (const key of keys)
    if (!LAKE_KEY.test(key))
      throw new WarehouseError(
        'invalid_value',
        `lake file ${JSON.stringify(key).slice(0, 120)} is not events/project=<id>/dt=<day>/<name>.parquet`,
      );
  const properties = [
    ['format', "'parquet'"],
    ['columns_from_path', "'project,dt'"],
    // The schema from every file read, not the first alone.
    ['auto_detect_sample_files', `'${keys.length}'`],
    ...s3Properties(lake.storage).map(([k, v]) => [k, `'${v.slice(1, -1)}'`]),
  ];
  return {
    sql: `FILES('path' = ?, ${properties.map(([k, v]) => `'${k}' = ${v}`).join(', ')})`,
    values: [keys.map((k) => `${lake.location}${k}`).join(',')],
  };
}

/** One partition's files read by a refresh. */
export interface PartitionRead extends ProjectDay {
  files: ListedObject[];
}

/** What a refresh reads: the days, those appended to, and each partition's files read. */
export interface LakeRead {
  dts: string[];
  /** Days whose files read before are all there as read: only their new files were read. */
  appended: string[];
  reads: PartitionRead[];
  filesRead: number;
}

/**
 * Reads what is new of these days into `refresh_rows` (the rows rule 0 counts, as they are: rule 1
 * needs no verdict, copies of an event name the same person on the same day). Today, when its
 * partitions handed each have new files named by the rollup's manifests (`named`), none of them
 * read before, is **appended to** from those files alone, without a listing. Any other day has its
 * partitions (those handed and those read before) listed and compared with what `day_files` says
 * was read: a day whose recorded files are all still there as read is appended to, its new files
 * alone read; a day where one was replaced or rewritten (compaction, an erasure, a retried batch),
 * or every day with `reread`, is read whole. A day with nothing new is left out. A day is one
 * partition of the day tables: its projects are read the same way.
 */
export async function readCounted(
  run: Run,
  options: CopyOptions,
  requested: readonly ProjectDay[],
  reread: boolean,
  named?: { files: readonly ManifestFile[]; today: string },
): Promise<LakeRead> {
  const lake = options.lake;
  if (!lake)
    throw new WarehouseError(
      'invalid_config',
      'a StarRocks refresh reads the lake with FILES(): give the engine the lake location and its listing',
    );
  const dts = [...new Set(requested.map((d) => d.dt))].sort();
  const recorded = new Map<string, Map<string, string>>();
  for (const r of await run(
    `SELECT project, CAST(dt AS VARCHAR) AS dt, file, version FROM ${options.db}.day_files
WHERE dt IN (${marks(dts)}) AND project <> ''`,
    dts,
  )) {
    const partition = `${String(r.project)}/${String(r.dt)}`;
    if (!recorded.has(partition)) recorded.set(partition, new Map());
    recorded.get(partition)!.set(String(r.file), String(r.version));
  }
  // The files the manifests name, by partition (null: a manifest names the partition whole, as an
  // erasure's does).
  const byPartition = new Map<string, Set<string> | null>();
  for (const f of named?.files ?? []) {
    const partition = `${f.project}/${f.dt}`;
    if (f.key.endsWith('/')) byPartition.set(partition, null);
    else if (f.key.endsWith('.parquet') && byPartition.get(partition) !== null) {
      if (!byPartition.has(partition)) byPartition.set(partition, new Set());
      byPartition.get(partition)!.add(f.key);
    }
  }
  // Today is appended to from the manifests alone when each of its partitions handed names new
  // files, none read before: no listing. (Compaction leaves today alone, so a file a manifest
  // names is there; an earlier day's may have been compacted away since.)
  const fromManifests = (dt: string) =>
    named !== undefined &&
    dt === named.today &&
    !reread &&
    requested
      .filter((p) => p.dt === dt)
      .every((p) => {
        const files = byPartition.get(`${p.project}/${dt}`);
        const before = recorded.get(`${p.project}/${dt}`);
        return (
          files !== undefined && files !== null && files.size > 0 && [...files].every((k) => !before?.has(k))
        );
      });
  const listedDts = new Set(dts.filter((dt) => !fromManifests(dt)));
  const partitions = uniqueProjectDays([
    ...requested,
    ...[...recorded.keys()].map((p) => ({ project: p.split('/')[0]!, dt: p.split('/')[1]! })),
  ]);
  const listed = new Map<string, ListedObject[]>();
  for (const p of partitions.filter((d) => listedDts.has(d.dt))) {
    const files = await lake.list(`events/project=${p.project}/dt=${p.dt}/`);
    listed.set(
      `${p.project}/${p.dt}`,
      files.filter((f) => f.key.endsWith('.parquet')),
    );
  }
  const unchanged = (partition: string) => {
    const versions = new Map((listed.get(partition) ?? []).map((f) => [f.key, f.version]));
    return [...(recorded.get(partition) ?? [])].every(([key, version]) => versions.get(key) === version);
  };
  const read: LakeRead = { dts: [], appended: [], reads: [], filesRead: 0 };
  for (const dt of dts) {
    if (!listedDts.has(dt)) {
      // A file named by a manifest has no version here: a later listing reads its day whole.
      read.dts.push(dt);
      read.appended.push(dt);
      for (const p of requested.filter((r) => r.dt === dt))
        read.reads.push({
          ...p,
          files: [...(byPartition.get(`${p.project}/${dt}`) ?? [])]
            .sort()
            .map((key) => ({ key, version: '' })),
        });
      continue;
    }
    const ofDay = partitions.filter((p) => p.dt === dt);
    const append = !reread && ofDay.every((p) => unchanged(`${p.project}/${dt}`));
    const reads = ofDay
      .map((p) => {
        const before = recorded.get(`${p.project}/${dt}`);
        const files = listed.get(`${p.project}/${dt}`) ?? [];
        return { ...p, files: append ? files.filter((f) => !before?.has(f.key)) : files };
      })
      .filter((p) => p.files.length > 0);
    if (append && reads.length === 0) continue;
    read.dts.push(dt);
    if (append) read.appended.push(dt);
    read.reads.push(...reads);
  }
  const keys = read.reads.flatMap((p) => p.files.map((f) => f.key));
  read.filesRead = keys.length;
  await run(`TRUNCATE TABLE ${options.db}.refresh_rows`);
  for (const chunk of perStatement(lake, keys)) {
    const files = filesOf(lake, chunk);
    await run(
      `INSERT INTO ${options.db}.refresh_rows (${COUNTED})
SELECT CAST(dt AS DATE), ${COUNTED.replace('dt, ', '')}
FROM ${files.sql} f WHERE ${options.counted}`,
      files.values,
    );
  }
  return read;
}

/**
 * Records what was read, after the day tables: bots' ids of the days (kept per day, so a day
 * appended to counts its distinct bots with those of the files read before) and each file read
 * with its version, a few hundred files a statement carrying the bots' rows those files held (on
 * each partition's first file among them). A run that dies before this, or part way, reads the
 * files it did not record again: ids merge, and bots' rows are counted once, with the files that
 * hold them.
 */
export async function recordFiles(run: Run, options: CopyOptions, read: LakeRead): Promise<void> {
  const { db, lake } = options;
  if (!lake || read.dts.length === 0) return;
  const whole = read.dts.filter((dt) => !read.appended.includes(dt));
  if (whole.length > 0) {
    await run(`DELETE FROM ${db}.bot_ids WHERE dt IN (${marks(whole)})`, whole);
    await run(`DELETE FROM ${db}.day_files WHERE dt IN (${marks(whole)})`, whole);
  }
  const files = read.reads.flatMap((p) => p.files.map((f) => ({ project: p.project, dt: p.dt, ...f })));
  for (const chunk of perStatement(lake, files)) {
    const source = filesOf(
      lake,
      chunk.map((f) => f.key),
    );
    await run(
      `INSERT INTO ${db}.bot_ids (dt, project, id_hash)
SELECT DISTINCT CAST(dt AS DATE), project, ${ROW_ID} FROM ${source.sql} f
WHERE ${BOT} AND ${ROW_ID} IS NOT NULL`,
      source.values,
    );
    const bots = new Map<string, number>();
    for (const r of await run(
      `SELECT project, dt, count(*) AS n FROM ${source.sql} f WHERE ${BOT} GROUP BY project, dt`,
      source.values,
    ))
      bots.set(`${String(r.project)}/${String(r.dt)}`, Number(r.n));
    await run(
      `INSERT INTO ${db}.day_files (dt, project, file, version, bot_rows) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
      chunk.flatMap((f) => {
        const partition = `${f.project}/${f.dt}`;
        const rows = bots.get(partition) ?? 0;
        bots.delete(partition);
        return [f.dt, f.project, f.key, f.version, rows];
      }),
    );
  }
}

/** Bots' rows and distinct ids per day of a project (rule 0: counted nowhere, shown apart). */
export function botDaysSelect(db: string): string {
  return `SELECT CAST(f.dt AS VARCHAR) AS dt, f.events, coalesce(i.ids, 0) AS ids FROM (
  SELECT dt, sum(bot_rows) AS events FROM ${db}.day_files WHERE project = ? AND dt BETWEEN ? AND ? GROUP BY dt
) f
LEFT JOIN (
  SELECT dt, count(DISTINCT id_hash) AS ids FROM ${db}.bot_ids WHERE project = ? AND dt BETWEEN ? AND ? GROUP BY dt
) i ON i.dt = f.dt
WHERE f.events > 0`;
}
