import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanBody } from '../../lib/ingest/layout.js';
import { collect, deps, itemsOf, request } from '../helpers/collect.js';
import { generator } from '../helpers/random.js';

/** A number's JSON text, sometimes with an exponent (`25e-1` for 2.5), always the same value. */
function numberText(n: number, random: () => number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e15 && random() < 0.2) return `${n}e0`;
  if (Number.isInteger(n) && n !== 0 && Math.abs(n) < 1e15 && random() < 0.1) return `${n * 10}E-1`;
  return JSON.stringify(n);
}

/** A key's JSON text, sometimes with its first character escaped (`"\u0069p"` is `ip`). */
function keyText(key: string, random: () => number): string {
  if (key.length > 0 && random() < 0.25) {
    const code = key.charCodeAt(0).toString(16).padStart(4, '0');
    return `"\\u${code}${JSON.stringify(key.slice(1)).slice(1)}`;
  }
  return JSON.stringify(key);
}

/**
 * Writes a JSON value the many ways a client may: whitespace between tokens, exponents, escaped
 * keys, and duplicate keys whose earlier value JSON.parse discards. Parses back to `value`.
 */
function write(value: unknown, random: () => number): string {
  const space = () => (random() < 0.02 ? [' ', '\n', '\t', '\r\n'][Math.floor(random() * 4)]! : '');
  if (typeof value === 'number') return numberText(value, random);
  if (Array.isArray(value)) return `[${space()}${value.map((v) => write(v, random)).join(`,${space()}`)}]`;
  if (typeof value === 'object' && value !== null) {
    const members: string[] = [];
    for (const [key, v] of Object.entries(value)) {
      if (random() < 0.05) members.push(`${keyText(key, random)}:${write({ hidden: '\ud800' }, random)}`);
      members.push(`${keyText(key, random)}${space()}:${space()}${write(v, random)}`);
    }
    return `{${space()}${members.join(`,${space()}`)}${space()}}`;
  }
  return JSON.stringify(value);
}

/** A value with its object keys sorted, so two JSON texts of one value compare equal. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return Object.is(value, -0) ? 0 : value;
}

const jsonObject = fc.dictionary(
  fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('ip', 'traits', '__proto__', 'a', 'b')),
  fc.jsonValue({ maxDepth: 3 }),
  { maxKeys: 5 },
);
const eventArb = fc.record(
  { properties: jsonObject, context: jsonObject, name: fc.constantFrom('E', 'Order') },
  { requiredKeys: ['name'] },
);

describe('event text taken from the body', () => {
  it('means exactly what the parsed event means, however the body is written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventArb, { minLength: 1, maxLength: 6 }),
        fc.option(jsonObject),
        fc.integer(),
        async (events, batchContext, seed) => {
          // Arrange
          const batch = events.map((e, i) => ({
            type: 'track',
            event: e.name,
            userId: `u-${i}`,
            messageId: `m-${i}`,
            ...(e.properties === undefined ? {} : { properties: e.properties }),
            ...(e.context === undefined ? {} : { context: e.context }),
          }));
          const body = batchContext === null ? { batch } : { batch, context: batchContext };
          const text = write(body, generator(seed));
          expect(canonical(JSON.parse(text))).toEqual(canonical(body));
          const d = deps();

          // Act
          await collect(request('/v1/batch', text), d);

          // Assert: the stored texts are single-line JSON of the properties, and of the context
          // (the batch's under the event's) without IP and traits.
          const stored = new Map(
            itemsOf(d.stream).flatMap((item) =>
              item.kind === 'event' ? [[item.event.eventId, item.event]] : [],
            ),
          );
          for (const [i, e] of batch.entries()) {
            const event = stored.get(`m-${i}`);
            if (event === undefined) continue; // refused (a lone surrogate, too deep): not this test's subject
            // No newline (the record's line format), no earlier duplicate left in (they hold \ud800).
            for (const stored of [event.properties ?? '', event.context ?? '']) {
              expect(stored).not.toContain('\n');
              expect(stored).not.toContain('\\ud800');
            }
            const properties = event.properties === null ? null : JSON.parse(event.properties);
            expect(canonical(properties)).toEqual(
              e.properties === undefined ? null : canonical(e.properties),
            );
            const merged = batchContext === null ? e.context : { ...batchContext, ...(e.context ?? {}) };
            const expected =
              merged === undefined
                ? null
                : Object.fromEntries(Object.entries(merged).filter(([k]) => k !== 'ip' && k !== 'traits'));
            const context = event.context === null ? null : JSON.parse(event.context);
            expect(canonical(context)).toEqual(canonical(expected));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the last of duplicate keys, never a flaw the parse discarded, and knows escaped keys', async () => {
    // Arrange: each earlier duplicate holds something refused had it been kept.
    const d = deps();
    const text = `{"batch":[
{"type":"track","event":"E","userId":"u","messageId":"m-0","properties":{"a":"\\ud800","a":1}},
{"type":"track","event":"E","userId":"u","messageId":"m-1","properties":{"n":{"x":1e999},"n":2}},
{"type":"track","event":"E","userId":"u","messageId":"m-2","context":{"ip":"203.0.113.9","\\u0069p":"203.0.113.9","page":"/"}},
{"type":"track","event":"E","userId":"u","messageId":"m-3","properties":{"p":1},"properties":{"p":2}},
{"type":"track","event":"E","userId":"u","messageId":"m-4","context":{"\\u0069p":"203.0.113.9","tr\\u0061its":{"email":"a@b.c"},"page":"/"}},
{"type":"track","event":"E","userId":"u","messageId":"m-5","propert\\u0069es":{"p":2}}
]}`;

    // Act
    await collect(request('/v1/batch', text), d);

    // Assert
    const byId = Object.fromEntries(
      itemsOf(d.stream).flatMap((i) => (i.kind === 'event' ? [[i.event.eventId, i.event]] : [])),
    );
    expect(byId['m-0']?.properties).toBe('{"a":1}');
    expect(byId['m-1']?.properties).toBe('{"n":2}');
    expect(byId['m-2']?.context).toBe('{"page":"/"}');
    expect(byId['m-3']?.properties).toBe('{"p":2}');
    expect(byId['m-4']?.context).toBe('{"page":"/"}');
    expect(byId['m-5']?.properties).toBe('{"p":2}');
  });

  it('takes the text verbatim where it can, and says where it cannot', () => {
    const text =
      '{"batch":[{"properties":{"a":1.50},"context":{"ip":"x","b":[1,2]}},{"properties":{"a": 1}},7]}';
    const layout = scanBody(text, true);
    const [first, second, third] = layout!.events;
    expect(text.slice(first!.propertiesStart, first!.propertiesEnd)).toBe('{"a":1.50}');
    const [keptStart, keptEnd] = first!.contextKept!;
    expect(text.slice(keptStart, keptEnd)).toBe('"b":[1,2]');
    expect([first!.propertiesEntries, first!.contextEntries]).toEqual([1, 4]);
    expect(second!.propertiesStart).toBe(-1);
    expect(third).toBeNull();
    // Nesting deeper than any event may hold, and an escaped top-level key: scanned the slow way.
    expect(scanBody(`{"batch":[${'['.repeat(100)}${']'.repeat(100)}]}`, true)).toBeNull();
    expect(scanBody('{"b\\u0061tch":[{}],"batch":[]}', true)).toBeNull();
  });
});
