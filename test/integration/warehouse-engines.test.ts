import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import { compactLake } from '../../lib/lake/compaction.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { eventsToParquet, parquetToEvents } from '../../lib/lake/parquet.js';
import { silentLogger } from '../../lib/log.js';
import { DIMENSIONS } from '../../lib/warehouse/breakdowns.js';
import { addDays, daysFrom } from '../../lib/warehouse/days.js';
import { DuckDbWarehouse } from '../../lib/warehouse/duckdb.js';
import { runRollup } from '../../lib/warehouse/rollup.js';
import { StarRocksWarehouse, sessionStatements } from '../../lib/warehouse/starrocks.js';
import type { Warehouse } from '../../lib/warehouse/warehouse.js';
import { bruteBreakdown, bruteForce } from '../helpers/brute.js';
import { readLakeDir } from '../helpers/duckdb.js';
import { lakeEvent } from '../helpers/events.js';
import { modelLake, StarRocksModel } from '../helpers/starrocks-model.js';
import {
  land,
  landWaves,
  NOW,
  PROJECTS,
  TODAY,
  userHash,
  workloadArb,
} from '../helpers/warehouse-workload.js';

/** Project b counts its bots (its setting `countBots`); project a leaves them out. */
const COUNT_BOTS: ReadonlySet<string> = new Set(['b']);

interface Engines {
  store: FsObjectStore;
  duckdb: DuckDbWarehouse;
  starrocks: StarRocksWarehouse;
  model: StarRocksModel;
}

/** Both engines over one lake; StarRocks' statements run on the executable model. */
async function withEngines<T>(work: (engines: Engines) => Promise<T>, version?: string): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-engines-'));
  const lakeRoot = join(dir, 'lake');
  const store = new FsObjectStore(lakeRoot);
  const duckdb = await DuckDbWarehouse.open({
    path: join(dir, 'w.duckdb'),
    lakeRoot,
    homeDirectory: dir,
    threads: 1,
    countBots: [...COUNT_BOTS],
  });
  const model = await StarRocksModel.open({ lakeRoot, version });
  // What the pool runs on every new connection.
  for (const statement of sessionStatements()) await model.query(statement);
  const starrocks = new StarRocksWarehouse(
    model,
    { replicationNum: 1, countBots: [...COUNT_BOTS] },
    modelLake(lakeRoot),
  );
  try {
    return await work({ store, duckdb, starrocks, model });
  } finally {
    await duckdb.close();
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const _rollup = (warehouse: Warehouse, store: FsObjectStore) =>
  runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });

/** A StarRocks database set up and rolled up once: one person active yesterday. */
async function rolledUpOnce(store: FsObjectStore, starrocks: StarRocksWarehouse): Promise<void> {
  await starrocks.setup();
  const at = NOW.getTime() - 86_400_000;
  await land(
    store,
    [lakeEvent({ project: 'a', eventId: 'old-1', userHash: userHash(1), eventTime: at, receivedAt: at })],
    at,
  );
  await runRollup({ store, warehouse: starrocks, logger: silentLogger }, { now: NOW });
}

/** What setup's refusals ask for: every table dropped, set up again, every manifest rolled up; then yesterday. */
async function rebuilt(store: FsObjectStore, starrocks: StarRocksWarehouse, model: StarRocksModel) {
  const tables = await model.query(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'tally'",
  );
  for (const { name } of tables) await model.query(`DROP TABLE tally.${String(name)}`);
  await starrocks.setup();
  await runRollup({ store, warehouse: starrocks, logger: silentLogger }, { now: NOW, full: true });
  return starrocks.activeUsers('a', addDays(TODAY, -1), addDays(TODAY, -1), TODAY);
}

describe('the StarRocks engine on its executable model, against DuckDB and a brute-force count', () => {
  it('gives the same numbers as DuckDB and the brute force through late waves, resends, identity merges and quiet days', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, async (generated) => {
        await withEngines(async ({ store, duckdb, starrocks }) => {
          // Arrange: set up twice (idempotent), then each wave lands and both engines roll up.
          await starrocks.setup();
          await starrocks.setup();
          const { rolled, liveToday } = await landWaves(store, generated, [duckdb, starrocks]);
          const from = addDays(TODAY, -75);

          for (const project of PROJECTS) {
            // Act
            const fromStarRocks = await starrocks.activeUsers(project, from, TODAY, TODAY);
            const fromDuckDb = await duckdb.activeUsers(project, from, TODAY, TODAY);

            // Assert
            expect(fromStarRocks).toEqual(fromDuckDb);
            expect(fromStarRocks.slice(0, -1)).toEqual(
              bruteForce(rolled, project, from, addDays(TODAY, -1), undefined, COUNT_BOTS),
            );
            expect(fromStarRocks.at(-1)).toEqual(
              bruteForce(liveToday, project, TODAY, TODAY, rolled, COUNT_BOTS)[0],
            );

            // Breakdowns: past days with two values shown (the rest as other), today live with three.
            const yesterday = addDays(TODAY, -1);
            const since = addDays(TODAY, -40);
            for (const by of DIMENSIONS) {
              const past = bruteBreakdown(rolled, project, by, since, yesterday, 2, undefined, COUNT_BOTS);
              const live = bruteBreakdown(liveToday, project, by, TODAY, TODAY, 3, rolled, COUNT_BOTS);
              for (const warehouse of [duckdb, starrocks]) {
                const got = await warehouse.breakdown(
                  project,
                  by,
                  { from: since, to: yesterday, today: TODAY },
                  2,
                );
                expect(got).toEqual(past);
                expect(
                  await warehouse.breakdown(project, by, { from: TODAY, to: TODAY, today: TODAY }, 3),
                ).toEqual(live);
                // Every person has a value each day: the values and other add up to at least the total.
                fromDuckDb.slice(-41, -1).forEach((total, day) => {
                  const parts = [...got.values, ...(got.other ? [got.other] : [])].map((v) => v.days[day]!);
                  for (const n of ['dau', 'wau', 'mau'] as const)
                    expect(parts.reduce((sum, p) => sum + p[n], 0)).toBeGreaterThanOrEqual(total[n]);
                });
              }
            }
          }

          // Bots' rows per day, once the last wave is rolled up too: as DuckDB reads the Parquet.
          for (const warehouse of [duckdb, starrocks]) await _rollup(warehouse, store);
          const lake = await readLakeDir(store.root);
          for (const project of PROJECTS) {
            const expected = daysFrom(from, TODAY).map((dt) => {
              const bots = lake.filter((r) => r.project === project && r.dt === dt && r.bot === true);
              const ids = new Set(bots.map((r) => r.user_hash ?? r.anonymous_hash));
              return { dt, events: bots.length, ids: ids.size };
            });
            expect(await duckdb.botDays(project, from, TODAY)).toEqual(expected);
            expect(await starrocks.botDays(project, from, TODAY)).toEqual(expected);
          }
        });
      }),
      { numRuns: 10 },
    );
    // Ten workloads through both engines, every breakdown included: about 45 s alone, more when
    // CI runs other files beside it.
  }, 240_000);

  it('moves the values of a past day to the person its visitor became, without reading the day again', async () => {
    await withEngines(async ({ store, duckdb, starrocks, model }) => {
      // Arrange: a user on day 10 ago; an anonymous visitor from the spring campaign on day 5 ago;
      // each rolled up. Then yesterday the visitor identifies as that user (fall campaign).
      await starrocks.setup();
      const at = (daysAgo: number) => Date.parse(`${addDays(TODAY, -daysAgo)}T12:00:00Z`);
      const campaign = (name: string) => JSON.stringify({ campaign: { name } });
      const events = [
        lakeEvent({
          project: 'a',
          eventId: 'u',
          userHash: userHash(1),
          eventTime: at(10),
          receivedAt: at(10),
        }),
        lakeEvent({
          project: 'a',
          eventId: 'v',
          userHash: null,
          anonymousHash: 7n,
          context: campaign('spring'),
          country: 'DE',
          eventTime: at(5),
          receivedAt: at(5),
        }),
        lakeEvent({
          project: 'a',
          eventId: 'w',
          userHash: userHash(1),
          anonymousHash: 7n,
          context: campaign('fall'),
          eventTime: at(1),
          receivedAt: at(1),
        }),
      ];
      let lastRollup = 0;
      for (const event of events) {
        await land(store, [event], event.receivedAt);
        lastRollup = model.filesRead.length;
        for (const warehouse of [duckdb, starrocks])
          await runRollup(
            { store, warehouse, logger: silentLogger },
            { now: new Date(event.receivedAt + 60_000) },
          );
      }

      // Act
      const from = addDays(TODAY, -12);
      const range = { from, to: addDays(TODAY, -1), today: TODAY };
      const answers = async (warehouse: Warehouse) =>
        Promise.all(DIMENSIONS.map((by) => warehouse.breakdown('a', by, range, 10)));

      // Assert: the visitor's day is the user's (returning, not new), on both engines.
      const expected = DIMENSIONS.map((by) => bruteBreakdown(events, 'a', by, from, range.to, 10));
      expect(await answers(starrocks)).toEqual(expected);
      expect(await answers(duckdb)).toEqual(expected);
      const byNew = expected[DIMENSIONS.indexOf('new_vs_returning')]!;
      expect(byNew.values.map((v) => [v.value, v.days.at(-1)!.mau])).toEqual([
        ['new', 1],
        ['returning', 1],
      ]);
      expect(byNew.values[1]!.days.find((d) => d.dt === addDays(TODAY, -5))!.dau).toBe(1);
      // The link's rollup did not read the visitor's day from the lake: its values came from day_values.
      const lakeReads = model.filesRead.slice(lastRollup).flat();
      expect(lakeReads.length).toBeGreaterThan(0);
      expect(lakeReads.filter((key) => key.includes(`/dt=${addDays(TODAY, -5)}/`))).toEqual([]);
    });
  });

  it("moves a person's first day back past a month, by a late event and by a visitor who identifies", async () => {
    await withEngines(async ({ store, duckdb, starrocks }) => {
      // Arrange: user 1 first seen 40 days ago, user 2 20 days ago, a visitor 60 days ago; each
      // rolled up. Yesterday an event of user 1 from 95 days ago arrives late (a day no rolled-up
      // day's window holds), and the visitor identifies as user 2: their first days become 95 and
      // 60 days ago, so the days they were new on (40 and 20 days ago, whose windows no changed
      // day's windows hold) are returning.
      await starrocks.setup();
      const at = (daysAgo: number) => Date.parse(`${addDays(TODAY, -daysAgo)}T12:00:00Z`);
      const event = (
        eventId: string,
        daysAgo: number,
        receivedDaysAgo: number,
        ids: { user?: number; anon?: bigint },
      ) =>
        lakeEvent({
          project: 'a',
          eventId,
          userHash: ids.user === undefined ? null : userHash(ids.user),
          anonymousHash: ids.anon ?? null,
          eventTime: at(daysAgo),
          receivedAt: at(receivedDaysAgo),
        });
      const events = [
        event('v', 60, 60, { anon: 7n }),
        event('u1', 40, 40, { user: 1 }),
        event('u2', 20, 20, { user: 2 }),
        event('late', 95, 1, { user: 1 }),
        event('link', 1, 1, { user: 2, anon: 7n }),
      ];
      for (const batch of [[events[0]!], [events[1]!], [events[2]!], [events[3]!, events[4]!]]) {
        const receivedAt = batch[0]!.receivedAt;
        await land(store, batch, receivedAt);
        for (const warehouse of [duckdb, starrocks])
          await runRollup({ store, warehouse, logger: silentLogger }, { now: new Date(receivedAt + 60_000) });
      }

      // Act
      const range = { from: addDays(TODAY, -99), to: addDays(TODAY, -1), today: TODAY };
      const fromDuckDb = await duckdb.breakdown('a', 'new_vs_returning', range, 10);
      const fromStarRocks = await starrocks.breakdown('a', 'new_vs_returning', range, 10);

      // Assert
      const expected = bruteBreakdown(events, 'a', 'new_vs_returning', range.from, range.to, 10);
      expect(fromDuckDb).toEqual(expected);
      expect(fromStarRocks).toEqual(expected);
      const returning = expected.values.find((v) => v.value === 'returning')!;
      for (const daysAgo of [40, 20]) {
        expect(returning.days.find((d) => d.dt === addDays(TODAY, -daysAgo))!.dau).toBe(1);
      }
    });
  });

  it("corrects a value's week and month at their edges, for late events a week and a month after a person's last day", async () => {
    await withEngines(async ({ store, duckdb, starrocks }) => {
      // Arrange: user 0 active every day (FR) and users 1-4 on day 60 ago (DE), rolled up; then
      // late DE events of user 1 on day 53 ago (a week after), 2 on 54 (six days), 3 on 30 (a
      // month) and 4 on 31 (29 days), rolled up: each lands at an edge of their previous day's windows.
      await starrocks.setup();
      const at = (daysAgo: number) => Date.parse(`${addDays(TODAY, -daysAgo)}T12:00:00Z`);
      const event = (
        eventId: string,
        user: number,
        daysAgo: number,
        country: string,
        receivedDaysAgo: number,
      ) =>
        lakeEvent({
          project: 'a',
          eventId,
          userHash: userHash(user),
          eventTime: at(daysAgo),
          receivedAt: at(receivedDaysAgo),
          country,
        });
      const first = [
        ...Array.from({ length: 70 }, (_, i) => event(`fr${i}`, 0, i + 1, 'FR', 2)),
        ...[1, 2, 3, 4].map((user) => event(`de${user}`, user, 60, 'DE', 2)),
      ];
      const late = [
        event('l1', 1, 53, 'DE', 1),
        event('l2', 2, 54, 'DE', 1),
        event('l3', 3, 30, 'DE', 1),
        event('l4', 4, 31, 'DE', 1),
      ];
      for (const batch of [first, late]) {
        const receivedAt = batch[0]!.receivedAt;
        await land(store, batch, receivedAt);
        for (const warehouse of [duckdb, starrocks])
          await runRollup({ store, warehouse, logger: silentLogger }, { now: new Date(receivedAt + 60_000) });
      }

      // Act
      const range = { from: addDays(TODAY, -70), to: addDays(TODAY, -1), today: TODAY };
      const fromDuckDb = await duckdb.breakdown('a', 'country', range, 10);
      const fromStarRocks = await starrocks.breakdown('a', 'country', range, 10);

      // Assert
      const expected = bruteBreakdown([...first, ...late], 'a', 'country', range.from, range.to, 10);
      expect(fromDuckDb).toEqual(expected);
      expect(fromStarRocks).toEqual(expected);
      const de = expected.values.find((v) => v.value === 'DE')!.days;
      const on = (daysAgo: number) => de.find((d) => d.dt === addDays(TODAY, -daysAgo))!;
      expect([on(53).wau, on(47).wau, on(30).mau, on(1).mau]).toEqual([2, 1, 4, 1]);
    });
  });

  it('counts in other the people of a backfilled month whose only campaign is not among the top ten', async () => {
    await withEngines(async ({ store, duckdb, starrocks }) => {
      // Arrange: 11 campaigns over the last 20 days (c10 the rarest, left out of the top ten),
      // rolled up; then a backfill of days 80-76 ago whose events all carry c10 (the only value
      // in those days' months), rolled up: the top ten stay those of the latest day.
      await starrocks.setup();
      const at = (daysAgo: number) => Date.parse(`${addDays(TODAY, -daysAgo)}T12:00:00Z`);
      const campaign = (n: number) => JSON.stringify({ campaign: { name: `c${n}` } });
      const sizes = [6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1];
      const campaignOf = sizes.flatMap((size, c) => Array.from({ length: size }, () => c));
      const recent = Array.from({ length: 20 }, (_, d) =>
        campaignOf.map((c, user) =>
          lakeEvent({
            project: 'a',
            eventId: `r${d}u${user}`,
            userHash: userHash(user),
            context: campaign(c),
            eventTime: at(d + 1),
            receivedAt: at(1),
          }),
        ),
      ).flat();
      const backfill = Array.from({ length: 5 }, (_, d) =>
        [100, 101, 102].map((user) =>
          lakeEvent({
            project: 'a',
            eventId: `b${d}u${user}`,
            userHash: userHash(user),
            context: campaign(10),
            eventTime: at(76 + d),
            receivedAt: at(0) - 3_600_000,
          }),
        ),
      ).flat();
      for (const batch of [recent, backfill]) {
        const receivedAt = batch[0]!.receivedAt;
        await land(store, batch, receivedAt);
        for (const warehouse of [duckdb, starrocks])
          await runRollup({ store, warehouse, logger: silentLogger }, { now: new Date(receivedAt + 60_000) });
      }

      // Act: the default limit over days 80 ago to yesterday (its top ten are the ones kept).
      const range = { from: addDays(TODAY, -80), to: addDays(TODAY, -1), today: TODAY };
      const fromDuckDb = await duckdb.breakdown('a', 'utm_campaign', range, 10);
      const fromStarRocks = await starrocks.breakdown('a', 'utm_campaign', range, 10);

      // Assert: the backfilled days' people are in other.
      const expected = bruteBreakdown(
        [...recent, ...backfill],
        'a',
        'utm_campaign',
        range.from,
        range.to,
        10,
      );
      expect(fromDuckDb).toEqual(expected);
      expect(fromStarRocks).toEqual(expected);
      expect(expected.other?.days.find((d) => d.dt === addDays(TODAY, -78))?.dau).toBe(3);
    });
  });

  it('keeps other for the default top values through late events, a visitor who identifies and a live today', async () => {
    await withEngines(async ({ store, duckdb, starrocks }) => {
      // Arrange: 68 users over 40 days with 13 campaigns (c0 the most common, c12 the rarest),
      // rolled up every four days; then late events for old days (a user's campaign 35 days ago), a visitor of
      // a rare campaign who identifies, each rolled up; and today's events, some rolled up.
      await starrocks.setup();
      const at = (daysAgo: number, hour = 12) =>
        Date.parse(`${addDays(TODAY, -daysAgo)}T${String(hour).padStart(2, '0')}:00:00Z`);
      const campaign = (n: number) => JSON.stringify({ campaign: { name: `c${n}` } });
      const events: ReturnType<typeof lakeEvent>[] = [];
      const byArrival = new Map<number, ReturnType<typeof lakeEvent>[]>();
      const add = (event: ReturnType<typeof lakeEvent>, arrivalDaysAgo: number) => {
        events.push(event);
        byArrival.set(arrivalDaysAgo, [...(byArrival.get(arrivalDaysAgo) ?? []), event]);
      };
      // Each user keeps one campaign; the top ten are the same every day, so the refreshes that
      // follow correct other rather than count it again.
      const sizes = [9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 1, 1, 1];
      const campaignOf = sizes.flatMap((size, c) => Array.from({ length: size }, () => c));
      for (let daysAgo = 40; daysAgo >= 1; daysAgo--) {
        campaignOf.forEach((c, user) => {
          if ((user * 7 + daysAgo * 3) % 5 === 0) return;
          add(
            lakeEvent({
              project: 'a',
              eventId: `d${daysAgo}u${user}`,
              userHash: userHash(user),
              context: campaign(c),
              eventTime: at(daysAgo),
              receivedAt: at(daysAgo),
            }),
            // Landed and rolled up four days at a time.
            Math.floor((daysAgo - 1) / 4) * 4 + 1,
          );
        });
      }
      add(
        lakeEvent({
          project: 'a',
          eventId: 'late1',
          userHash: userHash(3),
          context: campaign(12),
          eventTime: at(35),
          receivedAt: at(2, 13),
        }),
        2,
      );
      add(
        lakeEvent({
          project: 'a',
          eventId: 'late2',
          userHash: userHash(70),
          context: campaign(11),
          eventTime: at(20),
          receivedAt: at(2, 13),
        }),
        2,
      );
      add(
        lakeEvent({
          project: 'a',
          eventId: 'visit',
          userHash: null,
          anonymousHash: 9n,
          context: campaign(12),
          eventTime: at(15),
          receivedAt: at(15),
        }),
        15,
      );
      add(
        lakeEvent({
          project: 'a',
          eventId: 'link',
          userHash: userHash(5),
          anonymousHash: 9n,
          eventTime: at(1, 14),
          receivedAt: at(1, 14),
        }),
        1,
      );
      for (const [arrival, batch] of [...byArrival].sort((x, y) => y[0] - x[0])) {
        const receivedAt = Math.max(...batch.map((e) => e.receivedAt));
        await land(store, batch, receivedAt);
        for (const warehouse of [duckdb, starrocks])
          await runRollup({ store, warehouse, logger: silentLogger }, { now: new Date(receivedAt + 60_000) });
        expect(arrival).toBeGreaterThan(0);
      }
      // Today: a first file rolled up, then a second one not yet.
      const today = (user: number, hour: number) =>
        lakeEvent({
          project: 'a',
          eventId: `t${user}h${hour}`,
          userHash: userHash(user),
          context: campaign(user % 13),
          eventTime: at(0, hour),
          receivedAt: at(0, hour),
        });
      const rolledToday = [0, 1, 2].map((user) => today(user, 8));
      await land(store, rolledToday, at(0, 8));
      for (const warehouse of [duckdb, starrocks])
        await runRollup({ store, warehouse, logger: silentLogger }, { now: new Date(at(0, 8) + 60_000) });
      const todays = [...rolledToday, ...[3, 40, 41, 12].map((user) => today(user, 9))];
      await land(store, todays.slice(rolledToday.length), at(0, 9));

      // Act
      const past = { from: addDays(TODAY, -30), to: addDays(TODAY, -1), today: TODAY };
      const live = { from: addDays(TODAY, -30), to: TODAY, today: TODAY };
      const answers = await Promise.all(
        [duckdb, starrocks].flatMap((w) => [
          w.breakdown('a', 'utm_campaign', past, 10),
          w.breakdown('a', 'utm_campaign', live, 10),
        ]),
      );

      // Assert
      const expectedPast = bruteBreakdown(events, 'a', 'utm_campaign', past.from, past.to, 10);
      const expectedLive = bruteBreakdown(
        [...events, ...todays],
        'a',
        'utm_campaign',
        live.from,
        live.to,
        10,
        events,
      );
      expect(expectedPast.other?.values).toBe(4);
      expect(answers).toEqual([expectedPast, expectedLive, expectedPast, expectedLive]);
      // DuckDB answered other from what the rollup kept for these values.
      const kept = await duckdb.query(`SELECT count(*) FROM active_values WHERE dim = 'other:utm_campaign'`);
      expect(Number(kept.rows[0]![0])).toBeGreaterThan(0);
    });
  });

  it('reads a quiet day after the last rollup from the windows, not as zeros', async () => {
    await withEngines(async ({ store, duckdb, starrocks, model }) => {
      // Arrange: one active day, rolled up then; nothing since.
      await starrocks.setup();
      const day = addDays(TODAY, -20);
      const at = Date.parse(`${day}T12:00:00Z`);
      const events = [1, 2, 3].map((n) => ({
        project: 'a',
        eventId: `q${n}`,
        type: 'track' as const,
        event: 'x',
        userHash: userHash(n),
        anonymousHash: null,
        eventTime: at,
        receivedAt: at,
        properties: null,
        context: null,
        keyVersion: 1,
        flags: null,
        channel: null,
      }));
      await land(store, events, at);
      const then = new Date(at + 3_600_000);
      for (const warehouse of [duckdb, starrocks])
        await runRollup({ store, warehouse, logger: silentLogger }, { now: then });

      // Act: 20 days later, with no rollup in between.
      const fromStarRocks = await starrocks.activeUsers('a', day, TODAY, TODAY);
      const fromDuckDb = await duckdb.activeUsers('a', day, TODAY, TODAY);

      // Assert: the numbers, and when they were rolled up (the run, though nothing changed since).
      expect(fromStarRocks).toEqual(fromDuckDb);
      expect(fromStarRocks).toEqual(bruteForce(events, 'a', day, TODAY));
      expect(await starrocks.lastRollup()).toEqual(then);
      expect(await duckdb.lastRollup()).toEqual(then);
      // Every kind of statement the engine issues ran on the model.
      expect([...model.kinds].sort()).toEqual([
        'create database',
        'create table',
        'insert into',
        'insert overwrite',
        'refresh external table',
        'select',
        'set',
        'truncate',
      ]);
      expect(fromStarRocks.find((d) => d.dt === addDays(day, 10))).toEqual({
        dt: addDays(day, 10),
        dau: 0,
        wau: 0,
        mau: 3,
      });
    });
  });

  it("answers today before a project's first file of the day, when Glue has no partition to refresh", async () => {
    await withEngines(async ({ store, duckdb, starrocks, model }) => {
      // Arrange: project a active yesterday, rolled up; project b has a file today, a has none.
      await starrocks.setup();
      const yesterday = Date.parse(`${addDays(TODAY, -1)}T12:00:00Z`);
      const event = (project: string, n: number, at: number) => ({
        ...lakeEvent({
          project,
          eventId: `${project}${n}`,
          userHash: userHash(n),
          eventTime: at,
          receivedAt: at,
        }),
        previousUserHash: null,
        previousAnonymousHash: null,
      });
      const past = [1, 2].map((n) => event('a', n, yesterday));
      await land(store, past, yesterday);
      for (const warehouse of [duckdb, starrocks])
        await runRollup({ store, warehouse, logger: silentLogger }, { now: new Date(yesterday + 3_600_000) });
      await land(store, [event('b', 3, NOW.getTime())], NOW.getTime());

      // Act
      const totals = await starrocks.activeUsers('a', TODAY, TODAY, TODAY);
      const byPlatform = await starrocks.breakdown(
        'a',
        'platform',
        { from: TODAY, to: TODAY, today: TODAY },
        3,
      );

      // Assert: the refresh StarRocks refuses for a's day was left out; today reads from the
      // windows, as DuckDB says; b's partition, which Glue has, is read.
      expect(totals).toEqual(await duckdb.activeUsers('a', TODAY, TODAY, TODAY));
      expect(totals).toEqual([{ dt: TODAY, dau: 0, wau: 2, mau: 2 }]);
      expect(byPlatform).toEqual(
        await duckdb.breakdown('a', 'platform', { from: TODAY, to: TODAY, today: TODAY }, 3),
      );
      await expect(
        model.query(`REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=a/dt=${TODAY}')`),
      ).rejects.toThrow(/NullPointerException: null value in entry: project=a\/dt=.*=null/);
      expect((await starrocks.activeUsers('b', TODAY, TODAY, TODAY))[0]).toMatchObject({ dau: 1 });
    });
  });

  it.each([
    ['people', 'b', 'a', null, 2],
    // No ids that day: only its files read (day_files) say the partition was read. Project a leaves its
    // bots out (b counts them).
    [
      'only bots',
      'a',
      'b',
      JSON.stringify({ userAgent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' }),
      0,
    ],
  ])(
    'reads a day whole again after compaction replaced its files, every partition of it (one holding %s)',
    async (_, held, late, context, people) => {
      await withEngines(async ({ store, duckdb, starrocks, model }) => {
        // Arrange: one project's day in two batches, rolled up (day_files records its two files),
        // then compacted into one file (the two deleted); then a late event of the other project
        // that day, so the refresh reads the whole day again, the first one's partition included.
        const day = addDays(TODAY, -3);
        const event = (project: string, id: string, user: number) =>
          lakeEvent({
            project,
            eventId: id,
            userHash: userHash(user),
            eventTime: Date.parse(`${day}T10:00:00Z`),
            receivedAt: NOW.getTime() - 3_600_000,
            context: project === held ? context : null,
          });
        await starrocks.setup();
        await land(store, [event(held, 'one', 1)], NOW.getTime() - 3_600_000);
        await land(store, [event(held, 'two', 2)], NOW.getTime() - 3_600_000);
        for (const warehouse of [duckdb, starrocks])
          await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
        await compactLake(store, { now: NOW, graceMs: 0, logger: silentLogger });
        await land(store, [event(late, 'three', 3)], NOW.getTime());
        const before = model.filesRead.length;

        // Act
        for (const warehouse of [duckdb, starrocks])
          await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
        const answer = async (warehouse: Warehouse) => [
          ...(await warehouse.activeUsers(late, day, day, TODAY)),
          ...(await warehouse.activeUsers(held, day, day, TODAY)),
        ];

        // Assert: the compacted file is read, the deleted inputs are not.
        expect(
          (await store.list(`events/project=${held}/dt=${day}/`)).some((k) => k.includes('compacted')),
        ).toBe(true);
        expect(await answer(starrocks)).toEqual([
          { dt: day, dau: 1, wau: 1, mau: 1 },
          { dt: day, dau: people, wau: people, mau: people },
        ]);
        expect(await answer(starrocks)).toEqual(await answer(duckdb));
        const read = new Set(model.filesRead.slice(before).flat());
        expect([...read].sort()).toEqual(
          [
            ...(await store.list(`events/project=${held}/dt=${day}/`)),
            ...(await store.list(`events/project=${late}/dt=${day}/`)),
          ].sort(),
        );
      });
    },
  );

  it('reads only the files new since a day was read, a rewritten day whole, and counts bots once when a run dies before recording its files', async () => {
    await withEngines(async ({ store, duckdb, starrocks, model }) => {
      // Arrange: today's events in batches (a file each), bots among them (bot 90 in two files).
      // Two StarRocks runs die after writing the day tables: one before recording the file it
      // appended, one (a file a statement) after recording the first of the two it read whole.
      await starrocks.setup();
      let dieAt = 0;
      const dying = new StarRocksWarehouse(
        {
          query: async (sql, values) => {
            if (dieAt > 0 && sql.includes('INSERT INTO tally.day_files') && --dieAt === 0)
              throw new Error('connection lost');
            return model.query(sql, values);
          },
        },
        { replicationNum: 1, countBots: [...COUNT_BOTS] },
        modelLake(store.root, 1),
      );
      const at = NOW.getTime() - 3_600_000;
      const bot = JSON.stringify({
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0.0.0 Safari/537.36',
      });
      const event = (eventId: string, user: number, context: string | null = null) =>
        lakeEvent({
          project: 'a',
          eventId,
          userHash: userHash(user),
          context,
          eventTime: at,
          receivedAt: at,
        });
      const day = [{ project: 'a', dt: TODAY }];
      const refresh = async (reread = false) => {
        const statements = model.statements.length;
        const files = model.filesRead.length;
        const stats = await starrocks.refresh(day, TODAY, { reread });
        await duckdb.refresh(day, TODAY, { reread });
        const issued = model.statements.slice(statements);
        return {
          files: stats.filesRead,
          read: model.filesRead.slice(files).flat().length,
          catalog: issued.filter((s) => /lake\.tally_lake\.events/.test(s)).length,
          days: stats.daysRecomputed,
        };
      };
      const numbers = async (warehouse: Warehouse) => ({
        today: (await warehouse.activeUsers('a', TODAY, TODAY, addDays(TODAY, 1)))[0],
        bots: await warehouse.botDays('a', TODAY, TODAY),
      });
      const sent = [event('a', 1), event('b', 2), event('x', 90, bot), event('w', 92, bot)];
      await land(store, [...sent], at);

      // Act: the first read, a new file (its run dies, then runs again), nothing new, a file
      // written again with more rows (its run dies after recording one file: the next reads the
      // other), a reread.
      const first = await refresh();
      const more = [event('c', 3), event('d', 1), event('y', 90, bot), event('z', 91, bot)];
      await land(store, more, at + 1_000);
      sent.push(...more);
      dieAt = 1;
      await expect(dying.refresh(day, TODAY)).rejects.toThrow(/connection lost/);
      const appended = await refresh();
      const afterAppend = await numbers(starrocks);
      const unchanged = await refresh();
      const [firstFile] = await store.list(`events/project=a/dt=${TODAY}/`);
      const superset = [...parquetToEvents((await store.get(firstFile!))!, 'a'), event('e', 4)];
      await store.put(firstFile!, eventsToParquet(superset), '');
      sent.push(event('e', 4));
      dieAt = 2;
      await expect(dying.refresh(day, TODAY)).rejects.toThrow(/connection lost/);
      const resumed = await refresh();
      const reread = await refresh(true);

      // Assert: no refresh read the catalog; each read what was new, or the day whole (each file
      // three times: its counted rows, its bots' ids, its bots' rows).
      expect([first, appended, unchanged, resumed, reread]).toEqual([
        { files: 1, read: 3, catalog: 0, days: 1 },
        { files: 1, read: 3, catalog: 0, days: 1 },
        { files: 0, read: 0, catalog: 0, days: 0 },
        { files: 1, read: 3, catalog: 0, days: 1 },
        { files: 2, read: 6, catalog: 0, days: 1 },
      ]);
      expect(afterAppend).toEqual({
        today: { dt: TODAY, dau: 3, wau: 3, mau: 3 },
        bots: [{ dt: TODAY, events: 4, ids: 3 }],
      });
      const expected = {
        today: bruteForce(sent, 'a', TODAY, TODAY)[0],
        bots: [{ dt: TODAY, events: 4, ids: 3 }],
      };
      expect(await numbers(starrocks)).toEqual(expected);
      expect(await numbers(duckdb)).toEqual(expected);
      expect(expected.today?.dau).toBe(4);
    });
  });

  it("appends today's new files from the manifests the rollup read, without listing today, and lists an earlier day", async () => {
    await withEngines(async ({ store, duckdb, model }) => {
      // Arrange: StarRocks whose lake listings are counted; three batches today, one yesterday.
      const lake = modelLake(store.root);
      const listed: string[] = [];
      const starrocks = new StarRocksWarehouse(
        model,
        { replicationNum: 1, countBots: [...COUNT_BOTS] },
        {
          ...lake,
          list: (prefix) => {
            listed.push(prefix);
            return lake.list(prefix);
          },
        },
      );
      await starrocks.setup();
      const at = NOW.getTime() - 3_600_000;
      const event = (id: string, user: number, eventTime = at) =>
        lakeEvent({ project: 'a', eventId: id, userHash: userHash(user), eventTime, receivedAt: at });
      const sent: LakeEvent[] = [];
      const rollup = async (events: LakeEvent[]) => {
        await land(store, events, at);
        sent.push(...events);
        const files = model.filesRead.length;
        const lists = listed.length;
        for (const warehouse of [duckdb, starrocks])
          await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
        return {
          read: [...new Set(model.filesRead.slice(files).flat())].length,
          listed: listed.slice(lists),
        };
      };

      // Act
      const first = await rollup([event('a', 1), event('b', 2)]);
      const second = await rollup([event('c', 3), event('d', 1)]);
      const yesterday = await rollup([event('e', 4, at - 86_400_000)]);

      // Assert: each rollup read its batch's file; only the earlier day was listed.
      expect([first, second, yesterday]).toEqual([
        { read: 1, listed: [] },
        { read: 1, listed: [] },
        { read: 1, listed: [`events/project=a/dt=${addDays(TODAY, -1)}/`] },
      ]);
      const from = addDays(TODAY, -1);
      const expected = bruteForce(sent, 'a', from, TODAY);
      expect(await starrocks.activeUsers('a', from, TODAY, addDays(TODAY, 1))).toEqual(expected);
      expect(await duckdb.activeUsers('a', from, TODAY, addDays(TODAY, 1))).toEqual(expected);
      expect(expected.at(-1)?.dau).toBe(3);
    });
  });

  it('refuses a database rolled up before some of its tables existed, naming them, until its tables are rebuilt', async () => {
    await withEngines(async ({ store, starrocks, model }) => {
      // Arrange: a database rolled up once, then as an earlier Tally had it (no breakdown tables).
      await rolledUpOnce(store, starrocks);
      for (const table of ['day_values', 'daily_values']) await model.query(`DROP TABLE tally.${table}`);

      // Act and assert: refused, and refused again (nothing was created in between).
      for (let i = 0; i < 2; i++) {
        await expect(starrocks.setup()).rejects.toThrow(
          /database tally was rolled up before its tables daily_values, day_values existed .* drop the tables of database tally .* run the rollup with \{"full": true\}/,
        );
      }
      const tables = await model.query(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'tally'",
      );
      expect(tables.map((t) => t.name)).not.toContain('day_values');

      // The remedy: every table dropped, set up again, rolled up from every manifest.
      expect(await rebuilt(store, starrocks, model)).toEqual([
        { dt: addDays(TODAY, -1), dau: 1, wau: 1, mau: 1 },
      ]);
    });
  });

  it('refuses a database counted with the duplicate window of an earlier Tally, naming its tables, until it is rebuilt', async () => {
    await withEngines(async ({ store, starrocks, model }) => {
      // Arrange: a database set up and rolled up, plus the event index an earlier Tally kept.
      await rolledUpOnce(store, starrocks);
      await model.query(
        `CREATE TABLE IF NOT EXISTS tally.event_index (\n  received_day DATE NOT NULL,\n  project VARCHAR(64) NOT NULL\n) DUPLICATE KEY(received_day, project)\nDISTRIBUTED BY HASH(project)`,
      );

      // Act and assert
      await expect(starrocks.setup()).rejects.toThrow(
        /database tally has the tables event_index of an earlier Tally \(a duplicate window, or bots counted from whole days\): drop the tables of database tally .* run the rollup with \{"full": true\}/,
      );

      // The remedy, as the message says.
      expect(await rebuilt(store, starrocks, model)).toEqual([
        { dt: addDays(TODAY, -1), dau: 1, wau: 1, mau: 1 },
      ]);
    });
  });

  it('refuses a cluster older than 3.4 at setup, naming its version', async () => {
    await withEngines(async ({ starrocks }) => {
      await expect(starrocks.setup()).rejects.toThrow(/StarRocks "3\.3\.9-model" is older than 3\.4/);
    }, '3.3.9-model');
  });
});

describe('the StarRocks model holds StarRocks to its rules', () => {
  it('replaces the whole table on INSERT OVERWRITE without dynamic_overwrite, only the rows days with it', async () => {
    await withEngines(async ({ model }) => {
      await model.query('CREATE DATABASE IF NOT EXISTS t');
      await model.query(
        `CREATE TABLE IF NOT EXISTS t.d (\n  dt DATE NOT NULL,\n  n BIGINT NOT NULL\n) DUPLICATE KEY(dt)\nPARTITION BY date_trunc('day', dt)\nDISTRIBUTED BY HASH(dt)`,
      );
      await model.query(`INSERT INTO t.d (dt, n) VALUES ('2026-01-01', 1), ('2026-01-02', 2)`);

      await model.query(
        `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE t.d (dt, n) SELECT '2026-01-02', 3`,
      );
      const dynamic = await model.query('SELECT CAST(dt AS VARCHAR) AS dt, n FROM t.d ORDER BY dt');
      await model.query(`INSERT OVERWRITE t.d (dt, n) SELECT '2026-01-02', 4`);
      const whole = await model.query('SELECT CAST(dt AS VARCHAR) AS dt, n FROM t.d ORDER BY dt');

      expect(dynamic).toEqual([
        { dt: '2026-01-01', n: '1' },
        { dt: '2026-01-02', n: '3' },
      ]);
      expect(whole).toEqual([{ dt: '2026-01-02', n: '4' }]);
    });
  });

  it('refuses a primary key over 128 bytes, and upserts one within', async () => {
    await withEngines(async ({ model }) => {
      await model.query('CREATE DATABASE IF NOT EXISTS t');
      await model.query(
        `CREATE TABLE IF NOT EXISTS t.k (\n  k VARCHAR(512) NOT NULL,\n  v BIGINT\n) PRIMARY KEY(k)\nDISTRIBUTED BY HASH(k)`,
      );
      await model.query('INSERT INTO t.k (k, v) VALUES (?, 1)', ['a']);
      await model.query('INSERT INTO t.k (k, v) VALUES (?, 2)', ['a']);

      await expect(model.query('INSERT INTO t.k (k, v) VALUES (?, 1)', ['m'.repeat(129)])).rejects.toThrow(
        /primary key of 129 bytes/,
      );
      expect(await model.query('SELECT k, v FROM t.k')).toEqual([{ k: 'a', v: '2' }]);
    });
  });

  it('counts 2 bytes more for each VARCHAR of a composite key that is not its last column', async () => {
    await withEngines(async ({ model }) => {
      await model.query('CREATE DATABASE IF NOT EXISTS t');
      await model.query(
        `CREATE TABLE IF NOT EXISTS t.c (\n  a VARCHAR(200) NOT NULL,\n  b BIGINT NOT NULL\n) PRIMARY KEY(a, b)\nDISTRIBUTED BY HASH(a)`,
      );
      // 118 bytes of text + 2 + 8 = 128: within; one more byte is over.
      await model.query('INSERT INTO t.c (a, b) VALUES (?, 1)', ['x'.repeat(118)]);

      await expect(model.query('INSERT INTO t.c (a, b) VALUES (?, 1)', ['x'.repeat(119)])).rejects.toThrow(
        /primary key of 129 bytes/,
      );
    });
  });

  it('refuses a load holding one primary key twice, and a value longer than its VARCHAR', async () => {
    await withEngines(async ({ model }) => {
      await model.query('CREATE DATABASE IF NOT EXISTS t');
      await model.query(
        `CREATE TABLE IF NOT EXISTS t.u (\n  k BIGINT NOT NULL,\n  v VARCHAR(4)\n) PRIMARY KEY(k)\nDISTRIBUTED BY HASH(k)`,
      );

      await expect(model.query(`INSERT INTO t.u (k, v) VALUES (1, 'a'), (1, 'b')`)).rejects.toThrow(
        /holds 1 key\(s\) twice/,
      );
      await expect(model.query(`INSERT INTO t.u (k, v) VALUES (2, 'abcde')`)).rejects.toThrow(
        /a value of 5 bytes for t\.u\.v, a VARCHAR\(4\)/,
      );
      expect(await model.query('SELECT count(*) AS n FROM t.u')).toEqual([{ n: '0' }]);
    });
  });

  it('takes DELETE on a duplicate-key table with AND-joined conditions only', async () => {
    await withEngines(async ({ model }) => {
      await model.query('CREATE DATABASE IF NOT EXISTS t');
      await model.query(
        `CREATE TABLE IF NOT EXISTS t.x (\n  dt DATE NOT NULL,\n  n BIGINT\n) DUPLICATE KEY(dt)\nDISTRIBUTED BY HASH(dt)`,
      );
      await model.query(`INSERT INTO t.x (dt, n) VALUES ('2026-01-01', 1), ('2026-01-02', 2)`);

      await model.query(`DELETE FROM t.x WHERE dt >= '2026-01-02' AND n IN (2, 3)`);

      await expect(model.query(`DELETE FROM t.x WHERE dt = '2026-01-01' OR n = 1`)).rejects.toThrow(
        /AND only/,
      );
      await expect(model.query(`DELETE FROM t.x WHERE n IN (SELECT 1)`)).rejects.toThrow(/AND only/);
      expect(await model.query('SELECT n FROM t.x')).toEqual([{ n: '1' }]);
    });
  });

  it("refreshes the lake's whole table at setup (its columns, and every file list a cache kept)", async () => {
    await withEngines(async ({ model, store, starrocks }) => {
      // Arrange: a day read once (its file list cached), then a second file on it.
      const day = '2026-03-30';
      const event = (id: string) =>
        lakeEvent({ project: 'a', eventId: id, eventTime: Date.parse(`${day}T10:00:00Z`) });
      await land(store, [event('one')], NOW.getTime());
      const count = `SELECT count(*) AS n FROM lake.tally_lake.events WHERE dt IN ('${day}')`;
      await model.query(count);
      await land(store, [event('two')], NOW.getTime());
      const stale = await model.query(count);

      // Act: a rollup instance starting.
      await starrocks.setup();

      // Assert
      expect(stale).toEqual([{ n: '1' }]);
      expect(await model.query(count)).toEqual([{ n: '2' }]);
      expect(model.statements).toContain('REFRESH EXTERNAL TABLE lake.tally_lake.events');
    });
  });

  it('reads the lake by the partitions a WHERE names, from file lists cached until a refresh', async () => {
    await withEngines(async ({ model, store }) => {
      // Arrange: one file on a day, read once (the catalog lists it).
      const day = '2026-03-30';
      const event = (id: string) =>
        lakeEvent({ project: 'a', eventId: id, eventTime: Date.parse(`${day}T10:00:00Z`) });
      await land(store, [event('one')], NOW.getTime());
      const count = `SELECT count(*) AS n FROM lake.tally_lake.events WHERE dt IN ('${day}')`;
      expect(await model.query(count)).toEqual([{ n: '1' }]);

      // Act: a second file, then the first one replaced (as compaction does).
      await land(store, [event('two')], NOW.getTime());
      const stale = await model.query(count);
      const [first] = (await store.list(`events/project=a/dt=${day}/`)).sort();
      await store.put(`events/project=a/dt=${day}/compacted.parquet`, (await store.get(first!))!, 'x');
      await rm(join(store.root, first!));
      const gone = await model.query(count).then(
        () => 'read',
        (error: Error) => error.message,
      );
      await model.query(`REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=a/dt=${day}')`);
      const refreshed = await model.query(count);

      // Assert
      expect(stale).toEqual([{ n: '1' }]);
      expect(gone).toMatch(/file list of project=a\/dt=2026-03-30 names .* which is gone/);
      expect(refreshed).toEqual([{ n: '2' }]);
      await expect(model.query('SELECT count(*) AS n FROM lake.tally_lake.events')).rejects.toThrow(
        /reads every partition/,
      );
    });
  });

  it('reads MySQL escapes in values as StarRocks would (a LIKE prefix with _ and %)', async () => {
    await withEngines(async ({ starrocks }) => {
      await starrocks.setup();
      await starrocks.markProcessed([
        'manifests/2026-03-31/10/a_b%.json',
        'manifests/2026-03-31/10/axb.json',
      ]);

      const done = await starrocks.processedManifests('manifests/2026-03-31/10/a_b%');

      expect(done).toEqual(new Set(['manifests/2026-03-31/10/a_b%.json']));
    });
  });
});
