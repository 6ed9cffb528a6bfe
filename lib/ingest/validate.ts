import { createHmac } from 'node:crypto';
import { type BadRow, type EventType, isEventType, type LakeEvent } from '../events.js';
import type { EventBytes } from '../stream/codec.js';
import { codePointLength, truncateCodePoints, wellFormed } from '../text.js';
import type { CompactEvent } from './compact.js';
import { type EventLayout, scanBody } from './layout.js';
import {
  MAX_CHANNEL_LENGTH,
  MAX_EVENT_BYTES,
  MAX_EVENT_DEPTH,
  MAX_EVENT_NAME_LENGTH,
  MAX_ID_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
} from './limits.js';
import { anonymousHash, type HashKey, identityHash, type Pseudonyms } from './pseudonymize.js';
import { holdsIpOrTraits, isPlainObject, redactedExcerpt, stripContext } from './redact.js';
import { correctEventTime, parseTimestamp } from './skew.js';

/** What every event of one request shares. */
export interface RequestContext {
  project: string;
  key: HashKey;
  receivedAt: number;
  /** Batch-level `sentAt` (analytics-node puts it there), epoch ms. */
  batchSentAt: number | null;
  /** The type implied by the route (`/v1/track`), or null for `/v1/batch`. */
  routeType: EventType | null;
  /** The pseudonyms of the request's rows, set on them once every event is validated. */
  pseudonyms: Pseudonyms;
  /**
   * The country of an event: of its `context.ip` when that is text (a server-side caller may
   * send it), else of the address the request came from. Neither address is kept.
   */
  countryOf(contextIp: unknown): string | null;
}

export type EventResult = { ok: true; event: LakeEvent; bytes?: EventBytes } | { ok: false; badRow: BadRow };

/** The body text an event was parsed from, and where it sits there. */
export interface EventSource {
  text: string;
  layout: EventLayout;
}

/** Why one event was refused: a stable code and a message naming the bad value. */
class Reject {
  constructor(
    readonly reason: string,
    readonly message: string,
  ) {}
}

/** Where in an event a value sits, for messages: `properties.items[2].price`. */
function pathOf(keys: readonly string[]): string {
  return keys.reduce((p, k) => (/^\d+$/.test(k) ? `${p}[${k}]` : p === '' ? k : `${p}.${k}`), '');
}

/**
 * One walk over an event (recursion bounded by `max`) for what it must not hold: nesting deeper
 * than `max`; text with a lone surrogate (no UTF-8 form: readers would see U+FFFD or refuse the
 * file); numbers beyond the double range (parse turns them into Infinity, stringify into null).
 * Numbers with more digits than a double keeps are found in the body text (`exact-numbers.ts`).
 */
function inspect(value: object, max: number, keys: string[] = []): Reject | null {
  if (max === 0) return new Reject('too_deep', `the event nests deeper than ${MAX_EVENT_DEPTH} levels`);
  const top = keys.length === 0;
  for (const key in value) {
    visited++;
    const child = (value as Record<string, unknown>)[key];
    const before = visited;
    // `keys` is one stack for the whole walk: the path is only spelled out for a refusal.
    keys.push(key);
    if (typeof child === 'string' && !child.isWellFormed()) {
      const field = keys[0] === 'context' ? DERIVED_MEMBERS[keys.join('.')] : undefined;
      if (field === undefined) return loneSurrogate(keys);
      // Only that member goes, as a member of the wrong type would: the event stays.
      delete (value as Record<string, unknown>)[key];
      ignoredMembers.push(`${field}_ignored`);
      keys.pop();
      continue;
    }
    if (typeof child === 'number' && !Number.isFinite(child)) {
      return new Reject(
        'invalid_number',
        `${pathOf(keys)} is beyond the range of a JSON number (read as infinity): send it as a string`,
      );
    }
    if (typeof child === 'object' && child !== null) {
      const found = inspect(child, max - 1, keys);
      if (found) return found;
      if (top && key === 'properties') propertiesVisited = visited - before;
      if (top && key === 'context') contextVisited = visited - before;
    }
    if (!key.isWellFormed()) return loneSurrogate(keys);
    keys.pop();
  }
  return null;
}

/**
 * Object members and array elements `inspect` went through, and those inside the event's
 * properties and context (compared with the body's layout, `layout.ts`).
 */
let visited = 0;
let propertiesVisited = 0;
let contextVisited = 0;
/** Markers of the context members `inspect` left out (`user_agent_ignored`...), for the row's flags. */
let ignoredMembers: string[] = [];

/**
 * The context members the lake writer derives columns from, by the marker of their field: text
 * that is only read for a breakdown (a user agent, a campaign), not an id. One with a lone
 * surrogate is left out of the context and flagged; anywhere else a lone surrogate refuses the event.
 */
const DERIVED_MEMBERS: Readonly<Record<string, string>> = {
  'context.userAgent': 'user_agent',
  'context.library.name': 'library',
  'context.os.name': 'os',
  'context.app.version': 'app_version',
  'context.campaign.source': 'utm_source',
  'context.campaign.medium': 'utm_medium',
  'context.campaign.name': 'utm_campaign',
  'context.page.referrer': 'referrer',
  'context.referrer.url': 'referrer',
  'context.device.model': 'device_model',
};

function loneSurrogate(keys: string[]): Reject {
  return new Reject(
    'invalid_text',
    `${wellFormed(pathOf(keys))} holds a lone UTF-16 surrogate, which has no UTF-8 form`,
  );
}

/** An upper bound of the JSON length of a value: a string's characters may each escape to 6. */
function lengthBound(value: unknown): number {
  if (typeof value === 'string') return value.length * 6 + 2;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value).length;
  return 24;
}

/**
 * An upper bound of `JSON.stringify(raw).length` (UTF-16 units), from the members already
 * serialized for the row (`known`, by key) and cheap bounds of the others. `extra` adds members
 * that were removed from a known member (the context's IP and traits).
 */
function jsonLengthBound(
  raw: Record<string, unknown>,
  known: Record<string, string | undefined>,
  extra: unknown[],
): number {
  let chars = 2;
  for (const key in raw) {
    const json = known[key];
    chars += key.length * 6 + 4 + (json === undefined ? lengthBound(raw[key]) : json.length);
  }
  for (const value of extra) chars += lengthBound(value) + 12;
  return chars;
}

/**
 * The UTF-8 size of `JSON.stringify(raw)` when it is over the event limit, else null. UTF-8
 * takes at most 3 bytes per UTF-16 unit of serialized JSON (its control characters are already
 * escaped), so the event is serialized whole only when the cheap bound comes near the limit.
 */
function bytesOverLimit(
  raw: Record<string, unknown>,
  known: Record<string, string | undefined>,
  extra: unknown[],
): number | null {
  if (jsonLengthBound(raw, known, extra) * 3 <= MAX_EVENT_BYTES) return null;
  const bytes = Buffer.byteLength(JSON.stringify(raw));
  return bytes > MAX_EVENT_BYTES ? bytes : null;
}

/** An id as the app sent it, as text: a string, or a number as JavaScript writes it; else undefined. */
function idText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' ? value : undefined;
}

function optionalId(raw: Record<string, unknown>, field: string): string | null {
  const value = raw[field];
  if (value === undefined || value === null || value === '') return null;
  const id = idText(value);
  if (id === undefined)
    throw new Reject('invalid_identity', `${field} must be a string, got ${typeof value}`);
  const characters = id.length > MAX_ID_LENGTH ? codePointLength(id) : id.length;
  if (characters > MAX_ID_LENGTH) {
    throw new Reject(
      'invalid_identity',
      `${field} is ${characters} characters, over the limit of ${MAX_ID_LENGTH}`,
    );
  }
  return id;
}

function optionalTime(raw: Record<string, unknown>, field: string): number | null {
  const value = raw[field];
  if (value === undefined || value === null) return null;
  const parsed = typeof value === 'string' ? parseTimestamp(value) : null;
  if (parsed === null) {
    throw new Reject(
      'invalid_timestamp',
      `${field} is not an ISO-8601 timestamp: ${JSON.stringify(value).slice(0, 60)}`,
    );
  }
  return parsed;
}

function optionalObject(raw: Record<string, unknown>, field: string): Record<string, unknown> | null {
  const value = raw[field];
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value))
    throw new Reject(`invalid_${field}`, `${field} must be an object, got ${typeof value}`);
  return value;
}

function eventName(raw: Record<string, unknown>, type: EventType): string | null {
  const field = type === 'track' ? 'event' : type === 'page' || type === 'screen' ? 'name' : null;
  if (field === null) return null;
  const value = raw[field];
  if (type === 'track' && (typeof value !== 'string' || value === '')) {
    throw new Reject('missing_event_name', 'track events need a non-empty string "event"');
  }
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string')
    throw new Reject('invalid_event_name', `${field} must be a string, got ${typeof value}`);
  return value.slice(0, MAX_EVENT_NAME_LENGTH);
}

function messageId(raw: Record<string, unknown>, ctx: RequestContext): string {
  const value = raw.messageId;
  if (value === undefined || value === null || value === '') {
    // Deterministic, so an SDK resending the same body produces the same id (and one row); keyed
    // like the identity hashes, so nobody holding the lake can confirm a guessed raw userId by
    // hashing a guessed event.
    const mac = createHmac('sha256', ctx.key.secret).update(`${ctx.project}\0m\0${JSON.stringify(raw)}`);
    return `gen-${mac.digest('hex').slice(0, 32)}`;
  }
  if (typeof value !== 'string')
    throw new Reject('invalid_message_id', `messageId must be a string, got ${typeof value}`);
  if (value.length > MAX_MESSAGE_ID_LENGTH) {
    const characters = codePointLength(value);
    if (characters > MAX_MESSAGE_ID_LENGTH) {
      throw new Reject(
        'invalid_message_id',
        `messageId is ${characters} characters, over the limit of ${MAX_MESSAGE_ID_LENGTH}`,
      );
    }
  }
  return value;
}

/** RudderStack's `channel` (web, server, mobile, sources...), kept as a column. */
function channelOf(raw: Record<string, unknown>): string | null {
  const value = raw.channel;
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string')
    throw new Reject('invalid_channel', `channel must be a string, got ${typeof value}`);
  return value.slice(0, MAX_CHANNEL_LENGTH);
}

function requiredString(raw: Record<string, unknown>, field: string, type: EventType): void {
  const value = raw[field];
  if ((typeof value !== 'string' || value === '') && typeof value !== 'number') {
    throw new Reject(
      `missing_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`,
      `${type} events need "${field}"`,
    );
  }
}

/**
 * The JSON texts of the properties and the context (without IP and traits): sliced from the body
 * where its layout says the text means what was parsed (`layout.ts`), else serialized.
 */
function jsonTexts(
  rawProperties: Record<string, unknown> | null,
  rawContext: Record<string, unknown> | null,
  source: EventSource | null,
): { propertiesJson: string | undefined; contextJson: string | undefined } {
  const layout = source?.layout;
  // The body's text is used only where it holds no duplicate key (the parse kept the last).
  let propertiesJson: string | undefined;
  if (rawProperties !== null) {
    propertiesJson =
      layout !== undefined && layout.propertiesStart >= 0 && layout.propertiesEntries === propertiesVisited
        ? source!.text.slice(layout.propertiesStart, layout.propertiesEnd)
        : JSON.stringify(rawProperties);
  }
  let contextJson: string | undefined;
  if (rawContext !== null) {
    contextJson =
      layout !== undefined && layout.contextStart >= 0 && layout.contextEntries === contextVisited
        ? contextText(source!.text, layout)
        : JSON.stringify(stripContext(rawContext));
  }
  return { propertiesJson, contextJson };
}

/** The context's text in the body, without its IP and traits members. */
function contextText(text: string, layout: EventLayout): string {
  const kept = layout.contextKept;
  if (kept === null) return text.slice(layout.contextStart, layout.contextEnd);
  // Concatenated, not joined: the pieces are copied once, when the record is written.
  let json = '{';
  for (let i = 0; i < kept.length; i += 2) json += (i === 0 ? '' : ',') + text.slice(kept[i], kept[i + 1]);
  return `${json}}`;
}

function normalize(raw: unknown, ctx: RequestContext, source: EventSource | null): LakeEvent {
  if (!isPlainObject(raw)) {
    throw new Reject(
      'invalid_event',
      `an event must be a JSON object, got ${Array.isArray(raw) ? 'array' : typeof raw}`,
    );
  }
  visited = 0;
  propertiesVisited = -1;
  contextVisited = -1;
  ignoredMembers = [];
  const flaw = inspect(raw, MAX_EVENT_DEPTH);
  if (flaw) throw flaw;
  // A member left out: the context is written from what was parsed, not copied from the body.
  if (ignoredMembers.length > 0) contextVisited = -1;
  const rawProperties = optionalObject(raw, 'properties');
  const rawContext = optionalObject(raw, 'context');
  const { propertiesJson, contextJson } = jsonTexts(rawProperties, rawContext, source);
  const removed =
    rawContext !== null && holdsIpOrTraits(rawContext) ? [rawContext.ip, rawContext.traits] : [];
  const bytes = bytesOverLimit(raw, { properties: propertiesJson, context: contextJson }, removed);
  if (bytes !== null) {
    throw new Reject('size', `the event is ${bytes} bytes, over the limit of ${MAX_EVENT_BYTES}`);
  }
  const row = normalizeFields(raw, ctx, propertiesJson ?? null, contextJson ?? null, rawContext?.ip);
  if (ignoredMembers.length > 0) row.flags = [row.flags, ...ignoredMembers].filter(Boolean).join(',');
  return row;
}

/**
 * The checks and the row of an event whose nested values were checked and written already:
 * `propertiesJson` and `contextJson` (without IP and traits) are their JSON texts.
 */
function normalizeFields(
  raw: Record<string, unknown>,
  ctx: RequestContext,
  propertiesJson: string | null,
  contextJson: string | null,
  contextIp: unknown,
): LakeEvent {
  const type = ctx.routeType ?? raw.type;
  if (!isEventType(type)) {
    throw new Reject(
      'invalid_type',
      `type must be one of track, identify, page, screen, group, alias; got ${JSON.stringify(type)?.slice(0, 40)}`,
    );
  }
  const userId = optionalId(raw, 'userId');
  const anonymousId = optionalId(raw, 'anonymousId');
  if (userId === null && anonymousId === null) {
    throw new Reject('missing_identity', 'the event needs a userId or an anonymousId');
  }
  if (type === 'alias') requiredString(raw, 'previousId', type);
  // An alias' previousId is an earlier userId or the anonymousId (analytics.js sends either):
  // kept under both pseudonyms, so identity resolution can link whichever it was.
  const previousId = type === 'alias' ? optionalId(raw, 'previousId') : null;
  if (type === 'group') requiredString(raw, 'groupId', type);
  const event = eventName(raw, type);
  const eventId = messageId(raw, ctx);
  // Segment's `timestamp`, else RudderStack's `originalTimestamp` (the device's time of the call):
  // the same skew rule applies to either.
  const originalTimestamp = optionalTime(raw, 'originalTimestamp');
  const timestamp = optionalTime(raw, 'timestamp') ?? originalTimestamp;
  const sentAt = optionalTime(raw, 'sentAt') ?? ctx.batchSentAt;
  const { eventTime, clamped } = correctEventTime(ctx.receivedAt, timestamp, sentAt);
  if (eventTime < 0)
    throw new Reject(
      'invalid_timestamp',
      `the event time ${new Date(eventTime).toISOString()} is before 1970`,
    );
  const properties = type === 'group' ? JSON.stringify({ groupId: String(raw.groupId) }) : propertiesJson;
  const row: LakeEvent = {
    project: ctx.project,
    eventId,
    type,
    event,
    userHash: null,
    anonymousHash: null,
    previousUserHash: null,
    previousAnonymousHash: null,
    eventTime,
    receivedAt: ctx.receivedAt,
    properties,
    context: contextJson,
    keyVersion: ctx.key.version,
    flags: clamped ? 'future_clamped' : null,
    channel: channelOf(raw),
    country: ctx.countryOf(contextIp),
  };
  // Asked for last: a row is never refused once its pseudonyms are on their way.
  const { pseudonyms } = ctx;
  if (userId !== null) pseudonyms.set(row, 'userHash', userId);
  if (anonymousId !== null) pseudonyms.set(row, 'anonymousHash', anonymousId);
  if (previousId !== null) {
    pseudonyms.set(row, 'previousUserHash', previousId);
    pseudonyms.set(row, 'previousAnonymousHash', previousId);
  }
  return row;
}

/** The hashes of a refused event's ids, where they are ids an accepted event could have carried. */
function subjectHashes(
  raw: unknown,
  ctx: RequestContext,
): { userHash: bigint | null; anonymousHash: bigint | null } {
  const hashOf = (value: unknown, hash: typeof identityHash): bigint | null => {
    const id = idText(value);
    return id !== undefined && id !== '' && id.isWellFormed() ? hash(ctx.key, ctx.project, id) : null;
  };
  if (!isPlainObject(raw)) return { userHash: null, anonymousHash: null };
  return {
    userHash: hashOf(raw.userId, identityHash),
    anonymousHash: hashOf(raw.anonymousId, anonymousHash),
  };
}

/**
 * Validates and normalizes one Segment event. Never throws: a bad event becomes a bad row
 * carrying the reason and a redacted excerpt, so a batch with one bad event keeps the others.
 */
export function validateEvent(
  raw: unknown,
  ctx: RequestContext,
  inexactNumber: string | null = null,
  source: EventSource | null = null,
): EventResult {
  try {
    if (inexactNumber !== null) {
      throw new Reject(
        'invalid_number',
        `the event holds the number ${inexactNumber.slice(0, 40)}, which a JSON number (a 64-bit double) does not keep exactly: send it as a string`,
      );
    }
    return { ok: true, event: normalize(raw, ctx, source) };
  } catch (error) {
    const rejection =
      error instanceof Reject
        ? error
        : new Reject('invalid_event', `the event could not be read: ${String(error).slice(0, 80)}`);
    const id =
      isPlainObject(raw) && typeof raw.messageId === 'string'
        ? wellFormed(truncateCodePoints(raw.messageId, MAX_MESSAGE_ID_LENGTH))
        : null;
    return {
      ok: false,
      badRow: {
        project: ctx.project,
        stage: 'collect',
        reason: rejection.reason,
        message: wellFormed(rejection.message),
        receivedAt: ctx.receivedAt,
        eventId: id,
        payload: redactedExcerpt(raw),
        ...subjectHashes(raw, ctx),
      },
    };
  }
}

/** Thrown where an event read by the compact parser needs to be read in full. */
const READ_IN_FULL = new Error('read the event in full');

/**
 * Validates one event read by the compact parser (`compact.ts`), which checked its nested values
 * already: its properties and context go as the body's text, and its size is bounded by the
 * text's length (UTF-8 takes at most 3 bytes per UTF-16 unit, and `JSON.stringify` of what the
 * text parses to is no longer than the text). An event this cannot finish (any refusal, whose bad
 * row shows the whole event; no messageId, which is derived from the whole event; a text near the
 * size limit; properties or a context that are not objects) is parsed in full and goes through
 * `validateEvent`, with the layout `layout.ts` finds in its text: the same outcome, to the byte,
 * as for the body read by `JSON.parse`. `ascii`: the body's bytes when it is ASCII (character
 * offsets are byte offsets), where the record writer copies the event's texts from.
 */
export function validateCompact(
  event: CompactEvent,
  text: string,
  ctx: RequestContext,
  ascii: Buffer | null,
): EventResult {
  try {
    return compactRow(event, text, ctx, ascii);
  } catch {
    const slice = text.slice(event.start, event.end);
    const layout = scanBody(slice, false)?.events[0] ?? null;
    return validateEvent(JSON.parse(slice), ctx, null, layout === null ? null : { text: slice, layout });
  }
}

function compactRow(
  event: CompactEvent,
  text: string,
  ctx: RequestContext,
  ascii: Buffer | null,
): EventResult {
  const { raw, layout } = event;
  if ((event.end - event.start) * 3 > MAX_EVENT_BYTES) throw READ_IN_FULL;
  if (raw.messageId === undefined || raw.messageId === null || raw.messageId === '') throw READ_IN_FULL;
  let propertiesJson: string | null = null;
  if (layout.propertiesStart >= 0) propertiesJson = text.slice(layout.propertiesStart, layout.propertiesEnd);
  else if (raw.properties !== undefined && raw.properties !== null) throw READ_IN_FULL;
  let contextJson: string | null = null;
  if (layout.contextStart >= 0) contextJson = contextText(text, layout);
  else if (raw.context !== undefined && raw.context !== null) throw READ_IN_FULL;
  // The context's ip (left out of its text) is read where the layout found it.
  const ip = layout.ipStart >= 0 ? JSON.parse(text.slice(layout.ipStart, layout.ipEnd)) : undefined;
  const row = normalizeFields(raw, ctx, propertiesJson, contextJson, ip);
  if (ascii === null) return { ok: true, event: row };
  // The row's texts are the body's (a group's properties are its own): their bytes are copied.
  const bytes: EventBytes = {
    buffer: ascii,
    propertiesStart:
      row.properties !== null && row.properties === propertiesJson ? layout.propertiesStart : -1,
    propertiesEnd: layout.propertiesEnd,
    contextStart: row.context === null ? -1 : layout.contextStart,
    contextEnd: layout.contextEnd,
    contextKept: layout.contextKept,
  };
  return { ok: true, event: row, bytes };
}
