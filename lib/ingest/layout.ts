import {
  BACKSLASH,
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COMMA,
  OPEN_ARRAY,
  OPEN_OBJECT,
  QUOTE,
} from '../json-chars.js';
import { type InexactNumbers, inexactToken } from './exact-numbers.js';
import { MAX_EVENT_DEPTH } from './limits.js';

/**
 * Where an event's `properties` and `context` sit in the body text, so their JSON goes to the
 * stream as the app wrote it instead of being serialized again from the parsed value. The text
 * is used only where it means exactly what was parsed and validated:
 * - the body has no whitespace between tokens there, no number with an exponent, no escaped
 *   key at the event's or the context's top level (`"\u0069p"` is `ip`);
 * - the object holds no duplicate key at any depth: its entries (object members and array
 *   elements, nested included) must equal what the validator counts on the parsed value, which
 *   keeps only the last of duplicate keys;
 * - for the context, no batch context was merged into it.
 * Anything else falls back to `JSON.stringify` of the parsed value.
 */
export interface EventLayout {
  /** Start and end of the properties object's text, or -1 when it cannot be used. */
  propertiesStart: number;
  propertiesEnd: number;
  contextStart: number;
  contextEnd: number;
  /**
   * Start/end pairs of the context's members other than `ip` and `traits` (or of runs of them,
   * their commas included); null when it has neither.
   */
  contextKept: number[] | null;
  /**
   * Start and end of the text of the context's `ip` value, or -1: found by the compact parser
   * (`compact.ts`), whose events are not parsed whole; other events' ip is read from their value.
   */
  ipStart: number;
  ipEnd: number;
  /** Object members and array elements inside the properties, at every depth. */
  propertiesEntries: number;
  /** The same inside the context. */
  contextEntries: number;
}

/** A layout with no properties and no context found yet. */
export function emptyLayout(): EventLayout {
  return {
    propertiesStart: -1,
    propertiesEnd: -1,
    contextStart: -1,
    contextEnd: -1,
    contextKept: null,
    ipStart: -1,
    ipEnd: -1,
    propertiesEntries: 0,
    contextEntries: 0,
  };
}

/** Every event's layout (null for an element that is not an object) and the inexact numbers. */
export interface BodyLayout {
  events: (EventLayout | null)[];
  inexact: InexactNumbers | null;
}

/** Thrown when nesting goes past what any accepted event may hold: the caller scans the slow way. */
const TOO_DEEP = new Error('too deep');

/** One scan's state (module-level: the scan is synchronous and never re-entered). */
let src = '';
/** Object members and array elements seen since the last reset. */
let entries = 0;
/** False once whitespace or an exponent was seen since the last reset. */
let plain = true;
/** Which batch element the scan is in, or -1 outside `batch` (or in a single-event body). */
let eventIndex = -1;
let found: InexactNumbers | null = null;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWhitespace(i: number): number {
  while (isWhitespace(src.charCodeAt(i))) {
    plain = false;
    i++;
  }
  return i;
}

/** The index after the string starting at `i` (the text already parsed, so it is closed). */
function skipString(i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = src.indexOf('"', from);
    let k = quote - 1;
    while (src.charCodeAt(k) === BACKSLASH) k--;
    if ((quote - 1 - k) % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** True when the key (quotes included) at `start`..`end` holds an escape. */
function escaped(start: number, end: number): boolean {
  for (let i = start + 1; i < end - 1; i++) if (src.charCodeAt(i) === BACKSLASH) return true;
  return false;
}

/** True when the key (quotes included) at `start`..`end` is `word`. */
function keyIs(start: number, end: number, word: string): boolean {
  return end - start - 2 === word.length && src.startsWith(word, start + 1);
}

function skipNumberOrLiteral(i: number): number {
  const first = src.charCodeAt(i);
  if (first === 0x74 || first === 0x6e) return i + 4; // true, null
  if (first === 0x66) return i + 5; // false
  let j = i;
  let exponent = false;
  for (;;) {
    const c = src.charCodeAt(j);
    if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isWhitespace(c) || Number.isNaN(c)) break;
    if (c === 0x65 || c === 0x45) exponent = true;
    j++;
  }
  // Only plain decimals go verbatim; a token with an exponent or 16 characters may not be exact.
  if (exponent) plain = false;
  if (exponent || j - i >= 16) {
    const token = src.slice(i, j);
    if (inexactToken(token)) {
      found ??= { events: new Map(), top: null };
      if (eventIndex === -1) found.top ??= token;
      else if (!found.events.has(eventIndex)) found.events.set(eventIndex, token);
    }
  }
  return j;
}

function skipValue(i: number, depth: number): number {
  const c = src.charCodeAt(i);
  if (c === QUOTE) return skipString(i);
  if (c === OPEN_OBJECT) return skipObject(i, depth);
  if (c === OPEN_ARRAY) return skipArray(i, depth);
  return skipNumberOrLiteral(i);
}

function skipObject(i: number, depth: number): number {
  if (depth > MAX_EVENT_DEPTH + 2) throw TOO_DEEP;
  i = skipWhitespace(i + 1);
  if (src.charCodeAt(i) === CLOSE_OBJECT) return i + 1;
  for (;;) {
    entries++;
    i = skipWhitespace(skipString(i));
    i = skipWhitespace(skipValue(skipWhitespace(i + 1), depth + 1));
    if (src.charCodeAt(i) !== COMMA) return i + 1;
    i = skipWhitespace(i + 1);
  }
}

function skipArray(i: number, depth: number): number {
  if (depth > MAX_EVENT_DEPTH + 2) throw TOO_DEEP;
  i = skipWhitespace(i + 1);
  if (src.charCodeAt(i) === CLOSE_ARRAY) return i + 1;
  for (;;) {
    entries++;
    i = skipWhitespace(skipValue(i, depth + 1));
    if (src.charCodeAt(i) !== COMMA) return i + 1;
    i = skipWhitespace(i + 1);
  }
}

/** Where the value after the key ending at `keyEnd` starts (past the colon). */
function valueAfter(keyEnd: number): number {
  return skipWhitespace(skipWhitespace(keyEnd) + 1);
}

/** Member spans of the context being scanned (start/end pairs), reused from one context to the next. */
const members: number[] = [];

/**
 * Scans an event's `context` object at `i` into `layout`: usable when plain and without an
 * escaped key, its members other than `ip` and `traits` listed when it has either.
 */
function scanContext(i: number, layout: EventLayout): number {
  const wasPlain = plain;
  plain = true;
  let usable = true;
  let strip = false;
  members.length = 0;
  const before = entries;
  let at = skipWhitespace(i + 1);
  if (src.charCodeAt(at) === CLOSE_OBJECT) at++;
  else {
    for (;;) {
      entries++;
      const keyEnd = skipString(at);
      if (escaped(at, keyEnd)) usable = false;
      const valueEnd = skipValue(valueAfter(keyEnd), 3);
      if (keyIs(at, keyEnd, 'ip') || keyIs(at, keyEnd, 'traits')) strip = true;
      else members.push(at, valueEnd);
      at = skipWhitespace(valueEnd);
      if (src.charCodeAt(at++) !== COMMA) break;
      at = skipWhitespace(at);
    }
  }
  layout.contextEntries = entries - before;
  if (usable && plain) {
    layout.contextStart = i;
    layout.contextEnd = at;
    layout.contextKept = strip ? members.slice() : null;
  } else {
    layout.contextStart = -1;
    layout.contextKept = null;
  }
  plain = wasPlain && plain;
  return at;
}

/** Scans an event's `properties` object at `i` into `layout`: usable when plain. */
function scanProperties(i: number, layout: EventLayout): number {
  const wasPlain = plain;
  plain = true;
  const before = entries;
  const end = skipObject(i, 2);
  layout.propertiesEntries = entries - before;
  layout.propertiesStart = plain ? i : -1;
  layout.propertiesEnd = end;
  plain = wasPlain && plain;
  return end;
}

/** The layout of the event scanned last (`scanEvent` returns where it ends). */
let scanned: EventLayout | null = null;

function scanEvent(i: number): number {
  if (src.charCodeAt(i) !== OPEN_OBJECT) {
    scanned = null;
    return skipValue(i, 1);
  }
  const layout = emptyLayout();
  let escapedKey = false;
  let at = skipWhitespace(i + 1);
  if (src.charCodeAt(at) === CLOSE_OBJECT) at++;
  else {
    for (;;) {
      entries++;
      const keyEnd = skipString(at);
      if (escaped(at, keyEnd)) escapedKey = true;
      const value = valueAfter(keyEnd);
      const isObject = src.charCodeAt(value) === OPEN_OBJECT;
      let valueEnd: number;
      // JSON.parse keeps the last of duplicate keys: so does the scan.
      if (keyIs(at, keyEnd, 'properties')) {
        layout.propertiesStart = -1;
        valueEnd = isObject ? scanProperties(value, layout) : skipValue(value, 2);
      } else if (keyIs(at, keyEnd, 'context')) {
        layout.contextStart = -1;
        valueEnd = isObject ? scanContext(value, layout) : skipValue(value, 2);
      } else valueEnd = skipValue(value, 2);
      at = skipWhitespace(valueEnd);
      if (src.charCodeAt(at++) !== COMMA) break;
      at = skipWhitespace(at);
    }
  }
  if (escapedKey) {
    layout.propertiesStart = -1;
    layout.contextStart = -1;
  }
  scanned = layout;
  return at;
}

/** Forgets the numbers found in an earlier `batch` array: a later one replaces it. */
function clearEventNumbers(): void {
  found?.events.clear();
}

function scanBatch(i: number, events: (EventLayout | null)[]): number {
  i = skipWhitespace(i + 1);
  if (src.charCodeAt(i) === CLOSE_ARRAY) return i + 1;
  for (let index = 0; ; index++) {
    eventIndex = index;
    const end = scanEvent(i);
    events.push(scanned);
    eventIndex = -1;
    i = skipWhitespace(end);
    if (src.charCodeAt(i) !== COMMA) return i + 1;
    i = skipWhitespace(i + 1);
  }
}

/**
 * Scans a body that `JSON.parse` accepted: the layout of each event (the elements of the last
 * top-level `batch` array, or the body itself for a single event) and the number tokens a double
 * cannot keep (`exact-numbers.ts`). Returns null when it cannot (nesting deeper than any event
 * may hold, an escaped top-level key): the caller then serializes the parsed values and scans numbers the slow way.
 */
export function scanBody(text: string, batch: boolean): BodyLayout | null {
  src = text;
  entries = 0;
  plain = true;
  eventIndex = -1;
  found = null;
  try {
    const start = skipWhitespace(0);
    if (src.charCodeAt(start) !== OPEN_OBJECT) {
      skipValue(start, 0);
      return { events: [], inexact: found };
    }
    if (!batch) {
      scanEvent(start);
      return { events: [scanned], inexact: found };
    }
    let events: (EventLayout | null)[] = [];
    let escapedKey = false;
    let at = skipWhitespace(start + 1);
    if (src.charCodeAt(at) !== CLOSE_OBJECT) {
      for (;;) {
        const keyEnd = skipString(at);
        if (escaped(at, keyEnd)) escapedKey = true;
        const value = valueAfter(keyEnd);
        let valueEnd: number;
        if (keyIs(at, keyEnd, 'batch') && src.charCodeAt(value) === OPEN_ARRAY) {
          // JSON.parse keeps the last of duplicate keys: so does the scan.
          events = [];
          clearEventNumbers();
          valueEnd = scanBatch(value, events);
        } else valueEnd = skipValue(value, 1);
        at = skipWhitespace(valueEnd);
        if (src.charCodeAt(at++) !== COMMA) break;
        at = skipWhitespace(at);
      }
    }
    // An escaped key may be `batch` spelled another way: which array JSON.parse kept is unknown.
    return escapedKey ? null : { events, inexact: found };
  } catch (error) {
    if (error === TOO_DEEP) return null;
    throw error;
  } finally {
    src = '';
  }
}
