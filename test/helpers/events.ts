import fc from 'fast-check';
import type { LakeEvent } from '../../lib/events.js';

/** A valid LakeEvent with overrides. */
export function lakeEvent(over: Partial<LakeEvent> = {}): LakeEvent {
  return {
    project: 'shop',
    eventId: 'e-1',
    type: 'track',
    event: 'Viewed',
    userHash: 123n,
    anonymousHash: null,
    previousUserHash: null,
    previousAnonymousHash: null,
    eventTime: Date.parse('2026-03-10T10:00:00Z'),
    receivedAt: Date.parse('2026-03-10T10:00:01Z'),
    properties: '{"a":1}',
    context: null,
    keyVersion: 1,
    flags: null,
    channel: null,
    country: null,
    ...over,
  };
}

/** JSON text of an object, as the collector serializes properties and context. */
const jsonObject = fc.dictionary(fc.string(), fc.jsonValue()).map((o) => JSON.stringify(o));

const hash = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n });

/** Arbitrary valid LakeEvents (including hashes above 2^53 and odd strings). */
export const lakeEventArb: fc.Arbitrary<LakeEvent> = fc
  .record({
    project: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
    eventId: fc.string({ minLength: 1, maxLength: 100 }),
    type: fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias'),
    event: fc.option(fc.string(), { nil: null }),
    userHash: fc.option(hash, { nil: null }),
    anonymousHash: hash,
    previousUserHash: fc.option(hash, { nil: null }),
    previousAnonymousHash: fc.option(hash, { nil: null }),
    eventTime: fc.integer({ min: 0, max: Date.parse('2100-01-01') }),
    receivedAt: fc.integer({ min: 0, max: Date.parse('2100-01-01') }),
    properties: fc.option(jsonObject, { nil: null }),
    context: fc.option(jsonObject, { nil: null }),
    keyVersion: fc.integer({ min: 1, max: 1000 }),
    flags: fc.option(fc.constant('future_clamped'), { nil: null }),
    channel: fc.option(fc.string({ maxLength: 64 }), { nil: null }),
    country: fc.option(fc.constantFrom('US', 'DE', 'BR', 'JP'), { nil: null }),
  })
  .map((e) => e as LakeEvent);
