import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync } from 'node:zlib';
import { TallyError } from '../errors.js';
import { type BadRow, type BadRowStage, COUNTRY_CODE, isEventType, type LakeEvent } from '../events.js';
import { PROJECT_ID_PATTERN } from '../ingest/limits.js';
import { BACKSLASH, CLOSE_OBJECT, COMMA, NEWLINE, OPEN_OBJECT, QUOTE } from '../json-chars.js';

/**
 * Stream record format, version 2:
 *   byte 0      0x02 (format version)
 *   bytes 1..   Brotli (RFC 7932) of UTF-8 text lines:
 *     an event is three lines:
 *       {"k":"e","project","event_id","type","event","user_hash","anonymous_hash","event_time",
 *        "received_at","key_version","flags","channel"[,"country"][,"previous_user_hash","previous_anonymous_hash"]}
 *       (hashes as decimal strings, times epoch ms; "channel" may be absent in records written
 *        before it existed, "country" (ISO 3166-1 alpha-2) is written when known, and the
 *        previous_* hashes are written for aliases only: absent reads as null)
 *       the properties as JSON text, or an empty line for none
 *       the context as JSON text, or an empty line for none
 *     a bad row is one line:
 *       {"k":"b","project","stage","reason","message","received_at","event_id","payload",
 *        "user_hash","anonymous_hash"}   (the hashes may be absent in older records: null)
 * Properties and context are the JSON the collector serialized (which never holds a raw newline),
 * carried verbatim: nothing escapes them on the way in or parses them on the way out.
 * Many items per record keep Kinesis PUT units and shard limits (and the emulator) cheap.
 * Version 1 is the same text in gzip: records written by earlier collectors are still read.
 * Brotli at quality 1 compresses this text about twice as fast as gzip at level 1, and smaller
 * (`npm run bench` prints both).
 */
export const RECORD_FORMAT_VERSION = 2;
/** The format of records written before Brotli: gzip of the same lines. */
const GZIP_RECORD_FORMAT_VERSION = 1;
/** Kinesis' limit for one record's data. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Uncompressed NDJSON per record; gzip never grows text by more than a few bytes per 16 KB. */
const MAX_RECORD_NDJSON_BYTES = 1_000_000;
/** Brotli's second fastest quality: on this text as fast as its fastest, and a quarter smaller. */
const BROTLI_QUALITY = 1;

export type StreamItem =
  | { kind: 'event'; event: LakeEvent; bytes?: EventBytes }
  | { kind: 'bad'; badRow: BadRow };

/**
 * Where an event's properties and context lines already sit as UTF-8 (an ASCII request body, whose
 * character offsets are byte offsets): copied from there instead of encoded again. Each must
 * hold exactly the UTF-8 of the event's string it stands for.
 */
export interface EventBytes {
  buffer: Buffer;
  /** The properties line's bytes, [propertiesStart, propertiesEnd); -1: write `event.properties`. */
  propertiesStart: number;
  propertiesEnd: number;
  /** The context line's bytes, [contextStart, contextEnd); -1: write `event.context`. */
  contextStart: number;
  contextEnd: number;
  /** Or the context as [start, end) pairs of runs of its members, written between braces. */
  contextKept: readonly number[] | null;
}

/** A stream record that cannot be read at all. */
export class CodecError extends TallyError {}

/** A JSON string literal: printable ASCII without quote or backslash goes as it is (ids, names). */
function quote(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/** The members of an event's first line that every event of a request shares, and what they were built from. */
let shared = { project: '', receivedAt: -1, keyVersion: -1, text: '' };

/** An event's first line (built by hand: cheaper than stringifying an object per event), newline included. */
function eventHeader(e: LakeEvent): string {
  if (
    e.project !== shared.project ||
    e.receivedAt !== shared.receivedAt ||
    e.keyVersion !== shared.keyVersion
  ) {
    const text = `{"k":"e","project":${quote(e.project)},"received_at":${e.receivedAt},"key_version":${e.keyVersion}`;
    shared = { project: e.project, receivedAt: e.receivedAt, keyVersion: e.keyVersion, text };
  }
  return (
    `${shared.text},"event_id":${quote(e.eventId)},"type":"${e.type}"` +
    `,"event":${e.event === null ? 'null' : quote(e.event)}` +
    `,"user_hash":${e.userHash === null ? 'null' : `"${e.userHash}"`}` +
    `,"anonymous_hash":${e.anonymousHash === null ? 'null' : `"${e.anonymousHash}"`}` +
    `,"event_time":${e.eventTime},"flags":${e.flags === null ? 'null' : quote(e.flags)}` +
    `,"channel":${e.channel === null ? 'null' : quote(e.channel)}` +
    (e.country == null ? '' : `,"country":${quote(e.country)}`) +
    (e.previousUserHash == null ? '' : `,"previous_user_hash":"${e.previousUserHash}"`) +
    (e.previousAnonymousHash == null ? '' : `,"previous_anonymous_hash":"${e.previousAnonymousHash}"`) +
    '}\n'
  );
}

function badLine(b: BadRow): string {
  return JSON.stringify({
    k: 'b',
    project: b.project,
    stage: b.stage,
    reason: b.reason,
    message: b.message,
    received_at: b.receivedAt,
    event_id: b.eventId,
    payload: b.payload,
    user_hash: b.userHash === null ? null : String(b.userHash),
    anonymous_hash: b.anonymousHash === null ? null : String(b.anonymousHash),
  });
}

function pack(text: Uint8Array): Buffer {
  const body = brotliCompressSync(text, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: text.length,
    },
  });
  return Buffer.concat([Buffer.of(RECORD_FORMAT_VERSION), body]);
}

/**
 * Where records' text is written before compression, reused from one call to the next (the
 * text never leaves `encodeRecords`): room for a full record and the item that overflows it.
 */
let scratch = Buffer.allocUnsafe(2 * MAX_RECORD_NDJSON_BYTES);

/** Writes `text` as UTF-8 at `at`; returns where it ends. */
function put(text: string, at: number): number {
  return at + scratch.write(text, at);
}

/** Writes one item's lines at `at` (UTF-8 takes at most 3 bytes per UTF-16 unit); returns where it ends. */
function putItem(item: StreamItem, at: number): number {
  if (item.kind === 'bad') return put(badLine(item.badRow), at);
  const e = item.event;
  const bytes = item.bytes;
  at = put(eventHeader(e), at);
  if (bytes !== undefined && bytes.propertiesStart >= 0)
    at = copy(bytes.buffer, bytes.propertiesStart, bytes.propertiesEnd, at);
  else if (e.properties !== null) at = put(e.properties, at);
  scratch[at++] = NEWLINE;
  if (bytes === undefined || bytes.contextStart < 0) return e.context === null ? at : put(e.context, at);
  const kept = bytes.contextKept;
  if (kept === null) return copy(bytes.buffer, bytes.contextStart, bytes.contextEnd, at);
  scratch[at++] = OPEN_OBJECT;
  for (let i = 0; i < kept.length; i += 2) {
    if (i > 0) scratch[at++] = COMMA;
    at = copy(bytes.buffer, kept[i]!, kept[i + 1]!, at);
  }
  scratch[at++] = CLOSE_OBJECT;
  return at;
}

/** Copies bytes `start`..`end` of `buffer` to `at`; returns where they end. */
function copy(buffer: Buffer, start: number, end: number, at: number): number {
  scratch.set(buffer.subarray(start, end), at);
  return at + end - start;
}

/**
 * An upper bound of an item's UTF-8 bytes: 6 per UTF-16 unit of its strings (a character JSON
 * escapes takes 6, any other at most 3), and room for the rest.
 */
function itemBound(item: StreamItem): number {
  let units = 0;
  if (item.kind === 'bad') {
    const b = item.badRow;
    units = (b.project?.length ?? 0) + b.reason.length + b.message.length + (b.eventId?.length ?? 0);
    units += b.payload?.length ?? 0;
  } else {
    const e = item.event;
    units = e.project.length + e.eventId.length + (e.event?.length ?? 0) + (e.flags?.length ?? 0);
    units += (e.channel?.length ?? 0) + (e.properties?.length ?? 0) + (e.context?.length ?? 0);
  }
  return 6 * units + 512;
}

/**
 * Encodes items into as few records as fit the 1 MiB record limit, keeping their order: the
 * lines are written straight into one buffer as UTF-8 (no string per record), and an item that
 * takes a record's text past its limit is moved to the next record.
 */
export function encodeRecords(items: readonly StreamItem[]): Buffer[] {
  const records: Buffer[] = [];
  let at = 0;
  let count = 0;
  for (const item of items) {
    const bound = itemBound(item);
    if (at + 1 + bound > scratch.length) {
      // Never for items the collector writes (an event is at most 32 KB): room is made anyway.
      const grown = Buffer.allocUnsafe(at + 1 + bound);
      scratch.copy(grown, 0, 0, at);
      scratch = grown;
    }
    const start = at;
    if (count > 0) scratch[at++] = NEWLINE;
    at = putItem(item, at);
    count++;
    if (at > MAX_RECORD_NDJSON_BYTES && count > 1) {
      records.push(pack(scratch.subarray(0, start)));
      // The item starts the next record (without the newline that separated it).
      scratch.copyWithin(0, start + 1, at);
      at -= start + 1;
      count = 1;
    }
  }
  if (count > 0) records.push(pack(scratch.subarray(0, at)));
  return records;
}

/**
 * A bundle: records of several requests in one stream record (the container's server puts the
 * small records of concurrent requests together, so each stream record fills a 25 KB PUT payload
 * unit). Byte 0 is BUNDLE_FORMAT_VERSION, then each record as a 4-byte big-endian length and its
 * bytes; a bundle never holds a bundle.
 */
export const BUNDLE_FORMAT_VERSION = 3;

/** The records as one bundle record. */
export function bundleRecords(records: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(1 + records.reduce((n, r) => n + 4 + r.length, 0));
  out[0] = BUNDLE_FORMAT_VERSION;
  let at = 1;
  for (const r of records) {
    out.writeUInt32BE(r.length, at);
    out.set(r, at + 4);
    at += 4 + r.length;
  }
  return out;
}

/** The records a bundle holds; CodecError when its lengths do not add up. */
function unbundle(data: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 1; at < view.length; ) {
    const length = at + 4 <= view.length ? view.readUInt32BE(at) : -1;
    if (length < 2 || at + 4 + length > view.length) {
      throw new CodecError('undecodable_record', `bundle is cut at byte ${at} of ${view.length}`);
    }
    const part = view.subarray(at + 4, at + 4 + length);
    if (part[0] === BUNDLE_FORMAT_VERSION) {
      throw new CodecError('undecodable_record', 'a bundle holds another bundle');
    }
    parts.push(part);
    at += 4 + length;
  }
  return parts;
}

/**
 * The text lines of a record (any format version; a bundle's records one after another),
 * decompressed with its size capped. Throws CodecError when the version is unknown or the body
 * does not decompress.
 */
export function recordText(data: Uint8Array): string {
  if (data[0] === BUNDLE_FORMAT_VERSION && data.length > 1) {
    return unbundle(data)
      .map((part) => recordText(part))
      .join('\n');
  }
  const version = data[0];
  if (data.length < 2 || (version !== RECORD_FORMAT_VERSION && version !== GZIP_RECORD_FORMAT_VERSION)) {
    throw new CodecError(
      'undecodable_record',
      `unknown record format version ${version ?? 'none'} (expected ${GZIP_RECORD_FORMAT_VERSION}, ${RECORD_FORMAT_VERSION} or ${BUNDLE_FORMAT_VERSION})`,
    );
  }
  const body = data.subarray(1);
  const maxOutputLength = 4 * MAX_RECORD_NDJSON_BYTES;
  try {
    const text =
      version === RECORD_FORMAT_VERSION
        ? brotliDecompressSync(body, { maxOutputLength })
        : gunzipSync(body, { maxOutputLength });
    return text.toString('utf8');
  } catch (error) {
    const format = version === RECORD_FORMAT_VERSION ? 'Brotli' : 'gzip';
    throw new CodecError(
      'undecodable_record',
      `record body is not valid ${format}: ${(error as Error).message}`,
    );
  }
}

const HASH = /^(0|[1-9]\d{0,18})$/;
const MAX_HASH = 0x7fff_ffff_ffff_ffffn;

function str(v: unknown): v is string {
  return typeof v === 'string';
}
function strOrNull(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}
function time(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
/** A hash as the stream and bad rows write it (decimal text), null for none, undefined when malformed. */
export function parseHash(v: unknown): bigint | null | undefined {
  if (v === null) return null;
  if (typeof v !== 'string' || !HASH.test(v)) return undefined;
  const n = BigInt(v);
  return n <= MAX_HASH ? n : undefined;
}

function toEvent(
  o: Record<string, unknown>,
  properties: string | null,
  context: string | null,
): LakeEvent | string {
  if (!str(o.project) || !PROJECT_ID_PATTERN.test(o.project)) return 'project';
  if (!str(o.event_id) || o.event_id === '') return 'event_id';
  if (!isEventType(o.type)) return 'type';
  if (!strOrNull(o.event)) return 'event';
  const userHash = parseHash(o.user_hash);
  const anonymousHash = parseHash(o.anonymous_hash);
  if (userHash === undefined) return 'user_hash';
  if (anonymousHash === undefined) return 'anonymous_hash';
  if (userHash === null && anonymousHash === null) return 'user_hash';
  const previousUserHash = parseHash(o.previous_user_hash ?? null);
  const previousAnonymousHash = parseHash(o.previous_anonymous_hash ?? null);
  if (previousUserHash === undefined) return 'previous_user_hash';
  if (previousAnonymousHash === undefined) return 'previous_anonymous_hash';
  if (!time(o.event_time)) return 'event_time';
  if (!time(o.received_at)) return 'received_at';
  if (typeof o.key_version !== 'number' || !Number.isInteger(o.key_version)) return 'key_version';
  if (!strOrNull(o.flags)) return 'flags';
  const channel = o.channel ?? null;
  if (!strOrNull(channel)) return 'channel';
  const country = o.country ?? null;
  if (country !== null && (typeof country !== 'string' || !COUNTRY_CODE.test(country))) return 'country';
  return {
    project: o.project,
    eventId: o.event_id,
    type: o.type,
    event: o.event,
    userHash,
    anonymousHash,
    previousUserHash,
    previousAnonymousHash,
    eventTime: o.event_time,
    receivedAt: o.received_at,
    properties,
    context,
    keyVersion: o.key_version,
    flags: o.flags,
    channel,
    country,
  };
}

function toBadRow(o: Record<string, unknown>): BadRow | string {
  if (!strOrNull(o.project)) return 'project';
  if (o.stage !== 'collect' && o.stage !== 'lake') return 'stage';
  if (!str(o.reason)) return 'reason';
  if (!str(o.message)) return 'message';
  if (!time(o.received_at)) return 'received_at';
  if (!strOrNull(o.event_id)) return 'event_id';
  if (!strOrNull(o.payload)) return 'payload';
  const userHash = parseHash(o.user_hash ?? null);
  const anonymousHash = parseHash(o.anonymous_hash ?? null);
  if (userHash === undefined) return 'user_hash';
  if (anonymousHash === undefined) return 'anonymous_hash';
  return {
    project: o.project,
    stage: o.stage as BadRowStage,
    reason: o.reason,
    message: o.message,
    receivedAt: o.received_at,
    eventId: o.event_id,
    payload: o.payload,
    userHash,
    anonymousHash,
  };
}

/**
 * A properties or context line: empty for none, else a JSON object's text. The line is trusted
 * past this shape check (gzip's CRC guards the bytes; the collector wrote it with JSON.stringify).
 */
function jsonText(line: string | undefined): string | null | undefined {
  if (line === undefined) return undefined;
  if (line === '') return null;
  return line.startsWith('{') && line.endsWith('}') ? line : undefined;
}

/** One line of a record that decoded but is not a valid item. */
export interface InvalidLine {
  line: number;
  message: string;
  excerpt: string;
}

export interface DecodedRecord {
  items: StreamItem[];
  invalid: InvalidLine[];
}

/** How many lines the last `decodeItem` took, valid or not (an event takes three). */
let taken = 1;

/**
 * Decodes the item whose first line is `lines[index]` into `items`; returns null, or what is
 * wrong with that item. Sets `taken`.
 */
function decodeItem(lines: readonly string[], index: number, items: StreamItem[]): string | null {
  taken = 1;
  let parsed: unknown;
  try {
    parsed = JSON.parse(lines[index]!);
  } catch {
    return 'line is not JSON';
  }
  const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (o.k === 'b') {
    const badRow = toBadRow(o);
    if (typeof badRow === 'string') return `field ${badRow} is missing or invalid`;
    items.push({ kind: 'bad', badRow });
    return null;
  }
  if (o.k !== 'e') return 'field k is missing or invalid';
  const properties = jsonText(lines[index + 1]);
  const context = jsonText(lines[index + 2]);
  if (properties === undefined || context === undefined)
    return 'event is not followed by its properties and context lines';
  taken = 3;
  const event = toEvent(o, properties, context);
  if (typeof event === 'string') return `field ${event} is missing or invalid`;
  items.push({ kind: 'event', event });
  return null;
}

/**
 * Decodes one stream record. Throws CodecError when the record as a whole cannot be read
 * (unknown version, broken compression); a line that is not a valid item is reported in `invalid`
 * and the other lines are kept.
 */
export function decodeRecord(data: Uint8Array): DecodedRecord {
  const text = recordText(data);
  const items: StreamItem[] = [];
  const invalid: InvalidLine[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += taken) {
    const problem = decodeItem(lines, index, items);
    if (problem !== null)
      invalid.push({ line: index, message: problem, excerpt: lines[index]!.slice(0, 200) });
  }
  return { items, invalid };
}
