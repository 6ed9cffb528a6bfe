import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { eventsToParquet, parquetToEvents } from '../../lib/lake/parquet.js';
import { silentLogger } from '../../lib/log.js';
import { DIMENSIONS } from '../../lib/warehouse/breakdowns.js';
import { addDays } from '../../lib/warehouse/days.js';
import { DuckDbWarehouse } from '../../lib/warehouse/duckdb.js';
import { runRollup } from '../../lib/warehouse/rollup.js';
import { bruteBreakdown, bruteForce } from '../helpers/brute.js';
import { lakeEvent } from '../helpers/events.js';
import { land, landWaves, NOW, PROJECTS, TODAY, workloadArb } from '../helpers/warehouse-workload.js';

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

const DAY = 86_400_000;

describe('DuckDB warehouse', () => {
  it('equals a brute-force count through late waves, resends, identity merges and quiet days', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, async (generated) => {
        await withWarehouse(async (store, warehouse) => {
          // Arrange: waves land with a rollup after each; wave 3 after the last rollup, so
          // today's numbers include its events of today live, with the identities of the last rollup.
          const { rolled, liveToday } = await landWaves(store, generated, [warehouse]);
          const from = addDays(TODAY, -75);

          // Act and assert, per project.
          for (const project of PROJECTS) {
            const answer = await warehouse.activeUsers(project, from, TODAY, TODAY);
            expect(answer.slice(0, -1)).toEqual(bruteForce(rolled, project, from, addDays(TODAY, -1)));
            expect(answer.at(-1)).toEqual(bruteForce(liveToday, project, TODAY, TODAY, rolled)[0]);
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

  it.each([
    ['among many (marked gone, then unmarked)', 200],
    ['among few (deleted at once)', 0],
  ])('gives a past day back the person it lost when an identity link goes away, %s', async (_, others) => {
    await withWarehouse(async (store, warehouse) => {
      const d1 = addDays(TODAY, -10);
      const d2 = addDays(TODAY, -5);
      const at = (dt: string) => Date.parse(`${dt}T12:00:00Z`);
      // Received (and landed) two hours and one hour before now.
      const first = NOW.getTime() - 2 * 3_600_000;
      const second = NOW.getTime() - 3_600_000;
      const rollup = () => runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
      // Day 1: an anonymous visitor, and `others` users (with few rows, a person gone is over 1%
      // of them and deleted at once; with many, only marked gone).
      const day1 = [
        lakeEvent({
          project: 'a',
          eventId: 'v1',
          userHash: null,
          anonymousHash: 77n,
          eventTime: at(d1),
          receivedAt: first,
        }),
        ...Array.from({ length: others }, (_, i) =>
          lakeEvent({
            project: 'a',
            eventId: `o${i}`,
            userHash: BigInt(5000 + i),
            eventTime: at(d1),
            receivedAt: first,
          }),
        ),
      ];
      await land(store, day1, first);
      await rollup();
      // Day 5: the visitor identifies, so day 1's person becomes the user; then that day's file
      // goes away (as an erasure rewrites it), so the visitor is their own person again.
      await land(
        store,
        [
          lakeEvent({
            project: 'a',
            eventId: 'v2',
            userHash: 900n,
            anonymousHash: 77n,
            eventTime: at(d2),
            receivedAt: second,
          }),
        ],
        second,
      );
      await rollup();
      const visitor = async () =>
        (
          await warehouse.query(
            `SELECT user_hash FROM daily_users WHERE dt = DATE '${d1}' AND user_hash IN (77, 900)`,
          )
        ).rows;
      const linked = await warehouse.activeUsers('a', d1, d1, TODAY);
      const linkedPerson = await visitor();
      const marked = (await warehouse.query('SELECT count(*) FROM daily_users_gone')).rows;
      for (const key of await store.list(`events/project=a/dt=${d2}/`)) await store.delete(key);
      await warehouse.refresh([{ project: 'a', dt: d2 }], TODAY);

      const from = addDays(TODAY, -12);
      expect(linked).toEqual([{ dt: d1, dau: others + 1, wau: others + 1, mau: others + 1 }]);
      expect(await warehouse.activeUsers('a', from, TODAY, TODAY)).toEqual(
        bruteForce(day1, 'a', from, TODAY),
      );
      expect(linkedPerson).toEqual([[900n]]);
      expect(marked).toEqual([[others > 0 ? 1n : 0n]]);
      expect(await visitor()).toEqual([[77n]]);
    });
  });

  it('reads lake files written before the alias and enrichment columns existed', async () => {
    await withWarehouse(async (store, warehouse) => {
      // Arrange: a file of the earlier format (no previous_* columns), written by DuckDB itself.
      const day = addDays(TODAY, -1);
      const dir = join(store.root, 'events', 'project=a', `dt=${day}`);
      await mkdir(dir, { recursive: true });
      const db = await DuckDBInstance.create(':memory:');
      const connection = await db.connect();
      await connection.run(
        `COPY (SELECT 'old-' || i AS event_id, 'track' AS type, 'x' AS event, CAST(i AS BIGINT) AS user_hash,
           CAST(NULL AS BIGINT) AS anonymous_hash, TIMESTAMPTZ '${day} 10:00:00+00' AS event_time,
           TIMESTAMPTZ '${day} 10:00:01+00' AS received_at, NULL AS properties, NULL AS context,
           1 AS key_version, NULL AS flags, NULL AS channel FROM range(3) t(i))
         TO '${join(dir, 'old.parquet')}' (FORMAT parquet)`,
      );
      connection.closeSync();
      db.closeSync();

      // Act
      await warehouse.refresh([{ project: 'a', dt: day }], TODAY);
      const [numbers] = await warehouse.activeUsers('a', day, day, TODAY);
      const view = await warehouse.query(
        `SELECT count(previous_user_hash) AS n, count(country) + count(platform) + count(bot) AS enriched,
           count(*) AS rows FROM events`,
      );

      // Assert: the columns the file lacks read null, and its rows count (no bot flag).
      expect(numbers).toEqual({ dt: day, dau: 3, wau: 3, mau: 3 });
      expect(view.rows).toEqual([[0n, 0n, 3n]]);
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
      expect(await warehouse.lastRollup()).toBeNull();
    });
  });

  it('reads a file of today once between refreshes, and again after a refresh or when it is written again', async () => {
    await withWarehouse(async (store, warehouse) => {
      // Arrange: today rolled up with user 1, then a file of user 2 newer than that rollup.
      const at = NOW.getTime() - 60_000;
      const event = (eventId: string, user: number, eventTime = at, receivedAt = at) =>
        lakeEvent({ project: 'c', eventId, userHash: BigInt(user), eventTime, receivedAt });
      const today = async () => (await warehouse.activeUsers('c', TODAY, TODAY, TODAY))[0];
      const country = async () =>
        (await warehouse.breakdown('c', 'country', { from: TODAY, to: TODAY, today: TODAY }, 10)).values[0]
          ?.days[0];
      const dir = join(store.root, 'events', 'project=c', `dt=${TODAY}`);
      const files = async () => (await readdir(dir)).filter((name) => name.endsWith('.parquet'));
      await land(store, [event('a', 1)], at);
      await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
      await land(store, [event('b', 2)], at);
      const live = { before: await today(), country: await country() };

      // Act 1: a refresh of yesterday reads an alias of user 2 to user 1: one person now, though
      // user 2's file was read already.
      await land(
        store,
        [
          lakeEvent({
            project: 'c',
            eventId: 'link',
            type: 'alias',
            userHash: 1n,
            previousUserHash: 2n,
            eventTime: at - DAY,
            receivedAt: at - 30_000,
          }),
        ],
        at,
      );
      await warehouse.refresh([{ project: 'c', dt: addDays(TODAY, -1) }], TODAY);
      const afterRefresh = { totals: await today(), country: await country() };

      // Act 2: a new file of user 3, read live; then the same path written with users 4 and 5.
      const known = new Set(await files());
      await land(store, [event('c', 3)], at);
      const [written] = (await files()).filter((name) => !known.has(name));
      const beforeRewrite = await today();
      const other = new FsObjectStore(join(store.root, '..', 'other-lake'));
      await land(other, [event('d', 4), event('e', 5)], at);
      const [again] = await readdir(join(other.root, 'events', 'project=c', `dt=${TODAY}`));
      await copyFile(join(other.root, 'events', 'project=c', `dt=${TODAY}`, again!), join(dir, written!));
      const afterRewrite = { totals: await today(), country: await country() };

      // Assert
      expect(live).toEqual({
        before: { dt: TODAY, dau: 2, wau: 2, mau: 2 },
        country: { dt: TODAY, dau: 2, wau: 2, mau: 2 },
      });
      expect(afterRefresh).toEqual({
        totals: { dt: TODAY, dau: 1, wau: 1, mau: 1 },
        country: { dt: TODAY, dau: 1, wau: 1, mau: 1 },
      });
      expect(beforeRewrite).toEqual({ dt: TODAY, dau: 2, wau: 2, mau: 2 });
      expect(afterRewrite).toEqual({
        totals: { dt: TODAY, dau: 3, wau: 3, mau: 3 },
        country: { dt: TODAY, dau: 3, wau: 3, mau: 3 },
      });
    });
  });

  it('reads only the files new since a day was read, and a day whose files were rewritten whole', async () => {
    await withWarehouse(async (store, warehouse) => {
      // Arrange: today's events in batches (a file each), bots among them (bot 90 in both).
      const at = NOW.getTime() - 3_600_000;
      const bot = JSON.stringify({
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0.0.0 Safari/537.36',
      });
      const event = (eventId: string, user: number, context: string | null = null) =>
        lakeEvent({ project: 'r', eventId, userHash: BigInt(user), context, eventTime: at, receivedAt: at });
      const refresh = (reread = false) => warehouse.refresh([{ project: 'r', dt: TODAY }], TODAY, { reread });
      const numbers = async () => ({
        today: (await warehouse.activeUsers('r', TODAY, TODAY, addDays(TODAY, 1)))[0],
        bots: await warehouse.botDays('r', TODAY, TODAY),
      });
      const sent: LakeEvent[] = [event('a', 1), event('b', 2), event('x', 90, bot), event('w', 92, bot)];
      await land(store, [...sent], at);

      // Act: the first read, a new file, nothing new, a file written again with more rows, a reread.
      const first = await refresh();
      const more = [event('c', 3), event('d', 1), event('y', 90, bot), event('z', 91, bot)];
      await land(store, more, at + 1_000);
      sent.push(...more);
      const appended = await refresh();
      const afterAppend = await numbers();
      const unchanged = await refresh();
      const dir = join(store.root, 'events', 'project=r', `dt=${TODAY}`);
      const [firstFile] = (await readdir(dir)).sort();
      const rewritten = await store.get(`events/project=r/dt=${TODAY}/${firstFile}`);
      const superset = [...parquetToEvents(rewritten!, 'r'), event('e', 4)];
      await store.put(`events/project=r/dt=${TODAY}/${firstFile}`, eventsToParquet(superset), '');
      sent.push(event('e', 4));
      const whole = await refresh();
      const reread = await refresh(true);

      // Assert
      expect([first, appended, unchanged, whole, reread].map((s) => s.filesRead)).toEqual([1, 1, 0, 2, 2]);
      expect(unchanged.daysRecomputed).toBe(0);
      expect(afterAppend).toEqual({
        today: { dt: TODAY, dau: 3, wau: 3, mau: 3 },
        bots: [{ dt: TODAY, events: 4, ids: 3 }],
      });
      expect(await numbers()).toEqual({
        today: bruteForce(sent, 'r', TODAY, TODAY)[0],
        bots: [{ dt: TODAY, events: 4, ids: 3 }],
      });
      expect((await numbers()).today?.dau).toBe(4);
    });
  });

  it('updates a day appended to from its new ids: an id new to the day that changes person counts once, as its new person, in the totals and every breakdown', async () => {
    await withWarehouse(async (store, warehouse) => {
      // Arrange: today a user (1) and an anonymous visitor (500) from the web, read.
      const at = NOW.getTime() - 3_600_000;
      const web = JSON.stringify({ userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0.0.0' });
      const ios = JSON.stringify({
        userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148',
      });
      const event = (eventId: string, over: Partial<LakeEvent>) =>
        lakeEvent({ project: 'r', eventId, context: web, eventTime: at, receivedAt: at, ...over });
      const sent: LakeEvent[] = [
        event('a', { userHash: 2n ** 62n + 1n }),
        event('b', { userHash: null, anonymousHash: 500n }),
      ];
      await land(store, [...sent], at);
      const refresh = () => warehouse.refresh([{ project: 'r', dt: TODAY }], TODAY);
      await refresh();

      // Act: a new file with ids new to the day: user 9 aliased from user 4 (one person, user 4),
      // the visitor identifying as user 5 (the visitor leaves the day, user 5 joins it), a new
      // visitor (501) on iOS; the day is appended to.
      const more = [
        event('c', {
          userHash: 2n ** 62n + 9n,
          previousUserHash: 2n ** 62n + 4n,
          type: 'alias',
          context: ios,
        }),
        event('d', { userHash: 2n ** 62n + 5n, anonymousHash: 500n, type: 'identify' }),
        event('e', { userHash: null, anonymousHash: 501n, context: ios }),
      ];
      await land(store, more, at + 1_000);
      sent.push(...more);
      const appended = await refresh();

      // Assert: four persons today, every one new, by platform as the brute force says.
      const after = addDays(TODAY, 1);
      expect(appended.filesRead).toBe(1);
      expect(await warehouse.activeUsers('r', TODAY, TODAY, after)).toEqual(
        bruteForce(sent, 'r', TODAY, TODAY),
      );
      expect((await warehouse.activeUsers('r', TODAY, TODAY, after))[0]?.dau).toBe(4);
      for (const by of DIMENSIONS) {
        expect(await warehouse.breakdown('r', by, { from: TODAY, to: TODAY, today: after }, 10), by).toEqual(
          bruteBreakdown(sent, 'r', by, TODAY, TODAY, 10),
        );
      }
      const [newOnes] = (
        await warehouse.breakdown('r', 'new_vs_returning', { from: TODAY, to: TODAY, today: after }, 10)
      ).values;
      expect(newOnes).toMatchObject({ value: 'new', days: [{ dt: TODAY, dau: 4, wau: 4, mau: 4 }] });
    });
  });

  it('counts the copies of an event on each of their days, live and rolled up', async () => {
    await withWarehouse(async (store, warehouse) => {
      // Arrange: one batch not rolled up yet holds an event twice, received together: one copy
      // timed yesterday, the other today (a resend whose corrected time crossed midnight).
      const at = NOW.getTime() - 60_000;
      const copy = (eventTime: number) =>
        lakeEvent({ project: 'b', eventId: 'twice', userHash: 7n, eventTime, receivedAt: at });
      await land(store, [copy(at - DAY), copy(at)], at);

      // Act: live, today's copy counts; after the rollup, each copy on its day.
      const [live] = await warehouse.activeUsers('b', TODAY, TODAY, TODAY);
      await runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });
      const [yesterday, rolled] = await warehouse.activeUsers('b', addDays(TODAY, -1), TODAY, TODAY);

      // Assert
      expect(live).toEqual({ dt: TODAY, dau: 1, wau: 1, mau: 1 });
      expect(rolled).toEqual({ dt: TODAY, dau: 1, wau: 1, mau: 1 });
      expect(yesterday).toEqual({ dt: addDays(TODAY, -1), dau: 1, wau: 1, mau: 1 });
    });
  });
});
