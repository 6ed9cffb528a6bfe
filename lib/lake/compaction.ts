import { createHash } from 'node:crypto';
import { enrich } from '../enrich/context.js';
import { TallyError } from '../errors.js';
import { type LakeEvent, utcDate } from '../events.js';
import type { Logger } from '../log.js';
import type { ErasureLog } from '../privacy/erasure.js';
import { eventsToParquet, parquetToEvents } from './parquet.js';
import type { ObjectStore } from './store.js';

/** A store that can also delete: only the compactor is given one. */
export interface DeletingStore extends ObjectStore {
  /** Deletes the object; a key that is already gone is fine. */
  delete(key: string): Promise<void>;
}

export const COMPACTIONS_PREFIX = 'compactions/';
/** Records whose inputs are still to delete: the only ones a run reads. */
export const PENDING_PREFIX = `${COMPACTIONS_PREFIX}pending/`;
/** Records whose inputs were deleted: kept for audit, never read again by the compactor. */
export const DONE_PREFIX = `${COMPACTIONS_PREFIX}done/`;
/** Where records were kept before they were split by state (read until moved). */
const LEGACY_PREFIX = `${COMPACTIONS_PREFIX}project=`;
/** A record's name below its state's prefix (`project=.../dt=.../<digest>.json`), whatever the state or layout. */
export function recordName(key: string): string {
  for (const prefix of [PENDING_PREFIX, DONE_PREFIX, COMPACTIONS_PREFIX])
    if (key.startsWith(prefix)) return key.slice(prefix.length);
  return key;
}

/** Input bytes per compacted file. @see CompactionOptions.targetBytes */
export const DEFAULT_TARGET_BYTES = 128 * 1024 * 1024;
/** How long replaced files stay readable after their replacement is written. */
export const DEFAULT_GRACE_MS = 15 * 60_000;

export interface CompactionOptions {
  now: Date;
  /**
   * Parquet bytes read into one compacted file (a closed day under this size becomes one file).
   * Memory needed is several times this. @default 128 MiB
   */
  targetBytes?: number;
  /**
   * Replaced files are deleted this long after their replacement was written, so a reader that
   * listed them just before (StarRocks caches file lists for 60 s) still finds them; until then
   * readers see both and deduplicate by event_id. @default 15 minutes
   */
  graceMs?: number;
  /** A day with fewer files than this is left alone. @default 2 */
  minFiles?: number;
  /** Also compact today (its files still grow: each run rewrites them again). @default false */
  includeToday?: boolean;
  /** Erasures to apply to the rows rewritten, so a compaction never brings an erased row back. */
  erasures?: ErasureLog;
  logger?: Logger;
}

/**
 * What one compaction of a partition wrote: the plan under `compactions/pending/` until its
 * inputs are deleted, then the audit under `compactions/done/` (same name below the prefix).
 */
export interface CompactionRecord {
  version: 1;
  project: string;
  dt: string;
  inputs: string[];
  /**
   * sha256 of each input as it was read: a lake-writer batch can rewrite its key later (a retry
   * delivered as a superset of the first attempt), and a rewritten input must not be deleted.
   */
  inputDigests?: string[];
  outputs: string[];
  inputRows: number;
  outputRows: number;
  writtenAt: string;
  /** `written`: inputs still to delete once the grace period is over; `done`: deleted. */
  status: 'written' | 'done';
}

export interface CompactionResult {
  partitions: number;
  filesRead: number;
  filesWritten: number;
  rowsRead: number;
  rowsWritten: number;
  filesDeleted: number;
  /** Inputs rewritten since they were compacted: kept, and compacted again by a later run. */
  inputsRewritten: number;
}

/**
 * A name equal for rows of a partition alike in their event id and every column a count reads
 * (`alikeColumns` of lib/warehouse/people.ts: type, sender, identity evidence, the enrichment,
 * country): copies of one event that differ only in their times.
 */
export function alikeKey(e: LakeEvent): string {
  const x = e.enriched ?? enrich(e.context, e.channel);
  return JSON.stringify([
    e.eventId,
    e.type,
    String(e.userHash),
    String(e.anonymousHash),
    String(e.previousUserHash ?? null),
    String(e.previousAnonymousHash ?? null),
    e.country ?? null,
    x.bot,
    x.platform,
    x.os,
    x.browser,
    x.deviceType,
    x.appVersion,
    x.library,
    x.utmSource,
    x.utmMedium,
    x.utmCampaign,
    x.referrerDomain,
  ]);
}

export class CompactionError extends TallyError {}

const PARTITION = /^events\/project=([a-z0-9-]+)\/dt=(\d{4}-\d{2}-\d{2})\/[^/]+\.parquet$/;

/**
 * Rewrites each partition's small files into few large ones, sorted by person then time (so
 * engines prune row groups), without losing or doubling a row at any point:
 * 1. the compacted files are written (deterministic names from their inputs) and read back;
 * 2. a record naming inputs and outputs is written (`compactions/pending/`);
 * 3. after the grace period, a later run deletes the inputs, then moves the record to
 *    `compactions/done/`, so a run reads only the records with work left.
 * A run killed anywhere leaves the lake consistent: before 2, the outputs are extra copies that the
 * next run compacts again with everything else (readers deduplicate by event_id meanwhile); after
 * 2, the next run finishes the deletions. A copy of an event within a partition is kept once (the
 * copy that counts: people.ts, rule 1). Late files landing in a compacted day are compacted with
 * its compacted files on a later run. Manifests are untouched: the numbers do not change.
 */
export async function compactLake(
  store: DeletingStore,
  options: CompactionOptions,
): Promise<CompactionResult> {
  const result: CompactionResult = {
    partitions: 0,
    filesRead: 0,
    filesWritten: 0,
    rowsRead: 0,
    rowsWritten: 0,
    filesDeleted: 0,
    inputsRewritten: 0,
  };
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const pending = await finishDeletions(store, options.now.getTime(), graceMs, result);
  const today = utcDate(options.now.getTime());
  const partitions = new Map<string, string[]>();
  for (const key of await store.list('events/')) {
    const m = PARTITION.exec(key);
    if (!m || pending.has(key)) continue;
    if (m[2]! >= today && !options.includeToday) continue;
    const partition = `${m[1]}/${m[2]}`;
    partitions.set(partition, [...(partitions.get(partition) ?? []), key]);
  }
  const failed: string[] = [];
  for (const [partition, keys] of partitions) {
    if (keys.length < (options.minFiles ?? 2)) continue;
    const [project, dt] = partition.split('/') as [string, string];
    try {
      await compactPartition(store, project, dt, keys, options, result);
      result.partitions++;
    } catch (error) {
      // One partition that cannot be compacted (a damaged file) does not stop the others.
      failed.push(partition);
      options.logger?.error('partition not compacted', { project, dt, error: (error as Error).message });
    }
  }
  if (graceMs === 0) await finishDeletions(store, options.now.getTime(), 0, result);
  if (failed.length > 0) {
    throw new CompactionError(
      'partitions_failed',
      `${failed.length} partition(s) were not compacted (their files are kept): ${failed.slice(0, 5).join(', ')}`,
    );
  }
  return result;
}

/**
 * Deletes the inputs of pending records past their grace period, then moves each record to
 * `done/` (put, then delete: a run killed in between finds it pending again, finds its inputs
 * gone and moves it again). Returns the inputs still pending. Reads only pending records, and
 * records of the layout before `pending/` and `done/` (moved as they are met).
 */
async function finishDeletions(
  store: DeletingStore,
  now: number,
  graceMs: number,
  result: CompactionResult,
): Promise<Set<string>> {
  const pending = new Set<string>();
  const keys = [...(await store.list(PENDING_PREFIX)), ...(await store.list(LEGACY_PREFIX))];
  for (const key of keys) {
    if (!key.endsWith('.json')) continue;
    const bytes = await store.get(key);
    if (bytes === null) continue;
    const record = JSON.parse(Buffer.from(bytes).toString('utf8')) as CompactionRecord;
    if (record.status !== 'done') {
      if (Date.parse(record.writtenAt) + graceMs > now) {
        for (const input of record.inputs) pending.add(input);
        continue;
      }
      await deleteInputs(store, record, result);
    }
    await putRecord(store, `${DONE_PREFIX}${recordName(key)}`, { ...record, status: 'done' });
    await store.delete(key);
  }
  return pending;
}

/** Deletes a record's inputs that still hold the bytes it compacted; a rewritten input is compacted again later. */
async function deleteInputs(
  store: DeletingStore,
  record: CompactionRecord,
  result: CompactionResult,
): Promise<void> {
  for (const [n, input] of record.inputs.entries()) {
    const expected = record.inputDigests?.[n];
    if (expected !== undefined) {
      const current = await store.get(input);
      if (current === null) continue;
      if (digest(current) !== expected) {
        result.inputsRewritten++;
        continue;
      }
    }
    await store.delete(input);
    result.filesDeleted++;
  }
}

function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function putRecord(store: ObjectStore, key: string, record: CompactionRecord): Promise<void> {
  await store.put(key, Buffer.from(`${JSON.stringify(record, null, 2)}\n`), 'application/json');
}

/** Orders rows by person, then time: what active-user queries and pruning read together. */
function byPersonThenTime(a: LakeEvent, b: LakeEvent): number {
  const pa = a.userHash ?? a.anonymousHash ?? -1n;
  const pb = b.userHash ?? b.anonymousHash ?? -1n;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return a.eventTime - b.eventTime;
}

async function compactPartition(
  store: DeletingStore,
  project: string,
  dt: string,
  keys: string[],
  options: CompactionOptions,
  result: CompactionResult,
): Promise<void> {
  const target = options.targetBytes ?? DEFAULT_TARGET_BYTES;
  // Groups of inputs in key order, each up to the target size (one group for a small day).
  const groups: Array<{ keys: string[]; files: Uint8Array[]; bytes: number }> = [];
  for (const key of keys) {
    const bytes = await store.get(key);
    if (bytes === null) continue;
    let group = groups[groups.length - 1];
    if (!group || (group.bytes + bytes.length > target && group.keys.length > 0)) {
      group = { keys: [], files: [], bytes: 0 };
      groups.push(group);
    }
    group.keys.push(key);
    group.files.push(bytes);
    group.bytes += bytes.length;
  }
  const tombstones = await options.erasures?.refresh();
  for (const group of groups) {
    if (group.keys.length < 2 && groups.length === 1) return;
    const copies = new Map<string, LakeEvent>();
    let inputRows = 0;
    for (const file of group.files) {
      for (const event of parquetToEvents(file, project)) {
        inputRows++;
        if (tombstones?.erases(event)) continue;
        // One of the rows alike in all a count reads is kept, the earliest (rule 1 of
        // lib/warehouse/people.ts): the numbers read from the output are those of the inputs.
        const key = alikeKey(event);
        const kept = copies.get(key);
        if (
          !kept ||
          event.eventTime < kept.eventTime ||
          (event.eventTime === kept.eventTime && event.receivedAt < kept.receivedAt)
        )
          copies.set(key, event);
      }
    }
    const rows = [...copies.values()].sort(byPersonThenTime);
    const name = digest(Buffer.from(group.keys.join('\n'))).slice(0, 20);
    const output = `events/project=${project}/dt=${dt}/compacted-${name}.parquet`;
    const outputs = rows.length > 0 ? [output] : [];
    if (rows.length > 0) {
      await store.put(output, eventsToParquet(rows), 'application/vnd.apache.parquet');
      const back = await store.get(output);
      const readBack = back === null ? -1 : parquetToEvents(back, project).length;
      if (readBack !== rows.length) {
        throw new CompactionError(
          'verify_failed',
          `compacted file ${output} holds ${readBack} rows, expected ${rows.length}; inputs kept`,
        );
      }
    }
    const record: CompactionRecord = {
      version: 1,
      project,
      dt,
      inputs: group.keys.filter((k) => !outputs.includes(k)),
      inputDigests: group.keys.flatMap((k, n) => (outputs.includes(k) ? [] : [digest(group.files[n]!)])),
      outputs,
      inputRows,
      outputRows: rows.length,
      writtenAt: options.now.toISOString(),
      status: 'written',
    };
    await putRecord(store, `${PENDING_PREFIX}project=${project}/dt=${dt}/${name}.json`, record);
    result.filesRead += group.keys.length;
    result.filesWritten += outputs.length;
    result.rowsRead += inputRows;
    result.rowsWritten += rows.length;
    options.logger?.info('partition compacted', {
      project,
      dt,
      files: group.keys.length,
      rows: rows.length,
      duplicates: inputRows - rows.length,
    });
  }
}
