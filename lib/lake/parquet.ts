import {
  Bool,
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
import { type Enriched, enrich } from '../enrich/context.js';
import type { LakeEvent } from '../events.js';

/** The enrichment's text columns (`enrich/context.ts`) and the members of `Enriched` they hold. */
const ENRICHED_TEXT: ReadonlyArray<[string, Exclude<keyof Enriched, 'bot'>]> = [
  ['platform', 'platform'],
  ['os', 'os'],
  ['browser', 'browser'],
  ['device_type', 'deviceType'],
  ['app_version', 'appVersion'],
  ['library', 'library'],
  ['utm_source', 'utmSource'],
  ['utm_medium', 'utmMedium'],
  ['utm_campaign', 'utmCampaign'],
  ['referrer_domain', 'referrerDomain'],
];

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
  new Field('country', new Utf8(), true),
  ...ENRICHED_TEXT.map(([name]) => new Field(name, new Utf8(), true)),
  new Field('bot', new Bool(), true),
]);

/**
 * An event's enrichment as its row holds it: what it carries (read back from a file), else what
 * `enrich` finds in its context now, with the markers of what was cut or ignored in its flags.
 */
function enrichedRow(e: LakeEvent): { enriched: Enriched; flags: string | null } {
  if (e.enriched !== undefined) return { enriched: e.enriched, flags: e.flags };
  const { markers, ...enriched } = enrich(e.context, e.channel);
  const flags =
    markers.length === 0 ? e.flags : [...(e.flags === null ? [] : [e.flags]), ...markers].join(',');
  return { enriched, flags };
}

function bools(values: ReadonlyArray<boolean | null>): Data<Bool> {
  const n = values.length;
  const data = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (values[i] === true) data[i >> 3]! |= 1 << (i & 7);
  return makeData({ type: new Bool(), length: n, data, ...validity((i) => values[i] === null, n) });
}

function validity(isNull: (i: number) => boolean, n: number): { nullBitmap?: Uint8Array; nullCount: number } {
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) nullCount++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return nullCount === 0 ? { nullCount } : { nullBitmap: bitmap, nullCount };
}

/** UTF-8 bytes of strings one after the other, and where each ends, for an Arrow column. */
function utf8Bytes(values: ReadonlyArray<string | null>): { data: Uint8Array; offsets: Int32Array } {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  // Sized for ASCII (a byte per UTF-16 unit): grown, by measuring, only for text beyond it.
  let total = 0;
  for (let i = 0; i < n; i++) total += values[i]?.length ?? 0;
  let buffer = Buffer.allocUnsafe(total + 1024);
  let end = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined && v.length > 0) {
      if (end + v.length * 3 > buffer.length) {
        const need = end + Buffer.byteLength(v);
        if (need > buffer.length) {
          const grown = Buffer.allocUnsafe(Math.max(need, buffer.length * 2));
          buffer.copy(grown, 0, 0, end);
          buffer = grown;
        }
      }
      // Buffer#write is faster than TextEncoder#encodeInto here.
      end += buffer.write(v, end);
    }
    offsets[i + 1] = end;
  }
  return { data: buffer.subarray(0, end), offsets };
}

function utf8(values: ReadonlyArray<string | null>): Data<Utf8> {
  const { data, offsets } = utf8Bytes(values);
  return makeData({
    type: new Utf8(),
    length: values.length,
    valueOffsets: offsets,
    data,
    ...validity((i) => values[i] === null, values.length),
  });
}

/** A nullable int64 column being filled: values, and which are null. */
class Int64Column {
  readonly data: BigInt64Array;
  readonly isNull: Uint8Array;
  nulls = 0;
  constructor(n: number) {
    this.data = new BigInt64Array(n);
    this.isNull = new Uint8Array(n);
  }
  set(i: number, v: bigint | null | undefined): void {
    if (v === null || v === undefined) {
      this.isNull[i] = 1;
      this.nulls++;
    } else this.data[i] = v;
  }
  toData(): Data<Int64> {
    const n = this.data.length;
    const nullity = this.nulls === 0 ? { nullCount: 0 } : validity((i) => this.isNull[i] === 1, n);
    return makeData({ type: new Int64(), length: n, data: this.data, ...nullity });
  }
}

/** Milliseconds (non-negative safe integers) as little-endian int64 words, without a BigInt each. */
function setMillis(words: Uint32Array, i: number, v: number): void {
  words[2 * i] = v % 0x1_0000_0000;
  words[2 * i + 1] = Math.floor(v / 0x1_0000_0000);
}

function timestamp(words: Uint32Array): Data<TimestampMillisecond> {
  const data = new BigInt64Array(words.buffer);
  return makeData({ type: new TimestampMillisecond('UTC'), length: data.length, data, nullCount: 0 });
}

/** Builds the Arrow table of an events file with typed arrays directly (no per-value boxing), in one pass. */
export function eventsTable(events: readonly LakeEvent[]): Table {
  const n = events.length;
  const eventId = new Array<string>(n);
  const type = new Array<string>(n);
  const name = new Array<string | null>(n);
  const properties = new Array<string | null>(n);
  const context = new Array<string | null>(n);
  const flags = new Array<string | null>(n);
  const channel = new Array<string | null>(n);
  const userHash = new Int64Column(n);
  const anonymousHash = new Int64Column(n);
  const previousUserHash = new Int64Column(n);
  const previousAnonymousHash = new Int64Column(n);
  const eventTime = new Uint32Array(2 * n);
  const receivedAt = new Uint32Array(2 * n);
  const keyVersion = new Int32Array(n);
  const country = new Array<string | null>(n);
  const texts = ENRICHED_TEXT.map(() => new Array<string | null>(n));
  const bot = new Array<boolean | null>(n);
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    const row = enrichedRow(e);
    country[i] = e.country ?? null;
    for (let c = 0; c < ENRICHED_TEXT.length; c++) texts[c]![i] = row.enriched[ENRICHED_TEXT[c]![1]];
    bot[i] = row.enriched.bot;
    eventId[i] = e.eventId;
    type[i] = e.type;
    name[i] = e.event;
    properties[i] = e.properties;
    context[i] = e.context;
    flags[i] = row.flags;
    channel[i] = e.channel;
    userHash.set(i, e.userHash);
    anonymousHash.set(i, e.anonymousHash);
    previousUserHash.set(i, e.previousUserHash);
    previousAnonymousHash.set(i, e.previousAnonymousHash);
    setMillis(eventTime, i, e.eventTime);
    setMillis(receivedAt, i, e.receivedAt);
    keyVersion[i] = e.keyVersion;
  }
  const children = [
    utf8(eventId),
    utf8(type),
    utf8(name),
    userHash.toData(),
    anonymousHash.toData(),
    timestamp(eventTime),
    timestamp(receivedAt),
    utf8(properties),
    utf8(context),
    makeData({ type: new Int32(), length: n, data: keyVersion, nullCount: 0 }),
    utf8(flags),
    utf8(channel),
    previousUserHash.toData(),
    previousAnonymousHash.toData(),
    utf8(country),
    ...texts.map((values) => utf8(values)),
    bools(bot),
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
  const country = text('country');
  // Files written before the enrichment columns existed are enriched again when rewritten.
  const enrichedTexts = column('platform')
    ? ENRICHED_TEXT.map(([name, key]) => [key, text(name)] as const)
    : null;
  const bot = column('bot');
  const enriched = (i: number): Enriched | undefined => {
    if (enrichedTexts === null) return undefined;
    const row = Object.fromEntries(enrichedTexts.map(([key, read]) => [key, read(i)]));
    const flag = bot?.get(i) as boolean | null | undefined;
    return { ...row, bot: flag ?? null } as Enriched;
  };
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
    country: country(i),
    enriched: enriched(i),
  }));
}
