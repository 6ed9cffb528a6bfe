import {
  type Data,
  Field,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  tableFromIPC,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import {
  Compression,
  readParquet,
  Table as WasmTable,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm/node';
import type { LakeEvent } from '../events.js';

/**
 * Columns of an events file. `project` and `dt` are hive partition columns taken from the
 * path, never stored in the file (readers would silently replace an in-file column).
 * Timestamps are UTC-adjusted milliseconds, so every reader agrees on the instant.
 */
export const EVENTS_SCHEMA = new Schema([
  new Field('event_id', new Utf8(), false),
  new Field('type', new Utf8(), false),
  new Field('event', new Utf8(), true),
  new Field('user_hash', new Int64(), true),
  new Field('anonymous_hash', new Int64(), true),
  new Field('event_time', new TimestampMillisecond('UTC'), false),
  new Field('received_at', new TimestampMillisecond('UTC'), false),
  new Field('properties', new Utf8(), true),
  new Field('context', new Utf8(), true),
  new Field('key_version', new Int32(), false),
  new Field('flags', new Utf8(), true),
  new Field('channel', new Utf8(), true),
  new Field('previous_user_hash', new Int64(), true),
  new Field('previous_anonymous_hash', new Int64(), true),
]);

function validity(isNull: (i: number) => boolean, n: number): { nullBitmap?: Uint8Array; nullCount: number } {
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) nullCount++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return nullCount === 0 ? { nullCount } : { nullBitmap: bitmap, nullCount };
}

function utf8(values: ReadonlyArray<string | null>): Data<Utf8> {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let buffer = Buffer.allocUnsafe(Math.max(1024, n * 32));
  let end = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined && v.length > 0) {
      // Worst case 3 bytes per UTF-16 unit; Buffer#write is faster than TextEncoder#encodeInto here.
      const need = end + v.length * 3;
      if (need > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, buffer.length * 2));
        buffer.copy(grown, 0, 0, end);
        buffer = grown;
      }
      end += buffer.write(v, end);
    }
    offsets[i + 1] = end;
  }
  return makeData({
    type: new Utf8(),
    length: n,
    valueOffsets: offsets,
    data: buffer.subarray(0, end),
    ...validity((i) => values[i] === null, n),
  });
}

function int64(values: ReadonlyArray<bigint | null>): Data<Int64> {
  const data = new BigInt64Array(values.length);
  values.forEach((v, i) => {
    if (v !== null) data[i] = v;
  });
  return makeData({
    type: new Int64(),
    length: values.length,
    data,
    ...validity((i) => values[i] === null, values.length),
  });
}

function timestamp(values: readonly number[]): Data<TimestampMillisecond> {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return makeData({ type: new TimestampMillisecond('UTC'), length: values.length, data, nullCount: 0 });
}

/** Builds the Arrow table of an events file with typed arrays directly (no per-value boxing). */
export function eventsTable(events: readonly LakeEvent[]): Table {
  const n = events.length;
  const children = [
    utf8(events.map((e) => e.eventId)),
    utf8(events.map((e) => e.type)),
    utf8(events.map((e) => e.event)),
    int64(events.map((e) => e.userHash)),
    int64(events.map((e) => e.anonymousHash)),
    timestamp(events.map((e) => e.eventTime)),
    timestamp(events.map((e) => e.receivedAt)),
    utf8(events.map((e) => e.properties)),
    utf8(events.map((e) => e.context)),
    makeData({
      type: new Int32(),
      length: n,
      data: Int32Array.from(events, (e) => e.keyVersion),
      nullCount: 0,
    }),
    utf8(events.map((e) => e.flags)),
    utf8(events.map((e) => e.channel)),
    int64(events.map((e) => e.previousUserHash ?? null)),
    int64(events.map((e) => e.previousAnonymousHash ?? null)),
  ];
  const struct = makeData({ type: new Struct(EVENTS_SCHEMA.fields), length: n, children, nullCount: 0 });
  return new Table([new RecordBatch(EVENTS_SCHEMA, struct)]);
}

const UNIQUE_COLUMNS = [
  'event_id',
  'user_hash',
  'anonymous_hash',
  'event_time',
  'received_at',
  'properties',
  'context',
];

/** One Parquet file (ZSTD) holding these events. */
export function eventsToParquet(events: readonly LakeEvent[]): Uint8Array {
  // Built per call: writeParquet takes ownership of the WASM-side properties object.
  let builder = new WriterPropertiesBuilder().setCompression(Compression.ZSTD);
  // Unique per row: a dictionary would cost time and fall back to plain encoding anyway.
  for (const column of UNIQUE_COLUMNS) builder = builder.setColumnDictionaryEnabled(column, false);
  const properties = builder.build();
  const ipc = tableToIPC(eventsTable(events), 'stream');
  return writeParquet(WasmTable.fromIPCStream(ipc), properties);
}

/**
 * Reads an events file back into events (`project` comes from its path, as for every reader).
 * Files written before a column existed read that column as null.
 */
export function parquetToEvents(bytes: Uint8Array, project: string): LakeEvent[] {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const column = (name: string) => table.getChild(name);
  const text = (name: string) => {
    const c = column(name);
    return (i: number): string | null => (c ? ((c.get(i) as string | null) ?? null) : null);
  };
  const big = (name: string) => {
    const c = column(name);
    return (i: number): bigint | null => {
      const v = c?.get(i) as bigint | number | null | undefined;
      return v === null || v === undefined ? null : BigInt(v);
    };
  };
  const eventId = text('event_id');
  const type = text('type');
  const event = text('event');
  const userHash = big('user_hash');
  const anonymousHash = big('anonymous_hash');
  const eventTime = big('event_time');
  const receivedAt = big('received_at');
  const properties = text('properties');
  const context = text('context');
  const keyVersion = column('key_version');
  const flags = text('flags');
  const channel = text('channel');
  const previousUserHash = big('previous_user_hash');
  const previousAnonymousHash = big('previous_anonymous_hash');
  return Array.from({ length: table.numRows }, (_, i) => ({
    project,
    eventId: eventId(i) ?? '',
    type: type(i) as LakeEvent['type'],
    event: event(i),
    userHash: userHash(i),
    anonymousHash: anonymousHash(i),
    eventTime: Number(eventTime(i)),
    receivedAt: Number(receivedAt(i)),
    properties: properties(i),
    context: context(i),
    keyVersion: Number(keyVersion?.get(i) ?? 0),
    flags: flags(i),
    channel: channel(i),
    previousUserHash: previousUserHash(i),
    previousAnonymousHash: previousAnonymousHash(i),
  }));
}
