import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, deps, itemsOf, request } from '../helpers/collect.js';

const eventLike = fc.record(
  {
    type: fc.oneof(fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias'), fc.jsonValue()),
    userId: fc.oneof(fc.string(), fc.integer(), fc.jsonValue()),
    anonymousId: fc.oneof(fc.uuid(), fc.jsonValue()),
    event: fc.oneof(fc.string(), fc.jsonValue()),
    messageId: fc.oneof(fc.string({ maxLength: 120 }), fc.jsonValue()),
    timestamp: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
      fc.jsonValue(),
    ),
    sentAt: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.jsonValue(),
    ),
    properties: fc.jsonValue(),
    context: fc.jsonValue(),
    previousId: fc.string(),
    groupId: fc.string(),
  },
  { requiredKeys: [] },
);

describe('collect on arbitrary input', () => {
  it('never throws and never answers 5xx for any JSON body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue(),
        fc.constantFrom('/v1/batch', '/v1/track', '/v1/page'),
        async (body, path) => {
          const { response } = await collect(request(path, body), deps());
          expect(response.status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accounts for every event of a batch: accepted on the stream or rejected in the response', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(eventLike, fc.jsonValue()), { maxLength: 20 }), async (batch) => {
        const d = deps();
        const { response } = await collect(request('/v1/batch', { batch }), d);
        expect(response.status).toBe(200);
        const rejected = (response.body as { rejected?: unknown[] }).rejected ?? [];
        const items = itemsOf(d.stream);
        expect(items).toHaveLength(batch.length);
        expect(items.filter((i) => i.kind === 'bad')).toHaveLength(rejected.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the 32 KB event limit', () => {
  it('refuses exactly the events whose JSON is over 32768 bytes of UTF-8', async () => {
    const seen = { over: 0, under: 0 };
    const text = fc.string({
      unit: fc.constantFrom('a', 'é', '€', '𝄞', '"', '\n', '\u0000'),
      maxLength: 12_000,
      size: 'max',
    });
    await fc.assert(
      fc.asyncProperty(text, text, fc.option(text), fc.boolean(), async (a, b, ip, traits) => {
        const event: Record<string, unknown> = {
          type: 'track',
          userId: 'u',
          event: 'E',
          messageId: 'm',
          properties: { a },
          context: {
            b,
            ...(ip === null ? {} : { ip }),
            ...(traits ? { traits: { email: [...a].slice(0, 50).join('') } } : {}),
          },
        };
        const d = deps();
        const { response } = await collect(request('/v1/batch', { batch: [event] }), d);
        const over = Buffer.byteLength(JSON.stringify(event)) > 32_768;
        seen[over ? 'over' : 'under']++;
        const rejected =
          (response.body as { rejected?: Array<{ code: string; message: string }> }).rejected ?? [];
        expect(rejected.some((r) => r.code === 'size')).toBe(over);
        if (over) expect(rejected[0]?.message).toContain(`${Buffer.byteLength(JSON.stringify(event))} bytes`);
      }),
      { numRuns: 300 },
    );
    // Both sides of the limit were exercised.
    expect(seen.over).toBeGreaterThan(10);
    expect(seen.under).toBeGreaterThan(10);
  });
});
