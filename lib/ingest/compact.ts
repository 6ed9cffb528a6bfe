import {
  BACKSLASH,
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COLON,
  COMMA,
  DOT,
  MINUS,
  NINE,
  OPEN_ARRAY,
  OPEN_OBJECT,
  QUOTE,
  ZERO,
} from '../json-chars.js';
import { inexactToken } from './exact-numbers.js';
import { type EventLayout, emptyLayout } from './layout.js';

/**
 * The collector's fast reading of the body every SDK sends: compact JSON as `JSON.stringify`
 * writes it. One pass checks the whole text against JSON's grammar, reads the event members the
 * collector uses (`EventFields`), and only finds where `properties` and `context` sit (the bulk of
 * an event's bytes): they go to the stream as that text, so building them as objects only to
 * write them again is spared.
 *
 * It accepts less than `JSON.parse` and never more: anything else (whitespace between tokens, an
 * exponent, an escaped key, a `\u` escape of a surrogate, a duplicate key, a number a double does
 * not keep, nesting deeper than `MAX_COMPACT_DEPTH`, an object of more than `MAX_COMPACT_KEYS`
 * keys, a batch-level `context`) gives null and the body takes the general path (`body.ts`:
 * `JSON.parse`, `layout.ts`), which also writes every error message. Where it accepts, each
 * event's text holds no lone surrogate, no number beyond a double's range, nothing nested deeper
 * than the validator allows, and parses to a value whose `JSON.stringify` is no longer than the
 * text (so the text's length bounds the event's size).
 */

/** An event read by the compact parser. */
export interface CompactEvent {
  /**
   * The event's members the collector reads, as `JSON.parse` reads them, except that an object
   * or array holds `NESTED` instead (the validator refuses such a value where it expects a
   * scalar, and a refused event is read again in full).
   */
  raw: EventFields;
  /** Where the event's text starts and ends in the body. */
  start: number;
  end: number;
  /** Where its `properties` and `context` objects sit (-1 when it has none); counts unused. */
  layout: EventLayout;
}

/** A body read by the compact parser: its value (events as in `CompactEvent.raw`) and its events. */
export interface CompactBody {
  value: Record<string, unknown>;
  events: CompactEvent[];
}

/** Stands for an object or array the compact parser did not build. */
export const NESTED: Readonly<Record<string, never>> = Object.freeze({});

/** Deeper than this (the event itself at 1) the general path decides: it refuses past 64. */
export const MAX_COMPACT_DEPTH = 48;
/** An object with more keys goes the general path. */
export const MAX_COMPACT_KEYS = 64;

/** Thrown where the text is not what this parser takes: the general path reads it. */
const NOT_COMPACT = new Error('not compact JSON');

/** The text being read (module-level: a parse is synchronous and never re-entered). */
let src = '';
/** True when the string read last held a backslash escape. */
let escapes = false;
/**
 * Where the keys of the objects being read start, innermost last (for duplicates), up to
 * `keysTop`: room for the most keys of the deepest nesting the parser reads.
 */
const keys = new Int32Array(MAX_COMPACT_KEYS * (MAX_COMPACT_DEPTH + 1));
let keysTop = 0;
/** Start/end pairs of the runs of members of the context being read other than `ip` and `traits`. */
const kept: number[] = [];
/** True when the context read last held `ip` or `traits`. */
let strip = false;
/** Where the `ip` value of the context read last starts and ends, or -1. */
let ipStart = -1;
let ipEnd = -1;

/**
 * A run of characters a JSON string holds as they are: not a control character, a quote, a
 * backslash or a surrogate. Sticky: it matches where `lastIndex` is.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it must stop at
const PLAIN_RUN = /[^\u0000-\u001f"\\\ud800-\udfff]*/y;

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function hexDigit(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/**
 * The index after the string whose quote is at `i`; sets `escapes`. A control character, an
 * escape JSON does not have, a `\u` escape of a surrogate or a lone surrogate ends the parse.
 */
function skipString(i: number): number {
  escapes = false;
  let j = i + 1;
  for (;;) {
    PLAIN_RUN.lastIndex = j;
    PLAIN_RUN.test(src);
    j = PLAIN_RUN.lastIndex;
    const c = src.charCodeAt(j);
    if (c === QUOTE) return j + 1;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = src.charCodeAt(j + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        j += 2;
        continue;
      }
      throw NOT_COMPACT;
    }
    if (c !== BACKSLASH) throw NOT_COMPACT; // a control character, a lone low surrogate, the end
    escapes = true;
    const e = src.charCodeAt(j + 1);
    if (e === 0x75) {
      let code = 0;
      for (let k = 2; k < 6; k++) {
        const d = hexDigit(src.charCodeAt(j + k));
        if (d < 0) throw NOT_COMPACT;
        code = code * 16 + d;
      }
      if (code >= 0xd800 && code <= 0xdfff) throw NOT_COMPACT;
      j += 6;
    } else if (
      e === QUOTE ||
      e === BACKSLASH ||
      e === 0x2f || // /
      e === 0x62 || // b
      e === 0x66 || // f
      e === 0x6e || // n
      e === 0x72 || // r
      e === 0x74 // t
    ) {
      j += 2;
    } else throw NOT_COMPACT;
  }
}

/** The index after the number at `i`: JSON's grammar without an exponent, a value a double keeps. */
function skipNumber(i: number): number {
  let j = i;
  if (src.charCodeAt(j) === MINUS) j++;
  const first = src.charCodeAt(j);
  if (first === ZERO) j++;
  else if (first > ZERO && first <= NINE) {
    j++;
    while (isDigit(src.charCodeAt(j))) j++;
  } else throw NOT_COMPACT;
  if (src.charCodeAt(j) === DOT) {
    j++;
    if (!isDigit(src.charCodeAt(j))) throw NOT_COMPACT;
    while (isDigit(src.charCodeAt(j))) j++;
  }
  const next = src.charCodeAt(j) | 0x20;
  if (next === 0x65) throw NOT_COMPACT; // an exponent
  checkNumber(i, j);
  return j;
}

/** Ends the parse when the plain decimal at `start`..`end` is one a double does not keep (or hold). */
function checkNumber(start: number, end: number): void {
  // No plain decimal shorter than 16 characters is inexact (`exact-numbers.ts`).
  if (end - start < 16) return;
  const token = src.slice(start, end);
  if (!Number.isFinite(Number(token)) || inexactToken(token)) throw NOT_COMPACT;
}

function skipLiteral(i: number, word: string): number {
  if (!src.startsWith(word, i)) throw NOT_COMPACT;
  return i + word.length;
}

/** The index after the value at `i`, nested `depth` deep. */
function skipValue(i: number, depth: number): number {
  const c = src.charCodeAt(i);
  if (c === QUOTE) return skipString(i);
  if (c === OPEN_OBJECT) return skipObject(i, depth + 1, false);
  if (c === OPEN_ARRAY) return skipArray(i, depth + 1);
  if (c === 0x74) return skipLiteral(i, 'true');
  if (c === 0x66) return skipLiteral(i, 'false');
  if (c === 0x6e) return skipLiteral(i, 'null');
  return skipNumber(i);
}

/** Up to this many keys, an object's keys are compared pairwise; past it, through a set. */
const PAIRWISE_KEYS = 8;
/** The key sets of the objects being read past `PAIRWISE_KEYS` keys, by depth (reused). */
const keySets: Set<string>[] = [];

/** The key starting at `start` (no escapes here: the next quote ends it). */
function keyAt(start: number): string {
  return src.slice(start + 1, src.indexOf('"', start + 1));
}

/**
 * Ends the parse when the key starting at `start` repeats one of this object's keys since `base`
 * (keys hold no escape here: a quote ends them). The first keys are compared pairwise (most
 * objects are small); a larger object's keys go into a set, so a body of many wide objects
 * costs linear time, not quadratic.
 */
function checkKey(base: number, start: number, depth: number): void {
  const count = keysTop - base;
  if (count >= MAX_COMPACT_KEYS) throw NOT_COMPACT;
  if (count < PAIRWISE_KEYS) {
    for (let k = base; k < keysTop; k++) {
      for (let a = start + 1, b = keys[k]! + 1; ; a++, b++) {
        const c = src.charCodeAt(a);
        if (c !== src.charCodeAt(b)) break;
        if (c === QUOTE) throw NOT_COMPACT; // both keys end here: the same key
      }
    }
  } else {
    let set = keySets[depth];
    if (count === PAIRWISE_KEYS) {
      set ??= keySets[depth] = new Set();
      set.clear();
      for (let k = base; k < keysTop; k++) set.add(keyAt(keys[k]!));
    }
    const key = keyAt(start);
    if (set!.has(key)) throw NOT_COMPACT;
    set!.add(key);
  }
  keys[keysTop++] = start;
}

/**
 * An object member in one match, as most are written: a key without escapes, and a value that
 * is a string without escapes, a number without exponent, a literal (each followed by the end of
 * the member), or the start of an object or array. Sticky: it matches where `lastIndex` is.
 * Anything else is read token by token.
 */
const MEMBER =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it must stop at
  /"[^"\\\u0000-\u001f\ud800-\udfff]*":(?:(?:"[^"\\\u0000-\u001f\ud800-\udfff]*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|true|false|null)(?=[,}])|(?=[{[]))/y;

/**
 * Ends the parse when the scalar value `MEMBER` matched, ending at `end`, is a number a double
 * does not keep (a number is the only such value whose last character is a digit).
 */
function checkMemberNumber(end: number): void {
  if (!isDigit(src.charCodeAt(end - 1))) return;
  let start = end - 1;
  while (start > 0 && (isDigit(src.charCodeAt(start - 1)) || src.charCodeAt(start - 1) === DOT)) start--;
  if (src.charCodeAt(start - 1) === MINUS) start--;
  checkNumber(start, end);
}

/**
 * The index after the object at `i`, nested `depth` deep. `context`: it is an event's context,
 * whose members other than `ip` and `traits` are listed in `kept` (and `strip` set when it has
 * either).
 */
function skipObject(i: number, depth: number, context: boolean): number {
  if (depth > MAX_COMPACT_DEPTH) throw NOT_COMPACT;
  let at = i + 1;
  if (src.charCodeAt(at) === CLOSE_OBJECT) return at + 1;
  const base = keysTop;
  for (;;) {
    let end: number;
    MEMBER.lastIndex = at;
    if (MEMBER.test(src)) {
      end = MEMBER.lastIndex;
      const c = src.charCodeAt(end);
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) end = skipValue(end, depth);
      else checkMemberNumber(end);
    } else {
      if (src.charCodeAt(at) !== QUOTE) throw NOT_COMPACT;
      const keyEnd = skipString(at);
      if (escapes || src.charCodeAt(keyEnd) !== COLON) throw NOT_COMPACT;
      end = skipValue(keyEnd + 1, depth);
    }
    checkKey(base, at, depth);
    if (context) {
      if (src.startsWith('"ip":', at)) {
        strip = true;
        ipStart = at + '"ip":'.length;
        ipEnd = end;
      } else if (src.startsWith('"traits":', at)) strip = true;
      // A member right after a kept one extends its span (the comma between included).
      else if (kept.length > 0 && kept[kept.length - 1] === at - 1) kept[kept.length - 1] = end;
      else kept.push(at, end);
    }
    const c = src.charCodeAt(end);
    if (c === CLOSE_OBJECT) {
      keysTop = base;
      return end + 1;
    }
    if (c !== COMMA) throw NOT_COMPACT;
    at = end + 1;
  }
}

function skipArray(i: number, depth: number): number {
  if (depth > MAX_COMPACT_DEPTH) throw NOT_COMPACT;
  let at = i + 1;
  if (src.charCodeAt(at) === CLOSE_ARRAY) return at + 1;
  for (;;) {
    const end = skipValue(at, depth);
    const c = src.charCodeAt(end);
    if (c === CLOSE_ARRAY) return end + 1;
    if (c !== COMMA) throw NOT_COMPACT;
    at = end + 1;
  }
}

/** The value `readValue` read last. */
let value: unknown;

/** The index after the value at `i`, nested `depth` deep, read into `value` (`NESTED` for an object or array). */
function readValue(i: number, depth: number): number {
  const c = src.charCodeAt(i);
  let end: number;
  if (c === QUOTE) {
    end = skipString(i);
    value = escapes ? JSON.parse(src.slice(i, end)) : src.slice(i + 1, end - 1);
  } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    end = skipValue(i, depth);
    value = NESTED;
  } else if (c === 0x74) {
    end = skipLiteral(i, 'true');
    value = true;
  } else if (c === 0x66) {
    end = skipLiteral(i, 'false');
    value = false;
  } else if (c === 0x6e) {
    end = skipLiteral(i, 'null');
    value = null;
  } else {
    end = skipNumber(i);
    value = Number(src.slice(i, end));
  }
  return end;
}

/**
 * The members of an event that the collector reads; the others are checked (they must be JSON
 * the general path would accept) and not kept. One shape for every event.
 */
export class EventFields {
  [key: string]: unknown;
  type: unknown = undefined;
  event: unknown = undefined;
  name: unknown = undefined;
  userId: unknown = undefined;
  anonymousId: unknown = undefined;
  previousId: unknown = undefined;
  groupId: unknown = undefined;
  messageId: unknown = undefined;
  timestamp: unknown = undefined;
  originalTimestamp: unknown = undefined;
  sentAt: unknown = undefined;
  channel: unknown = undefined;
  properties: unknown = undefined;
  context: unknown = undefined;
  writeKey: unknown = undefined;
}

/** The members `EventFields` keeps, and their indexes by the length of their names. */
const FIELDS = Object.keys(new EventFields());
const FIELDS_BY_LENGTH: number[][] = [];
for (const [index, field] of FIELDS.entries()) {
  FIELDS_BY_LENGTH[field.length] ??= [];
  FIELDS_BY_LENGTH[field.length]!.push(index);
}

const PROPERTIES = FIELDS.indexOf('properties');
const CONTEXT = FIELDS.indexOf('context');

/** The index in `FIELDS` of the key at `start`..`end` (quotes included, no escape), or -1. */
function fieldAt(start: number, end: number): number {
  const candidates = FIELDS_BY_LENGTH[end - start - 2];
  if (candidates !== undefined)
    for (const index of candidates) if (src.startsWith(FIELDS[index]!, start + 1)) return index;
  return -1;
}

/**
 * The key at `i` (ending at `keyEnd`) as a string, when it may be a member of an object built
 * here: no escape, not `__proto__` (assigning it would set the prototype), not yet in `into`.
 */
function newKey(into: Record<string, unknown>, i: number, keyEnd: number): string {
  if (escapes || src.charCodeAt(keyEnd) !== COLON) throw NOT_COMPACT;
  const key = src.slice(i + 1, keyEnd - 1);
  if (key === '__proto__' || Object.hasOwn(into, key)) throw NOT_COMPACT;
  return key;
}

/**
 * The scalar value of a member `MEMBER` matched, from `start` to `end`: a plain string, a number
 * without exponent (checked by `checkMemberNumber`), a literal.
 */
function memberValue(start: number, end: number): unknown {
  const c = src.charCodeAt(start);
  if (c === QUOTE) return src.slice(start + 1, end - 1);
  if (c === 0x74) return true;
  if (c === 0x66) return false;
  if (c === 0x6e) return null;
  return Number(src.slice(start, end));
}

/** The event whose object starts at `i`. */
function readEvent(i: number): CompactEvent {
  if (src.charCodeAt(i) !== OPEN_OBJECT) throw NOT_COMPACT;
  const raw = new EventFields();
  const layout = emptyLayout();
  let seen = 0;
  let at = i + 1;
  if (src.charCodeAt(at) === CLOSE_OBJECT) return { raw, start: i, end: at + 1, layout };
  for (;;) {
    // Most members are one match of MEMBER (its key then holds no quote or escape).
    MEMBER.lastIndex = at;
    const matched = MEMBER.test(src);
    let keyEnd: number;
    if (matched) keyEnd = src.indexOf('"', at + 1) + 1;
    else {
      if (src.charCodeAt(at) !== QUOTE) throw NOT_COMPACT;
      keyEnd = skipString(at);
      if (escapes || src.charCodeAt(keyEnd) !== COLON) throw NOT_COMPACT;
    }
    const field = fieldAt(at, keyEnd);
    if (field >= 0) {
      // A member kept twice: JSON.parse keeps the last; the general path reads such a body.
      if ((seen & (1 << field)) !== 0) throw NOT_COMPACT;
      seen |= 1 << field;
    }
    const start = keyEnd + 1;
    const c = src.charCodeAt(start);
    let end: number;
    if (field === PROPERTIES && c === OPEN_OBJECT) {
      end = skipObject(start, 2, false);
      layout.propertiesStart = start;
      layout.propertiesEnd = end;
      raw.properties = NESTED;
    } else if (field === CONTEXT && c === OPEN_OBJECT) {
      kept.length = 0;
      strip = false;
      ipStart = -1;
      ipEnd = -1;
      end = skipObject(start, 2, true);
      layout.contextStart = start;
      layout.contextEnd = end;
      layout.contextKept = strip ? kept.slice() : null;
      layout.ipStart = ipStart;
      layout.ipEnd = ipEnd;
      raw.context = NESTED;
    } else if (matched && c !== OPEN_OBJECT && c !== OPEN_ARRAY) {
      end = MEMBER.lastIndex;
      checkMemberNumber(end);
      if (field >= 0) raw[FIELDS[field]!] = memberValue(start, end);
    } else {
      end = readValue(start, 1);
      if (field >= 0) raw[FIELDS[field]!] = value;
    }
    const next = src.charCodeAt(end);
    if (next === CLOSE_OBJECT) return { raw, start: i, end: end + 1, layout };
    if (next !== COMMA) throw NOT_COMPACT;
    at = end + 1;
  }
}

/** The events of the `batch` array at `i`, their values pushed to `values`; returns where it ends. */
function readBatch(i: number, events: CompactEvent[], values: unknown[]): number {
  let at = i + 1;
  if (src.charCodeAt(at) === CLOSE_ARRAY) return at + 1;
  for (;;) {
    const event = readEvent(at);
    events.push(event);
    values.push(event.raw);
    const c = src.charCodeAt(event.end);
    if (c === CLOSE_ARRAY) return event.end + 1;
    if (c !== COMMA) throw NOT_COMPACT;
    at = event.end + 1;
  }
}

/** A `{ batch: [...] }` envelope: its other members read in full (`JSON.parse` of their text). */
function readEnvelope(): CompactBody {
  const envelope: Record<string, unknown> = {};
  const events: CompactEvent[] = [];
  if (src.charCodeAt(0) !== OPEN_OBJECT) throw NOT_COMPACT;
  let at = 1;
  if (src.charCodeAt(at) === CLOSE_OBJECT) {
    if (src.length !== 2) throw NOT_COMPACT;
    return { value: envelope, events };
  }
  for (;;) {
    if (src.charCodeAt(at) !== QUOTE) throw NOT_COMPACT;
    const keyEnd = skipString(at);
    const key = newKey(envelope, at, keyEnd);
    // A batch context is merged into each event's: the general path does that.
    if (key === 'context') throw NOT_COMPACT;
    const start = keyEnd + 1;
    const c = src.charCodeAt(start);
    let end: number;
    if (key === 'batch' && c === OPEN_ARRAY) {
      const values: unknown[] = [];
      end = readBatch(start, events, values);
      envelope[key] = values;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      end = skipValue(start, 0);
      envelope[key] = JSON.parse(src.slice(start, end));
    } else {
      end = readValue(start, 0);
      envelope[key] = value;
    }
    const next = src.charCodeAt(end);
    if (next === CLOSE_OBJECT) {
      if (end + 1 !== src.length) throw NOT_COMPACT;
      return { value: envelope, events };
    }
    if (next !== COMMA) throw NOT_COMPACT;
    at = end + 1;
  }
}

/**
 * Reads a body of compact JSON: a `{ batch: [...] }` envelope when `batch`, else one event.
 * Null when the text is anything else (the general path then reads it, and refuses it if it is
 * not JSON).
 */
export function parseCompact(text: string, batch: boolean): CompactBody | null {
  src = text;
  keysTop = 0;
  try {
    if (batch) return readEnvelope();
    const event = readEvent(0);
    if (event.end !== text.length) return null;
    return { value: event.raw, events: [event] };
  } catch (error) {
    if (error === NOT_COMPACT) return null;
    throw error;
  } finally {
    src = '';
    keysTop = 0;
    kept.length = 0;
  }
}
