import { gzipSync } from 'node:zlib';
import { type BadRow, DAY_MS, type LakeEvent, sameCopy, utcDate } from '../events.js';
import type { ErasureLog, Tombstones } from '../privacy/erasure.js';
import { CodecError, decodeRecord } from '../stream/codec.js';
import { wellFormed } from '../text.js';
import type { ProjectDay } from '../warehouse/days.js';
import { badKey, batchId, eventsKey, manifestKey } from './keys.js';
import { encodeManifest, type Manifest } from './manifest.js';
import { eventsToParquet } from './parquet.js';
import { type ObjectStore, StorageError } from './store.js';

/** One stream record as the lake writer needs it, whatever delivered it. */
export interface LakeRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  arrivalMs: number;
}

/** Lambda's partial batch response: the lowest failed sequence number, or nothing. */
export interface BatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export interface BatchOutcome {
  response: BatchResponse;
  manifest: Manifest | null;
  /** The storage error that made the batch fail, for the handler's log. */
  error: StorageError | null;
  /** Why the batch's partitions could not be registered (the batch itself was written). */
  unregistered?: string;
}

const BAD_RECORD_EXCERPT = 300;

function recordBadRow(record: LakeRecord, reason: string, message: string): BadRow {
  return {
    project: null,
    stage: 'lake',
    reason,
    message: `${message} (sequence number ${record.sequenceNumber})`,
    receivedAt: record.arrivalMs,
    eventId: null,
    payload: Buffer.from(record.data.subarray(0, BAD_RECORD_EXCERPT)).toString('base64'),
    userHash: null,
    anonymousHash: null,
  };
}

function badRowLine(b: BadRow): string {
  return JSON.stringify({
    project: b.project,
    stage: b.stage,
    reason: b.reason,
    message: wellFormed(b.message),
    received_at: new Date(b.receivedAt).toISOString(),
    event_id: b.eventId === null ? null : wellFormed(b.eventId),
    payload: b.payload === null ? null : wellFormed(b.payload),
    user_hash: b.userHash === null ? null : String(b.userHash),
    anonymous_hash: b.anonymousHash === null ? null : String(b.anonymousHash),
  });
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Events grouped by project and UTC day of their event time, in order of first appearance. */
function byProjectDay(
  events: readonly LakeEvent[],
): Array<{ project: string; dt: string; rows: LakeEvent[] }> {
  const groups: Array<{ project: string; dt: string; rows: LakeEvent[] }> = [];
  const index = new Map<string, Map<number, LakeEvent[]>>();
  for (const e of events) {
    let days = index.get(e.project);
    if (days === undefined) {
      days = new Map();
      index.set(e.project, days);
    }
    const day = Math.floor(e.eventTime / DAY_MS);
    const rows = days.get(day);
    if (rows !== undefined) rows.push(e);
    else {
      const group = { project: e.project, dt: utcDate(e.eventTime), rows: [e] };
      days.set(day, group.rows);
      groups.push(group);
    }
  }
  return groups;
}

/**
 * Splits decoded records into events and bad rows. Copies of an event identical in what orders
 * them (a redelivered record, a retried PutRecords) are written once; copies received at other
 * times (a client's resend) are all written: they count once per day by construction
 * (warehouse/people.ts, rule 1), and compaction keeps one of those alike.
 */
function decodeBatch(records: readonly LakeRecord[]): {
  events: LakeEvent[];
  bad: BadRow[];
  duplicates: number;
} {
  const events: LakeEvent[] = [];
  const bad: BadRow[] = [];
  // Event id -> index in `events` of its first copy, or of every copy, per project (no key built per event).
  const seen = new Map<string, Map<string, number | number[]>>();
  let duplicates = 0;
  for (const record of records) {
    let decoded: ReturnType<typeof decodeRecord>;
    try {
      decoded = decodeRecord(record.data);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      bad.push(recordBadRow(record, error.code, error.message));
      continue;
    }
    for (const line of decoded.invalid) {
      bad.push(recordBadRow(record, 'invalid_record', `line ${line.line}: ${line.message}`));
    }
    for (const item of decoded.items) {
      if (item.kind === 'bad') {
        bad.push(item.badRow);
        continue;
      }
      const { project, eventId } = item.event;
      let ids = seen.get(project);
      if (ids === undefined) {
        ids = new Map();
        seen.set(project, ids);
      }
      const at = ids.get(eventId);
      if (at === undefined) {
        ids.set(eventId, events.length);
        events.push(item.event);
        continue;
      }
      const copies = typeof at === 'number' ? [at] : at;
      if (copies.some((i) => sameCopy(events[i]!, item.event))) {
        duplicates++;
        continue;
      }
      ids.set(eventId, [...copies, events.length]);
      events.push(item.event);
    }
  }
  return { events, bad, duplicates };
}

/**
 * Writes one batch of stream records to the lake: a Parquet file per (project, UTC event day),
 * a gzip NDJSON file of bad rows per day, then the manifest. Every key derives from the batch's
 * shard and first sequence number, so a redelivered batch overwrites its own files.
 *
 * Undecodable or invalid records become bad rows and never fail the batch. A storage error
 * fails the whole batch (its first sequence number is reported), so the retry starts at the
 * same record, writes the same keys and leaves no duplicate behind.
 */
export async function writeBatch(
  records: readonly LakeRecord[],
  store: ObjectStore,
  options: {
    erasures?: ErasureLog;
    /**
     * Registers the `project=/dt=` partitions the batch wrote in a metastore (Glue), before the
     * manifest: Athena and StarRocks then see the rows without waiting for a rollup. A failure
     * (Glue throttling, a Lake Formation catalog) does not fail the batch: the catalog is not
     * where the events are kept, the next batch of the same partition and the rollup register it
     * again, and `npm run partitions` registers what is left; it is returned as `unregistered`.
     */
    registerPartitions?: (days: readonly ProjectDay[]) => Promise<void>;
  } = {},
): Promise<BatchOutcome> {
  const first = records[0];
  const last = records[records.length - 1];
  if (first === undefined || last === undefined)
    return { response: { batchItemFailures: [] }, manifest: null, error: null };
  const failed = (error: StorageError): BatchOutcome => ({
    response: { batchItemFailures: [{ itemIdentifier: first.sequenceNumber }] },
    manifest: null,
    error,
  });
  const batch = batchId(first.shardId, first.sequenceNumber);
  const decoded = decodeBatch(records);
  let tombstones: Tombstones | null = null;
  try {
    tombstones = (await options.erasures?.refresh()) ?? null;
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    return failed(error);
  }
  // Rows of people erased after these events were received stay out, however late they come.
  const events = tombstones ? decoded.events.filter((e) => !tombstones.erases(e)) : decoded.events;
  const bad = tombstones ? decoded.bad.filter((b) => !tombstones.erases(b)) : decoded.bad;
  const erased = decoded.events.length + decoded.bad.length - events.length - bad.length;
  const duplicates = decoded.duplicates;

  const manifest: Manifest = {
    version: 1,
    batch,
    shardId: first.shardId,
    firstSequenceNumber: first.sequenceNumber,
    lastSequenceNumber: last.sequenceNumber,
    arrivedAt: new Date(first.arrivalMs).toISOString(),
    records: records.length,
    events: events.length,
    duplicatesInBatch: duplicates,
    erased,
    files: [],
    bad: [],
    badReasons: {},
  };
  const writes: Array<() => Promise<void>> = [];
  for (const { project, dt, rows } of byProjectDay(events)) {
    const key = eventsKey(project, dt, batch);
    manifest.files.push({ key, project, dt, rows: rows.length });
    writes.push(() => store.put(key, eventsToParquet(rows), 'application/vnd.apache.parquet'));
  }
  for (const [dt, rows] of groupBy(bad, (b) => utcDate(b.receivedAt))) {
    const key = badKey(dt, batch);
    manifest.bad.push({ key, dt, rows: rows.length });
    for (const row of rows) {
      manifest.badReasons[row.reason] = (manifest.badReasons[row.reason] ?? 0) + 1;
      if (row.project !== null) {
        const byProject = manifest.badByProject ?? {};
        const byReason = byProject[row.project] ?? {};
        byReason[row.reason] = (byReason[row.reason] ?? 0) + 1;
        byProject[row.project] = byReason;
        manifest.badByProject = byProject;
      }
    }
    writes.push(() =>
      store.put(key, gzipSync(`${rows.map(badRowLine).join('\n')}\n`), 'application/x-ndjson'),
    );
  }
  let unregistered: string | undefined;
  try {
    // Every write settles before the batch answers, failed or not: a write still in flight when
    // the batch is retried (at once by a redelivery, or on a thawed Lambda) could land after the
    // retry's and put an older version of a file back under the same key.
    const settled = await Promise.allSettled(writes.map((write) => Promise.resolve().then(write)));
    const refused = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused) throw refused.reason;
    if (options.registerPartitions && manifest.files.length > 0) {
      const days = manifest.files.map((f) => ({ project: f.project, dt: f.dt }));
      unregistered = await options.registerPartitions(days).then(
        () => undefined,
        (error: unknown) => (error as Error)?.message ?? String(error),
      );
    }
    await store.put(manifestKey(first.arrivalMs, batch), encodeManifest(manifest), 'application/json');
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    return failed(error);
  }
  return {
    response: { batchItemFailures: [] },
    manifest,
    error: null,
    ...(unregistered === undefined ? {} : { unregistered }),
  };
}
