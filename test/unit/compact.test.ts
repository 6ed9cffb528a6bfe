import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EventFields,
  MAX_COMPACT_DEPTH,
  MAX_COMPACT_KEYS,
  NESTED,
  parseCompact,
} from '../../lib/ingest/compact.js';
import { collect, deps, itemsOf, request } from '../helpers/collect.js';
import { generator } from '../helpers/random.js';

/** A string's JSON text, sometimes with characters escaped the ways JSON allows (`\/`, `\u00e9`). */
function stringText(value: string, random: () => number): string {
  if (random() > 0.1) return JSON.stringify(value);
  let out = '"';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (ch === '/' && random() < 0.5) out += '\\/';
    else if (ch.length === 1 && random() < 0.3) {
      const hex = code.toString(16).padStart(4, '0');
      out += `\\u${random() < 0.5 ? hex : hex.toUpperCase()}`;
    } else out += JSON.stringify(ch).slice(1, -1);
  }
  return `${out}"`;
}

/** The ways of writing a body that the compact parser leaves to the general path (one per body). */
const TRAPS = [
  'whitespace',
  'exponent',
  'escaped key',
  'duplicate key',
  'duplicate key hiding a lone surrogate',
  'duplicate key spelled with an escape',
  'lone surrogate escape',
  'surrogate pair escape',
  'inexact number',
  'number beyond a double',
] as const;
type Trap = (typeof TRAPS)[number] | null;
/** A trap and how often it is set, per token where it can be. */
interface Traps {
  kind: Trap;
  rate: number;
}

/**
 * A stand-in for the country database that tells every address text apart (two letters from its
 * length and characters), so both paths must find the same `context.ip`.
 */
function textCountry(ip: string | undefined): string | null {
  if (ip === undefined) return null;
  let sum = 0;
  for (let i = 0; i < ip.length; i++) sum = (sum * 31 + ip.charCodeAt(i)) % 676;
  return String.fromCharCode(65 + Math.floor(sum / 26), 65 + (sum % 26));
}

/** A key's JSON text with its first character escaped (`"\u0069p"` is `ip`). */
function escapedKey(key: string): string {
  if (key === '') return '""';
  return `"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(key.slice(1)).slice(1)}`;
}

/**
 * Writes a JSON value compactly, as SDKs do, escaping characters now and then the ways JSON
 * allows, and setting `trap` where it can be, at its rate: whitespace, an exponent
 * (`5e0`), an escaped key, an earlier duplicate of a key (JSON.parse keeps the last), one
 * holding a lone surrogate, one spelled with an escape, a surrogate escape, a number a double
 * does not keep or cannot hold.
 */
function write(value: unknown, random: () => number, trap: Traps, depth: number): string {
  const now = (kind: Trap) => trap.kind === kind && random() < trap.rate;
  if (typeof value === 'number') {
    if (now('exponent') && Number.isInteger(value) && Math.abs(value) < 1e15) return `${value}e0`;
    if (now('inexact number')) return '123456789012345678901';
    if (now('number beyond a double')) return `1${'0'.repeat(400)}`;
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    if (now('lone surrogate escape')) return '"\\udc00"';
    if (now('surrogate pair escape')) return '"\\ud83d\\ude00"';
    return stringText(value, random);
  }
  const space = () => (now('whitespace') ? [' ', '\n', '\t', '\r\n'][Math.floor(random() * 4)]! : '');
  if (Array.isArray(value))
    return `[${value.map((v) => write(v, random, trap, depth + 1)).join(`,${space()}`)}]`;
  if (typeof value === 'object' && value !== null) {
    const members: string[] = [];
    for (const [key, v] of Object.entries(value)) {
      // Inside the events' members (an event's own duplicate keys are read alike by both paths).
      if (depth >= 2) {
        if (now('duplicate key')) members.push(`${JSON.stringify(key)}:"shadowed"`);
        if (now('duplicate key hiding a lone surrogate')) members.push(`${JSON.stringify(key)}:"\\ud800"`);
        if (now('duplicate key spelled with an escape')) members.push(`${escapedKey(key)}:"shadowed"`);
      }
      const keyText = now('escaped key') ? escapedKey(key) : JSON.stringify(key);
      members.push(`${keyText}${space()}:${space()}${write(v, random, trap, depth + 1)}`);
    }
    return `{${space()}${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Object keys: mostly plain words, now and then anything (quotes, backslashes, `__proto__`, `ip`). */
const key = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z_/]{0,6}$/) },
  fc.string({ maxLength: 6 }),
  fc.constantFrom('ip', 'traits', '__proto__', 'a', 'b'),
);
/** JSON values as apps send them (most numbers plain decimals), now and then any JSON value. */
const { value: jsonish } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.integer(),
    fc.integer().map((n) => n / 100),
    fc.constantFrom(true, false, null, -0, 1234567890123456, 12345678901234567000, 2 ** 53 + 2),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
}));
const jsonObject = fc.dictionary(
  key,
  fc.oneof({ weight: 20, arbitrary: jsonish }, fc.jsonValue({ maxDepth: 2 })),
  {
    maxKeys: 5,
  },
);
/** `arbitrary`, one time in `n`; else null. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, n: number) =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
const scalar = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.constant(''));
/** An event member: mostly the value an SDK sends, now and then anything. */
const member = <T>(usual: fc.Arbitrary<T>) =>
  fc.option(
    fc.oneof(
      { weight: 40, arbitrary: usual },
      { weight: 2, arbitrary: scalar },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    ),
    { freq: 6 },
  );

const eventArb = fc.record({
  type: member(fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias')),
  event: member(fc.constantFrom('Order Completed', 'E')),
  name: member(fc.constant('Home')),
  userId: member(fc.string({ minLength: 1, maxLength: 12 })),
  anonymousId: member(fc.uuid()),
  previousId: member(fc.constant('anon-1')),
  groupId: member(fc.constant('g-1')),
  messageId: member(fc.string({ minLength: 1, maxLength: 12 })),
  timestamp: member(fc.constantFrom('2026-03-10T11:59:00.000Z', '2026-03-10T11:59:00Z', 'yesterday')),
  sentAt: member(fc.constant('2026-03-10T12:00:00.000Z')),
  channel: member(fc.constant('web')),
  properties: member(jsonObject),
  context: member(jsonObject),
  integrations: member(fc.constant({})),
  /** A long property: near or over the 32 KB limit, in characters of 1 to 3 bytes. */
  padding: sometimes(fc.constantFrom('x'.repeat(11_000), 'x'.repeat(40_000), '€'.repeat(11_500)), 20),
  /** A top-level `__proto__` member (JSON.parse makes it a plain property). */
  proto: sometimes(fc.constant({ polluted: true }), 20),
});

/** The event as a plain object: absent members left out, `padding` a long property. */
function eventOf(e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(e)) {
    if (value === null || key === 'padding' || key === 'proto') continue;
    out[key] = value;
  }
  if (typeof e.padding === 'string') out.properties = { ...(out.properties as object), pad: e.padding };
  if (e.proto !== null) Object.defineProperty(out, '__proto__', { value: e.proto, enumerable: true });
  return out;
}

describe('the compact parser', () => {
  it('reads every body exactly as the general path does: the same records, the same answer', async () => {
    let compact = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventArb, { minLength: 1, maxLength: 5 }),
        fc.record({
          sentAt: fc.option(fc.constant('2026-03-10T12:00:01.000Z')),
          writeKey: fc.option(fc.constant('ignored')),
          context: sometimes(jsonObject, 10),
        }),
        fc.boolean(),
        fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, fc.constantFrom(...TRAPS)),
        fc.integer(),
        async (events, envelope, single, trap, seed) => {
          // Arrange: the same body written compactly, and with a leading space, which only the
          // general path reads.
          const random = generator(seed);
          const batch = events.map(eventOf);
          const body = single
            ? batch[0]!
            : { batch, ...Object.fromEntries(Object.entries(envelope).filter(([, v]) => v !== null)) };
          const path = single ? '/v1/track' : '/v1/batch';
          const text = write(
            body,
            random,
            { kind: trap, rate: random() < 0.5 ? 0.03 : 0.25 },
            single ? 1 : 0,
          );
          const read = parseCompact(text, !single);
          runs++;
          if (read !== null) compact++;
          const viaCompact = { ...deps(), countryOf: textCountry };
          const viaGeneral = { ...deps(), countryOf: textCountry };

          // Act
          const a = await collect(request(path, text), viaCompact);
          const b = await collect(request(path, ` ${text}`), viaGeneral);

          // Assert
          expect(a.response).toEqual(b.response);
          expect(itemsOf(viaCompact.stream)).toEqual(itemsOf(viaGeneral.stream));
          if (read !== null) {
            // Nothing it takes is refused by JSON.parse; the members it keeps are JSON.parse's.
            const parsed = JSON.parse(text);
            const events = single ? [parsed] : parsed.batch;
            const kept = Object.keys(new EventFields());
            expect(read.events.map((e) => ({ ...e.raw }))).toEqual(
              events.map((e: Record<string, unknown>) =>
                Object.fromEntries(
                  kept.map((k) => [k, typeof e[k] === 'object' && e[k] !== null ? NESTED : e[k]]),
                ),
              ),
            );
          }
        },
      ),
      { numRuns: 2000 },
    );

    // The property exercised both readers.
    expect(compact).toBeGreaterThan(runs / 5);
    expect(compact).toBeLessThan(runs);
  });

  it('takes what SDKs send, escapes and characters beyond ASCII included', () => {
    const text =
      '{"batch":[{"type":"track","event":"caf\\u00e9 \\"x\\"\\n","userId":"u\\/1","messageId":"m","properties":{"emoji":"😀","n":-0.5,"ok":true,"no":null,"list":[1,{"a":[]}]},"context":{"ip":"203.0.113.9","page":{"path":"/"},"traits":{"email":"a@b.c"}}}],"sentAt":"2026-03-10T12:00:00Z"}';
    const read = parseCompact(text, true);
    expect(read).not.toBeNull();
    const [event] = read!.events;
    expect(event!.raw).toMatchObject({
      type: 'track',
      event: 'café "x"\n',
      userId: 'u/1',
      messageId: 'm',
      properties: NESTED,
      context: NESTED,
      anonymousId: undefined,
    });
    expect(read!.value.sentAt).toBe('2026-03-10T12:00:00Z');
    const { layout } = event!;
    expect(text.slice(layout.propertiesStart, layout.propertiesEnd)).toBe(
      '{"emoji":"😀","n":-0.5,"ok":true,"no":null,"list":[1,{"a":[]}]}',
    );
    const kept = layout.contextKept!;
    expect(kept).toHaveLength(2);
    expect(text.slice(kept[0], kept[1])).toBe('"page":{"path":"/"}');
    // Members kept side by side are one run, their comma included.
    const context = '{"batch":[{"context":{"a":1,"b":[2],"ip":"x","c":3,"traits":{},"d":4,"e":5}}]}';
    const spans = parseCompact(context, true)!.events[0]!.layout.contextKept!;
    expect(
      Array.from({ length: spans.length / 2 }, (_, i) => context.slice(spans[2 * i], spans[2 * i + 1])),
    ).toEqual(['"a":1,"b":[2]', '"c":3', '"d":4,"e":5']);
    expect(text.slice(event!.start, event!.end)).toBe(
      text.slice('{"batch":['.length, text.indexOf('],"sentAt"')),
    );
  });

  it('leaves to the general path everything else, valid JSON or not', () => {
    const event = (inner: string) => `{"batch":[{"type":"track","userId":"u","messageId":"m",${inner}}]}`;
    const deep = `${'{"a":'.repeat(MAX_COMPACT_DEPTH)}1${'}'.repeat(MAX_COMPACT_DEPTH)}`;
    const wide = `{${Array.from({ length: MAX_COMPACT_KEYS + 1 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    const cases: Record<string, string> = {
      whitespace: event('"properties": {"a":1}'),
      'whitespace inside properties': event('"properties":{"a": 1}'),
      exponent: event('"properties":{"a":1e2}'),
      'escaped key': event('"propert\\u0069es":{"a":1}'),
      'escaped key inside properties': event('"properties":{"\\u0061":1}'),
      'lone surrogate escape': event('"properties":{"a":"\\ud800"}'),
      'surrogate pair escape': event('"properties":{"a":"\\ud83d\\ude00"}'),
      'raw lone surrogate': event('"properties":{"a":"\ud800"}'),
      'duplicate top-level key': event('"userId":"v"'),
      'duplicate key deep inside': event('"properties":{"a":{"b":1,"c":2,"b":3}}'),
      __proto__: event('"__proto__":{"a":1}'),
      'nesting deeper than the compact depth': event(`"properties":{"d":${deep}}`),
      'more keys than the compact limit': event(`"properties":${wide}`),
      'a duplicate among many keys': event(
        `"properties":{${Array.from({ length: 20 }, (_, i) => `"k${i % 12}":${i}`).join(',')}}`,
      ),
      'inexact number': event('"properties":{"a":12345678901234567890123}'),
      'inexact number in an event member the collector reads': event('"channel":12345678901234567890123'),
      'inexact number in an event member it does not read': event('"n":12345678901234567890123'),
      'number beyond a double in an event member': event(`"n":-1${'0'.repeat(400)}.5`),
      'number beyond a double': event(`"properties":{"a":1${'0'.repeat(400)}}`),
      'batch context': '{"batch":[{"type":"track","userId":"u","messageId":"m"}],"context":{"ip":"x"}}',
      'duplicate batch': '{"batch":[],"batch":[{"type":"track","userId":"u","messageId":"m"}]}',
      'an element that is not an object': '{"batch":[{"type":"track","userId":"u","messageId":"m"},7]}',
      'trailing space': `${event('"properties":{}')} `,
      'byte order mark': `\ufeff${event('"properties":{}')}`,
      // Not JSON at all: refused by the general path, with JSON.parse's message.
      'leading zero': event('"properties":{"a":01}'),
      'bare decimal point': event('"properties":{"a":1.}'),
      'control character': event('"properties":{"a":"x\ty"}'),
      'bad escape': event('"properties":{"a":"\\x41"}'),
      'short unicode escape': event('"properties":{"a":"\\u41"}'),
      'trailing comma': event('"properties":{"a":1,}'),
      'a string followed by an object': event('"properties":{"a":"x"{"b":1}}'),
      'a number followed by an array': event('"properties":{"a":1[2]}'),
      'a literal followed by an object': event('"properties":{"a":true{}}'),
      'two strings': event('"properties":{"a":"x""y"}'),
      'unterminated string': '{"batch":[{"type":"track","userId":"u',
      'truncated literal': event('"properties":{"a":tru}'),
      'missing colon': event('"properties":{"a"1}'),
      'trailing text': `${event('"properties":{}')}x`,
    };
    for (const [name, text] of Object.entries(cases)) expect(parseCompact(text, true), name).toBeNull();
  });

  it("copies an ASCII body's texts into the record as bytes, and writes any other body's as text, alike", async () => {
    for (const title of ['plain', 'caf\u00e9 \u{1f600}']) {
      const d = deps();
      const text = JSON.stringify({
        batch: [
          {
            type: 'track',
            event: 'E',
            userId: 'u',
            messageId: 'm',
            properties: { title },
            context: { a: 1, ip: '203.0.113.9', b: [2], traits: { email: 'a@b.c' }, c: { title } },
          },
        ],
      });
      expect(parseCompact(text, true)).not.toBeNull();

      await collect(request('/v1/batch', text), d);

      const [item] = itemsOf(d.stream);
      expect(item?.kind === 'event' && [item.event.properties, item.event.context]).toEqual([
        JSON.stringify({ title }),
        JSON.stringify({ a: 1, b: [2], c: { title } }),
      ]);
    }
  });

  it('takes an object of many distinct keys, however they begin', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `"${'p'.repeat(30)}${i}":${i}`).join(',');
    const text = `{"batch":[{"type":"track","userId":"u","messageId":"m","properties":{${keys}}}]}`;
    const read = parseCompact(text, true);
    const { layout } = read!.events[0]!;
    expect(JSON.parse(text.slice(layout.propertiesStart, layout.propertiesEnd))).toEqual(
      JSON.parse(text).batch[0].properties,
    );
  });

  it('reads a single event, and hands a non-object body to the general path', () => {
    expect(parseCompact('{"type":"track","userId":7,"messageId":"m","other":[1]}', false)?.value).toEqual({
      ...new EventFields(),
      type: 'track',
      userId: 7,
      messageId: 'm',
    });
    expect(parseCompact('[{"type":"track"}]', false)).toBeNull();
    expect(parseCompact('"x"', true)).toBeNull();
    expect(parseCompact('{}', true)).toEqual({ value: {}, events: [] });
  });

  it('refuses an event it read the same way as the general path, with the whole event in its bad row', async () => {
    const d = deps();
    const text =
      '{"batch":[{"type":"track","userId":{"id":"u"},"messageId":"m-0","properties":{"a":1}},{"type":"track","event":"E","userId":"u","properties":{"a":1}}]}';
    expect(parseCompact(text, true)).not.toBeNull();

    const { response } = await collect(request('/v1/batch', text), d);

    const body = response.body as { rejected: unknown };
    expect(body.rejected).toEqual([
      {
        index: 0,
        messageId: 'm-0',
        code: 'invalid_identity',
        message: 'userId must be a string, got object',
      },
    ]);
    const [bad, good] = itemsOf(d.stream);
    expect(bad?.kind === 'bad' && bad.badRow.payload).toContain('"properties":{"a":1}');
    // No messageId: derived from the whole event, as the general path does.
    expect(good?.kind === 'event' && good.event.eventId).toMatch(/^gen-[0-9a-f]{32}$/);
  });
});
