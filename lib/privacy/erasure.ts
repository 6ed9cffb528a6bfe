import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TallyError } from '../errors.js';
import { PROJECT_ID_PATTERN } from '../ingest/limits.js';
import { anonymousHash, type HashKey, identityHash } from '../ingest/pseudonymize.js';
import { manifestKey } from '../lake/keys.js';
import { encodeManifest, type Manifest } from '../lake/manifest.js';
import { eventsToParquet, parquetToEvents } from '../lake/parquet.js';
import type { ObjectStore } from '../lake/store.js';
import { parseHash } from '../stream/codec.js';
import type { ProjectDay } from '../warehouse/days.js';

/** Who to erase: raw ids as the apps sent them (hashed here, never stored). */
export interface ErasureRequest {
  project: string;
  userIds: readonly string[];
  anonymousIds: readonly string[];
}

/**
 * An erasure as the lake keeps it (`erasures/`): the audit record, and the tombstone the lake
 * writer applies to events received before `erasedAt` that reach it later (a stream replay, a
 * retried batch). It holds the ids' pseudonyms under every key version, never a raw id.
 */
export interface ErasureRecord {
  version: 1;
  id: string;
  project: string;
  erasedAt: string;
  /** Decimal strings, as in the stream. */
  userHashes: string[];
  anonymousHashes: string[];
  keyVersions: number[];
  /** How many ids were asked for (the ids themselves are not kept). */
  ids: number;
  status: 'started' | 'done';
  eventFilesRewritten: number;
  eventRowsRemoved: number;
  badFilesRewritten: number;
  badRowsRemoved: number;
  /** The (project, day) pairs whose rows changed: the warehouse recomputes them. */
  days: string[];
}

/** An erasure request that cannot be carried out as given. */
export class ErasureError extends TallyError {}

export const ERASURES_PREFIX = 'erasures/';

/** A row as erasure sees it: its project, pseudonyms and when the collector received it. */
interface Subject {
  project: string | null;
  userHash: bigint | null;
  anonymousHash: bigint | null;
  /** An alias' previousId under both pseudonyms: an alias naming an erased id goes too. */
  previousUserHash?: bigint | null;
  previousAnonymousHash?: bigint | null;
  receivedAt: number;
}

function named(t: { users: Set<bigint>; anonymous: Set<bigint> }, hash: bigint | null | undefined): boolean {
  return hash !== null && hash !== undefined && (t.users.has(hash) || t.anonymous.has(hash));
}

/** A set of erasures, asked of every row the lake writer is about to write. */
export class Tombstones {
  private readonly byProject = new Map<
    string,
    Array<{ at: number; users: Set<bigint>; anonymous: Set<bigint> }>
  >();

  add(record: ErasureRecord): void {
    const list = this.byProject.get(record.project) ?? [];
    list.push({
      at: Date.parse(record.erasedAt),
      users: new Set(record.userHashes.map(BigInt)),
      anonymous: new Set(record.anonymousHashes.map(BigInt)),
    });
    this.byProject.set(record.project, list);
  }

  /** True for a row of an erased person received before the erasure (`before`: any time). */
  erases(row: Subject, before = true): boolean {
    if (row.project === null) return false;
    const list = this.byProject.get(row.project);
    if (list === undefined) return false;
    return list.some(
      (t) =>
        (!before || row.receivedAt <= t.at) &&
        ((row.userHash !== null && t.users.has(row.userHash)) ||
          (row.anonymousHash !== null && t.anonymous.has(row.anonymousHash)) ||
          named(t, row.previousUserHash) ||
          named(t, row.previousAnonymousHash)),
    );
  }
}

/**
 * The erasures recorded in a lake, read again before every batch (new records only): the lake
 * writer keeps out what they cover, however late it arrives.
 */
export class ErasureLog {
  private readonly seen = new Set<string>();
  readonly tombstones = new Tombstones();

  constructor(private readonly store: ObjectStore) {}

  async refresh(): Promise<Tombstones> {
    for (const key of await this.store.list(ERASURES_PREFIX)) {
      if (this.seen.has(key) || !key.endsWith('.json')) continue;
      const bytes = await this.store.get(key);
      if (bytes === null) continue;
      this.tombstones.add(JSON.parse(Buffer.from(bytes).toString('utf8')) as ErasureRecord);
      this.seen.add(key);
    }
    return this.tombstones;
  }
}

/** An erasure request from JSON (`{"project", "userIds": [...], "anonymousIds": [...]}`), checked. */
export function erasureRequestOf(value: unknown): ErasureRequest {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const list = (name: string): string[] => {
    const ids = v[name] ?? [];
    if (!Array.isArray(ids)) throw new ErasureError('invalid_id', `${name} must be an array of strings`);
    return ids as string[];
  };
  const request = {
    project: String(v.project ?? ''),
    userIds: list('userIds'),
    anonymousIds: list('anonymousIds'),
  };
  checkRequest(request);
  return request;
}

function checkRequest(request: ErasureRequest): void {
  if (!PROJECT_ID_PATTERN.test(request.project)) {
    throw new ErasureError(
      'invalid_project',
      `project ${JSON.stringify(request.project).slice(0, 70)} does not match ${PROJECT_ID_PATTERN}`,
    );
  }
  const ids = [...request.userIds, ...request.anonymousIds];
  if (ids.length === 0) throw new ErasureError('no_ids', 'give at least one userId or anonymousId to erase');
  for (const id of ids) {
    if (typeof id !== 'string' || id === '' || !id.isWellFormed()) {
      throw new ErasureError('invalid_id', `every id must be a non-empty string, got ${typeof id}`);
    }
  }
}

function hashesOf(
  keys: readonly HashKey[],
  project: string,
  ids: readonly string[],
  hashes: ReadonlyArray<typeof identityHash>,
): string[] {
  return [
    ...new Set(
      keys.flatMap((key) => ids.flatMap((id) => hashes.map((hash) => String(hash(key, project, id))))),
    ),
  ];
}

/** `erasures/project=<p>/<epoch ms>-<random>.json`: lower-case, sortable by time. */
function recordKey(record: ErasureRecord): string {
  return `${ERASURES_PREFIX}project=${record.project}/${Date.parse(record.erasedAt)}-${record.id}.json`;
}

async function putRecord(store: ObjectStore, record: ErasureRecord): Promise<void> {
  await store.put(recordKey(record), Buffer.from(`${JSON.stringify(record, null, 2)}\n`), 'application/json');
}

export interface EraseOptions {
  store: ObjectStore;
  /** The current HMAC key and every older one rows may carry. */
  keys: readonly HashKey[];
  now: Date;
  /** Called as files are scanned, for progress output. */
  onProgress?: (scanned: number, total: number) => void;
}

/**
 * Erases people from a project's lake: records the erasure first (so the lake writer keeps their
 * late rows out from then on), rewrites every events file and bad-rows file holding their rows
 * without them (each a single atomic put of the same key), looks again for files written in the
 * meantime, then records what it did. The caller recomputes `days` in the warehouse.
 */
export async function erase(options: EraseOptions, request: ErasureRequest): Promise<ErasureRecord> {
  checkRequest(request);
  const { store, keys } = options;
  const record: ErasureRecord = {
    version: 1,
    id: randomBytes(6).toString('hex'),
    project: request.project,
    erasedAt: options.now.toISOString(),
    userHashes: hashesOf(keys, request.project, request.userIds, [identityHash]),
    // Rows written before anonymousIds had their own domain hashed them like userIds.
    anonymousHashes: hashesOf(keys, request.project, request.anonymousIds, [anonymousHash, identityHash]),
    keyVersions: keys.map((k) => k.version),
    ids: request.userIds.length + request.anonymousIds.length,
    status: 'started',
    eventFilesRewritten: 0,
    eventRowsRemoved: 0,
    badFilesRewritten: 0,
    badRowsRemoved: 0,
    days: [],
  };
  await putRecord(store, record);
  const tombstones = new Tombstones();
  tombstones.add(record);
  const days = new Set<string>();
  const done = new Set<string>();
  // Twice: the second pass takes files a batch already under way wrote during the first.
  for (let pass = 0; pass < 2; pass++) {
    const eventKeys = (await store.list(`events/project=${request.project}/`)).filter((k) => !done.has(k));
    const badKeys = (await store.list('bad/')).filter((k) => !done.has(k));
    const total = eventKeys.length + badKeys.length;
    let scanned = 0;
    for (const key of eventKeys) {
      const removed = await rewriteEvents(store, key, request.project, tombstones);
      if (removed > 0) {
        record.eventFilesRewritten++;
        record.eventRowsRemoved += removed;
        days.add(/\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1] ?? '');
      }
      done.add(key);
      options.onProgress?.(++scanned, total);
    }
    for (const key of badKeys) {
      const removed = await rewriteBadRows(store, key, tombstones);
      if (removed > 0) {
        record.badFilesRewritten++;
        record.badRowsRemoved += removed;
      }
      done.add(key);
      options.onProgress?.(++scanned, total);
    }
  }
  record.days = [...days].filter((d) => d !== '').sort();
  await putManifest(store, record, options.now.getTime());
  record.status = 'done';
  await putRecord(store, record);
  return record;
}

/**
 * A manifest naming the partitions an erasure rewrote, so the next rollup recomputes those days
 * wherever the warehouse runs (StarRocks on AWS needs nothing more from the erasure itself).
 */
async function putManifest(store: ObjectStore, record: ErasureRecord, nowMs: number): Promise<void> {
  if (record.days.length === 0) return;
  const batch = `erasure-${record.id}`;
  const manifest: Manifest = {
    version: 1,
    batch,
    shardId: 'erasure',
    firstSequenceNumber: '0',
    lastSequenceNumber: '0',
    arrivedAt: new Date(nowMs).toISOString(),
    records: 0,
    events: 0,
    duplicatesInBatch: 0,
    erased: record.eventRowsRemoved,
    files: record.days.map((dt) => ({
      key: `events/project=${record.project}/dt=${dt}/`,
      project: record.project,
      dt,
      rows: 0,
    })),
    bad: [],
    badReasons: {},
  };
  await store.put(manifestKey(nowMs, batch), encodeManifest(manifest), 'application/json');
}

async function rewriteEvents(store: ObjectStore, key: string, project: string, tombstones: Tombstones) {
  const bytes = await store.get(key);
  if (bytes === null) return 0;
  const events = parquetToEvents(bytes, project);
  const kept = events.filter((e) => !tombstones.erases(e, false));
  if (kept.length === events.length) return 0;
  await store.put(key, eventsToParquet(kept), 'application/vnd.apache.parquet');
  return events.length - kept.length;
}

async function rewriteBadRows(store: ObjectStore, key: string, tombstones: Tombstones) {
  const bytes = await store.get(key);
  if (bytes === null) return 0;
  const lines = gunzipSync(bytes)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
  const kept = lines.filter((line) => {
    const row = JSON.parse(line) as Record<string, unknown>;
    const hash = (v: unknown) => parseHash(v ?? null) ?? null;
    return !tombstones.erases(
      {
        project: typeof row.project === 'string' ? row.project : null,
        userHash: hash(row.user_hash),
        anonymousHash: hash(row.anonymous_hash),
        receivedAt: 0,
      },
      false,
    );
  });
  if (kept.length === lines.length) return 0;
  await store.put(key, gzipSync(kept.length > 0 ? `${kept.join('\n')}\n` : ''), 'application/x-ndjson');
  return lines.length - kept.length;
}

/** The (project, day) pairs an erasure changed, for the warehouse's refresh. */
export function changedDays(record: ErasureRecord): ProjectDay[] {
  return record.days.map((dt) => ({ project: record.project, dt }));
}
