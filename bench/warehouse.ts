/**
 * The warehouse benchmark: a synthetic lake of 10 M events from 1 M users over 90 days (sizes
 * from BENCH_EVENTS / BENCH_USERS), then in the same run: a full rebuild of every day, the
 * refresh of one changed day (next to it), and the latency of the active-users query.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { addDays, daysFrom } from '../lib/warehouse/days.js';
import { DuckDbWarehouse } from '../lib/warehouse/duckdb.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const USERS = Number(process.env.BENCH_USERS ?? 1_000_000);
const DAYS = 90;
const FIRST = '2026-01-01';
const LAST = addDays(FIRST, DAYS - 1);
const QUERY_RUNS = 40;
const BREAKDOWN_RUNS = 10;
const NEW_FILE_RUNS = 5;
const NEW_FILE_EVENTS = 1_000;
/** Late events landing on the changed day before its refresh. */
const LATE_EVENTS = 5_000;

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Late events for one day: another file in its partition, from users drawn like the rest, ids its own (file and day). */
async function addLateEvents(lakeRoot: string, dt: string, count: number, file = 'late'): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  await db.run(`SET TimeZone = 'UTC'`);
  await db.run(`COPY (
      SELECT '${file}-${dt}-' || i AS event_id, 'track' AS type, 'Viewed' AS event,
        CAST(floor(pow(random(), 2.5) * ${USERS}) AS BIGINT) * 7919 + 1 AS user_hash, NULL::BIGINT AS anonymous_hash,
        TIMESTAMPTZ '${dt} 12:00:00+00' AS event_time, TIMESTAMPTZ '${LAST} 23:59:59+00' AS received_at,
        NULL::VARCHAR AS properties, NULL::VARCHAR AS context, 1 AS key_version, NULL::VARCHAR AS flags, NULL::VARCHAR AS channel
      FROM range(${count}) t(i)
    ) TO '${join(lakeRoot, 'events', 'project=bench', `dt=${dt}`, `${file}.parquet`)}' (FORMAT parquet, COMPRESSION zstd)`);
  db.closeSync();
  instance.closeSync();
}

/** Writes the lake with DuckDB itself: hive partitions project=/dt=, our column types, power-law users. */
async function generateLake(lakeRoot: string): Promise<void> {
  await mkdir(lakeRoot, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  await db.run(`SET TimeZone = 'UTC'`);
  await db.run(`SELECT setseed(0.42)`);
  await db.run(`COPY (
      SELECT *, CAST(event_time AS DATE) AS dt FROM (
        SELECT 'e' || i AS event_id, 'track' AS type, 'Viewed' AS event,
          CAST(floor(pow(random(), 2.5) * ${USERS}) AS BIGINT) * 7919 + 1 AS user_hash,
          NULL::BIGINT AS anonymous_hash,
          TIMESTAMPTZ '${FIRST} 00:00:00+00' + to_seconds(CAST(floor(random() * ${DAYS * 86_400}) AS BIGINT)) AS event_time,
          TIMESTAMPTZ '${LAST} 23:59:59+00' AS received_at,
          NULL::VARCHAR AS properties, NULL::VARCHAR AS context, 1 AS key_version, NULL::VARCHAR AS flags, NULL::VARCHAR AS channel,
          ['web', 'ios', 'android'][1 + i % 3] AS platform,
          ['US', 'DE', 'GB', 'FR', 'BR', 'JP', 'IN', 'CA', 'AU', 'ES', 'IT', 'NL'][1 + CAST(floor(pow(random(), 2) * 12) AS BIGINT)] AS country,
          'bench' AS project
        FROM range(${EVENTS}) t(i)
      )
    ) TO '${join(lakeRoot, 'events')}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (project, dt))`);
  db.closeSync();
  instance.closeSync();
}

export async function benchWarehouse(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-wh-'));
  const lake = join(dir, 'lake');
  try {
    const made = await seconds(() => generateLake(lake));
    const warehouse = await DuckDbWarehouse.open({
      path: join(dir, 'w.duckdb'),
      lakeRoot: lake,
      homeDirectory: dir,
    });
    const all = daysFrom(FIRST, LAST).map((dt) => ({ project: 'bench', dt }));
    const full = await seconds(() => warehouse.refresh(all, LAST));
    const middle = addDays(FIRST, 45);
    await addLateEvents(lake, middle, LATE_EVENTS);
    const oneMid = await seconds(() => warehouse.refresh([{ project: 'bench', dt: middle }], LAST));
    await addLateEvents(lake, LAST, LATE_EVENTS);
    const oneLast = await seconds(() => warehouse.refresh([{ project: 'bench', dt: LAST }], LAST));
    const rebuiltMid = await seconds(() => warehouse.refresh([{ project: 'bench', dt: middle }], LAST));
    // Today's events since the last rollup: what a query adds to the rolled-up rows of today.
    await addLateEvents(lake, LAST, LATE_EVENTS, 'live');
    const rolled: number[] = [];
    const withLive: number[] = [];
    const byPlatform: number[] = [];
    const byCountry: number[] = [];
    const byNew: number[] = [];
    for (let i = 0; i < QUERY_RUNS; i++) {
      // 90 days all rolled up ("today" is the day after), and 90 days ending with a live today.
      rolled.push(await seconds(() => warehouse.activeUsers('bench', FIRST, LAST, addDays(LAST, 1))));
      withLive.push(await seconds(() => warehouse.activeUsers('bench', FIRST, LAST, LAST)));
    }
    // Breakdowns of the same 90 days (the last one live), the top 10 values and other; then all
    // rolled up ("today" the day after), and other for top values the rollup does not keep.
    const range = { from: FIRST, to: LAST, today: LAST };
    const rolledRange = { from: FIRST, to: LAST, today: addDays(LAST, 1) };
    const rolledUp: number[] = [];
    const otherTop: number[] = [];
    for (let i = 0; i < BREAKDOWN_RUNS; i++) {
      byPlatform.push(await seconds(() => warehouse.breakdown('bench', 'platform', range, 10)));
      byCountry.push(await seconds(() => warehouse.breakdown('bench', 'country', range, 10)));
      byNew.push(await seconds(() => warehouse.breakdown('bench', 'new_vs_returning', range, 10)));
      rolledUp.push(await seconds(() => warehouse.breakdown('bench', 'country', rolledRange, 10)));
      otherTop.push(await seconds(() => warehouse.breakdown('bench', 'country', rolledRange, 5)));
    }
    // A file newer than the rollup lands before each read: that read reads it (the reads above
    // read today's newer files once and kept their rows).
    const newFile: number[] = [];
    for (let i = 0; i < NEW_FILE_RUNS; i++) {
      await addLateEvents(lake, LAST, NEW_FILE_EVENTS, `live-${i}`);
      newFile.push(await seconds(() => warehouse.breakdown('bench', 'country', range, 10)));
    }
    await warehouse.close();
    const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
    const share = (s: number) => `${((s / full) * 100).toFixed(1)}% of the full rebuild`;
    return [
      `warehouse (DuckDB): ${EVENTS.toLocaleString('en')} events, ${USERS.toLocaleString('en')} users, ${DAYS} days (lake written in ${made.toFixed(1)} s)`,
      `  full rebuild, all ${DAYS} days           ${ms(full).padStart(9)}   (baseline)`,
      `  refresh one changed day mid-range     ${ms(oneMid).padStart(9)}   ${share(oneMid)} (${LATE_EVENTS.toLocaleString('en')} late events; the day and the 30 windows holding it; target <= 10%)`,
      `  refresh the latest day                ${ms(oneLast).padStart(9)}   ${share(oneLast)} (${LATE_EVENTS.toLocaleString('en')} new events)`,
      `  refresh a day again, nothing new      ${ms(rebuiltMid).padStart(9)}   ${share(rebuiltMid)}`,
      `  active-users, 90 days, rolled up      p50 ${ms(percentile(rolled, 0.5))}  p95 ${ms(percentile(rolled, 0.95))} (target p50 <= 50 ms)`,
      `  active-users, 90 days to a live today p50 ${ms(percentile(withLive, 0.5))}  p95 ${ms(percentile(withLive, 0.95))} (rolled-up rows + ${LATE_EVENTS.toLocaleString('en')} events of today in a file newer than the rollup, read by the first read and kept)`,
      `  breakdown by platform (3 values)      p50 ${ms(percentile(byPlatform, 0.5))}  p95 ${ms(percentile(byPlatform, 0.95))} (the same 90 days to a live today, against the line above)`,
      `  breakdown by country (12 values)      p50 ${ms(percentile(byCountry, 0.5))}  p95 ${ms(percentile(byCountry, 0.95))} (top 10 and other)`,
      `  breakdown new vs returning            p50 ${ms(percentile(byNew, 0.5))}  p95 ${ms(percentile(byNew, 0.95))} (each person's first day, kept by the rollup)`,
      `  breakdown by country, a new file      p50 ${ms(percentile(newFile, 0.5))}  p95 ${ms(percentile(newFile, 0.95))} (live today; ${NEW_FILE_EVENTS.toLocaleString('en')} events landed before each read, read then)`,
      `  breakdown by country, rolled up       p50 ${ms(percentile(rolledUp, 0.5))}  p95 ${ms(percentile(rolledUp, 0.95))} (90 days all rolled up, top 10 and other: rows the rollup wrote)`,
      `  breakdown by country, top 5           p50 ${ms(percentile(otherTop, 0.5))}  p95 ${ms(percentile(otherTop, 0.95))} (rolled up; other of values the rollup keeps none for, counted when asked)`,
    ].join('\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
