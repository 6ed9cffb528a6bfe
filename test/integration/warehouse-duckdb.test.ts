import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LakeEvent, utcDate } from '../../lib/events.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { type LakeRecord, writeBatch } from '../../lib/lake/writer.js';
import { silentLogger } from '../../lib/log.js';
import { encodeRecords } from '../../lib/stream/codec.js';
import { addDays } from '../../lib/warehouse/days.js';
import { DuckDbWarehouse } from '../../lib/warehouse/duckdb.js';
import { runRollup } from '../../lib/warehouse/rollup.js';
import { bruteForce } from '../helpers/brute.js';
import { lakeEvent } from '../helpers/events.js';

const TODAY = '2026-03-31';
const NOW = new Date(`${TODAY}T18:00:00Z`);
const DAY = 86_400_000;
const PROJECTS = ['a', 'b'];
let sequence = 1000;

/** Writes events through the real lake writer, in records of up to 25 events, as one batch. */
async function land(store: FsObjectStore, events: LakeEvent[], arrivalMs: number): Promise<void> {
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

async function withWarehouse<T>(
  work: (store: FsObjectStore, warehouse: DuckDbWarehouse) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-wh-'));
  const store = new FsObjectStore(join(dir, 'lake'));
  const warehouse = await DuckDbWarehouse.open({
    path: join(dir, 'w.duckdb'),
    lakeRoot: join(dir, 'lake'),
    homeDirectory: dir,
    threads: 1,
  });
  try {
    return await work(store, warehouse);
  } finally {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const eventArb = fc
  .record({
    project: fc.constantFrom(...PROJECTS),
    id: fc.integer({ min: 0, max: 400 }),
    user: fc.option(fc.integer({ min: 1, max: 25 }), { nil: null }),
    anonymous: fc.integer({ min: 1, max: 25 }),
    daysAgo: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constant(0)),
    msInDay: fc.integer({ min: 0, max: DAY - 1 }),
    wave: fc.integer({ min: 0, max: 3 }),
  })
  .map((r) => {
    const day = Date.parse(`${addDays(TODAY, -r.daysAgo)}T00:00:00Z`);
    const event: LakeEvent = {
      project: r.project,
      eventId: `e${r.id}`,
      type: 'track',
      event: 'x',
      userHash: r.user === null ? null : BigInt(r.user) * 1_000_003n + 2n ** 62n,
      anonymousHash: BigInt(r.anonymous),
      eventTime: Math.min(day + r.msInDay, NOW.getTime()),
      receivedAt: NOW.getTime(),
      properties: null,
      context: null,
      keyVersion: 1,
      flags: null,
      channel: null,
    };
    return { event, wave: r.wave };
  });

describe('DuckDB warehouse', () => {
  it('equals a brute-force count after waves of late, duplicated events over many projects', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 150 }), async (drawn) => {
        // A resent event is the same event: every copy of an id carries the first copy's content.
        const first = new Map<string, LakeEvent>();
        const generated = drawn.map((g) => {
          const key = `${g.event.project}/${g.event.eventId}`;
          if (!first.has(key)) first.set(key, g.event);
          return { event: first.get(key)!, wave: g.wave };
        });
        await withWarehouse(async (store, warehouse) => {
          // Arrange: each wave lands, then a rollup runs, as on a live system.
          for (const wave of [0, 1, 2]) {
            await land(
              store,
              generated.filter((g) => g.wave === wave).map((g) => g.event),
              NOW.getTime() - (2 - wave) * 60_000,
            );
            await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
          }
          // Wave 3 lands after the last rollup: today's numbers must include its events of today
          // (live), the past days keep their rolled-up numbers until the next rollup.
          const wave3 = generated.filter((g) => g.wave === 3).map((g) => g.event);
          await land(store, wave3, NOW.getTime());
          const rolled = generated.filter((g) => g.wave < 3).map((g) => g.event);
          const liveToday = [...rolled, ...wave3.filter((e) => utcDate(e.eventTime) === TODAY)];
          const from = addDays(TODAY, -75);

          // Act and assert, per project.
          for (const project of PROJECTS) {
            const answer = await warehouse.activeUsers(project, from, TODAY, TODAY);
            expect(answer.slice(0, -1)).toEqual(bruteForce(rolled, project, from, addDays(TODAY, -1)));
            expect(answer.at(-1)).toEqual(bruteForce(liveToday, project, TODAY, TODAY)[0]);
          }
        });
      }),
      { numRuns: 12 },
    );
  });

  it('gives identical numbers when a rollup is run again in full', async () => {
    await withWarehouse(async (store, warehouse) => {
      const events = Array.from({ length: 300 }, (_, i) =>
        lakeEvent({
          project: 'a',
          eventId: `e${i}`,
          userHash: BigInt(i % 37),
          eventTime: NOW.getTime() - (i % 50) * DAY,
          receivedAt: NOW.getTime(),
        }),
      );
      await land(store, events, NOW.getTime());
      await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
      const first = await warehouse.activeUsers('a', addDays(TODAY, -60), TODAY, TODAY);

      const rerun = await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW, full: true });
      const incremental = await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });

      expect(rerun.manifests).toBe(0);
      expect(incremental.manifests).toBe(0);
      expect(await warehouse.activeUsers('a', addDays(TODAY, -60), TODAY, TODAY)).toEqual(first);
      expect(first).toEqual(bruteForce(events, 'a', addDays(TODAY, -60), TODAY));
    });
  });

  it('gives the brute-force numbers when two rollups run at once', async () => {
    await withWarehouse(async (store, warehouse) => {
      const events = Array.from({ length: 200 }, (_, i) =>
        lakeEvent({
          project: 'b',
          eventId: `c${i}`,
          userHash: BigInt(i % 23),
          eventTime: NOW.getTime() - (i % 40) * DAY,
          receivedAt: NOW.getTime(),
        }),
      );
      await land(store, events.slice(0, 100), NOW.getTime());
      await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
      await land(store, events.slice(100), NOW.getTime());

      const deps = { store, warehouse, logger: silentLogger };
      const [one, two] = await Promise.all([runRollup(deps, { now: NOW }), runRollup(deps, { now: NOW })]);

      expect(one.manifests + two.manifests).toBeGreaterThanOrEqual(1);
      const from = addDays(TODAY, -45);
      expect(await warehouse.activeUsers('b', from, TODAY, TODAY)).toEqual(
        bruteForce(events, 'b', from, TODAY),
      );
    });
  });

  it('keeps the old numbers when a refresh fails halfway', async () => {
    await withWarehouse(async (store, warehouse) => {
      const event = (i: number, daysAgo: number): LakeEvent =>
        lakeEvent({
          project: 'a',
          eventId: `k${i}`,
          userHash: BigInt(i),
          eventTime: NOW.getTime() - daysAgo * DAY,
          receivedAt: NOW.getTime(),
        });
      await land(store, [event(1, 3), event(2, 3)], NOW.getTime());
      await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
      const before = await warehouse.activeUsers('a', addDays(TODAY, -5), addDays(TODAY, -1), TODAY);

      // A corrupt file in the day makes the insert fail after the day's rows were deleted.
      await store.put(
        `events/project=a/dt=${addDays(TODAY, -3)}/zz-corrupt.parquet`,
        Buffer.from('not parquet'),
        '',
      );
      const failed = await warehouse
        .refresh([{ project: 'a', dt: addDays(TODAY, -3) }], TODAY)
        .catch((e: Error) => e);

      expect(failed).toBeInstanceOf(Error);
      expect(await warehouse.activeUsers('a', addDays(TODAY, -5), addDays(TODAY, -1), TODAY)).toEqual(before);
      expect(before.find((d) => d.dt === addDays(TODAY, -3))).toMatchObject({ dau: 2 });
    });
  });

  it('answers analyst SQL over the deduplicated events, before and after files land', async () => {
    await withWarehouse(async (store, warehouse) => {
      const empty = await warehouse.query('SELECT count(*) AS n FROM events');
      const copy = lakeEvent({ eventId: 'same' });
      await land(store, [copy], NOW.getTime());
      await land(store, [copy, lakeEvent({ eventId: 'other' })], NOW.getTime());

      const after = await warehouse.query(
        'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events',
      );
      const raw = await warehouse.query('SELECT count(*) AS n FROM events_all');

      expect(empty).toEqual({ columns: ['n'], rows: [[0n]] });
      expect(after.rows).toEqual([[2n, 2n]]);
      expect(raw.rows).toEqual([[3n]]);
    });
  });

  it('serves today from a live scan before any rollup', async () => {
    await withWarehouse(async (store, warehouse) => {
      const at = NOW.getTime() - 60_000;
      await land(
        store,
        [1, 2, 3].map((i) =>
          lakeEvent({ project: 'b', eventId: `t${i}`, userHash: BigInt(i), eventTime: at, receivedAt: at }),
        ),
        at,
      );

      const [today] = await warehouse.activeUsers('b', TODAY, TODAY, TODAY);

      expect(today).toEqual({ dt: TODAY, dau: 3, wau: 3, mau: 3 });
      expect(await warehouse.lastRefresh('b')).toBeNull();
    });
  });
});
