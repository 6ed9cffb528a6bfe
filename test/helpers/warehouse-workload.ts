import fc from 'fast-check';
import { expect } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import type { ObjectStore } from '../../lib/lake/store.js';
import { type LakeRecord, writeBatch } from '../../lib/lake/writer.js';
import { silentLogger } from '../../lib/log.js';
import { encodeRecords } from '../../lib/stream/codec.js';
import { addDays } from '../../lib/warehouse/days.js';
import { runRollup } from '../../lib/warehouse/rollup.js';
import type { Warehouse } from '../../lib/warehouse/warehouse.js';
import { liveCopies } from './brute.js';

/** The day the property workloads end on, and the time rollups run at. */
export const TODAY = '2026-03-31';
export const NOW = new Date(`${TODAY}T18:00:00Z`);
export const PROJECTS = ['a', 'b'];
const DAY = 86_400_000;
let sequence = 1000;

/** Writes events through the real lake writer, in records of up to 25 events, as one batch. */
export async function land(
  store: ObjectStore,
  events: readonly LakeEvent[],
  arrivalMs: number,
): Promise<void> {
  const records: LakeRecord[] = [];
  for (let i = 0; i < events.length; i += 25) {
    for (const data of encodeRecords(
      events.slice(i, i + 25).map((event) => ({ kind: 'event' as const, event })),
    )) {
      records.push({
        shardId: 'shardId-000000000000',
        sequenceNumber: String(sequence++),
        partitionKey: 'p',
        data,
        arrivalMs,
      });
    }
  }
  if (records.length > 0) expect((await writeBatch(records, store)).response.batchItemFailures).toEqual([]);
}

/** User hashes are large and anonymous hashes small, as two domains of the same 63 bits. */
export const userHash = (n: number): bigint => BigInt(n) * 1_000_003n + 2n ** 62n;

const copyArb = fc.record({
  daysAgo: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constant(0)),
  msInDay: fc.integer({ min: 0, max: DAY - 1 }),
  /** Minutes before NOW the copy was received (waves 0-2; wave 3 is received at NOW). */
  receivedMinutesAgo: fc.integer({ min: 1, max: 600 }),
  wave: fc.integer({ min: 0, max: 3 }),
  /** Now and then a row reusing the event's id from another user (a client reusing messageIds). */
  reusedBy: fc.oneof(
    { weight: 10, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 25 }) },
  ),
  /** Now and then a copy resent from an address in another country. */
  movedTo: fc.oneof(
    { weight: 10, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constant('JP') },
  ),
});

/** User agents of events: none, browsers, and (a fifth of events) bots, whose events count nowhere. */
const AGENTS = [
  null,
  null,
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36',
];

/**
 * Events of two projects over 70 days in four waves (a fifth of them from bots): late waves, copies of an id re-sent with
 * other timestamps (and received in any order), ids of users and of anonymous visitors, events
 * carrying both (an identify), aliases between users and from anonymous ids, and quiet days.
 * Copies of an id carry the same identities and only their times differ, but for a few: a copy
 * resent from another country, and a row of another user reusing the id.
 */
export const workloadArb: fc.Arbitrary<Array<{ event: LakeEvent; wave: number }>> = fc
  .array(
    fc.record({
      project: fc.constantFrom(...PROJECTS),
      id: fc.integer({ min: 0, max: 400 }),
      kind: fc.constantFrom('track', 'track', 'track', 'alias'),
      user: fc.option(fc.integer({ min: 1, max: 25 }), { nil: null }),
      anonymous: fc.option(fc.integer({ min: 1, max: 25 }), { nil: null }),
      previousUser: fc.integer({ min: 1, max: 25 }),
      previousAnonymous: fc.option(fc.integer({ min: 1, max: 25 }), { nil: null }),
      copies: fc.array(copyArb, { minLength: 1, maxLength: 3 }),
      /** The event came from a crawler or a headless browser (every copy: they share a context). */
      agent: fc.constantFrom(...AGENTS),
      /** Breakdown values: a campaign in the context, a country found at collection. */
      campaign: fc.constantFrom(null, 'spring', 'fall'),
      country: fc.constantFrom(undefined, 'DE', 'US', 'FR'),
    }),
    { minLength: 1, maxLength: 120 },
  )
  .map((drawn) => {
    const identities = new Map<string, Partial<LakeEvent>>();
    const out: Array<{ event: LakeEvent; wave: number }> = [];
    for (const d of drawn) {
      const key = `${d.project}/e${d.id}`;
      if (!identities.has(key)) {
        const user = d.user ?? (d.anonymous === null || d.kind === 'alias' ? d.previousUser : null);
        identities.set(key, {
          type: d.kind as LakeEvent['type'],
          userHash: user === null ? null : userHash(user),
          anonymousHash: d.anonymous === null ? null : BigInt(d.anonymous),
          previousUserHash: d.kind === 'alias' ? userHash(d.previousUser) : null,
          previousAnonymousHash:
            d.kind === 'alias' && d.previousAnonymous !== null ? BigInt(d.previousAnonymous) : null,
          context:
            d.agent === null && d.campaign === null
              ? null
              : JSON.stringify({
                  ...(d.agent === null ? {} : { userAgent: d.agent }),
                  ...(d.campaign === null ? {} : { campaign: { name: d.campaign, source: 'news' } }),
                }),
          ...(d.country === undefined ? {} : { country: d.country }),
        });
      }
      for (const c of d.copies) {
        const day = Date.parse(`${addDays(TODAY, -c.daysAgo)}T00:00:00Z`);
        out.push({
          wave: c.wave,
          event: {
            project: d.project,
            eventId: `e${d.id}`,
            type: 'track',
            event: 'x',
            userHash: null,
            anonymousHash: null,
            eventTime: Math.min(day + c.msInDay, NOW.getTime() - 1),
            receivedAt: c.wave === 3 ? NOW.getTime() : NOW.getTime() - c.receivedMinutesAgo * 60_000,
            properties: null,
            context: null,
            keyVersion: 1,
            flags: null,
            channel: null,
            ...identities.get(key),
            ...(c.reusedBy === null
              ? {}
              : { type: 'track', userHash: userHash(c.reusedBy), anonymousHash: null }),
            ...(c.movedTo === null ? {} : { country: c.movedTo }),
          },
        });
      }
    }
    return out;
  });

/**
 * Lands waves 0-2 of a workload with a rollup of every warehouse after each (as on a live
 * system), then wave 3 after the last rollup. Returns what was rolled up, and what today's live
 * numbers must count (rolled-up events plus wave 3's events of today).
 */
export async function landWaves(
  store: ObjectStore,
  generated: ReadonlyArray<{ event: LakeEvent; wave: number }>,
  warehouses: readonly Warehouse[],
): Promise<{ rolled: LakeEvent[]; liveToday: LakeEvent[] }> {
  const wave = (n: number) => generated.filter((g) => g.wave === n).map((g) => g.event);
  for (const n of [0, 1, 2]) {
    await land(store, wave(n), NOW.getTime() - (2 - n) * 60_000);
    for (const warehouse of warehouses)
      await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
  }
  await land(store, wave(3), NOW.getTime());
  const rolled = generated.filter((g) => g.wave < 3).map((g) => g.event);
  return {
    rolled,
    liveToday: [...rolled, ...liveCopies(wave(3), TODAY)],
  };
}
