/**
 * The growth curve (`BENCH_ONLY=growth`): does a rollup cost follow the new data or the history?
 * `BENCH_GROWTH_AXIS=time` makes each history longer (90 days per 10^6 events) instead of denser.
 * Lakes of 10^6, 10^7 and 3x10^7 events over 90 days (sizes from BENCH_GROWTH_SIZES), written by
 * DuckDB, with identity evidence like a web product's: 10% of people are visitors who identify
 * on some day (events before carry their anonymous id only, after both), 20% visitors who never
 * do, the rest users; 1 event in 2,000 an alias to a new user id; 1 in 100 resent 5 minutes
 * later. Each is rebuilt in full and checkpointed, then opened afresh and its last day refreshed
 * once (the steady state of a warehouse in use), then each of NEW_DAYS new days of 20,000 events
 * is refreshed: without new links, again with
 * nothing new, and with new links (new visitors who identify, and visitors of the past who
 * identify now, which moves their past days to their user); each figure is the median over the
 * new days. Then the 90-day active-users query, rolled up and ending with a live today. Every
 * figure is printed with its ratio to the smallest history.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { addDays, daysFrom } from '../lib/warehouse/days.js';
import { DuckDbWarehouse } from '../lib/warehouse/duckdb.js';

const SIZES = (process.env.BENCH_GROWTH_SIZES ?? '1000000,10000000,30000000').split(',').map(Number);
/** `density` (default): every history spans 90 days; `time`: each spans 90 days per 10^6 events. */
const AXIS = process.env.BENCH_GROWTH_AXIS === 'time' ? 'time' : 'density';
const DAYS = 90;
export const TODAY = '2026-04-01';
const LAST = addDays(TODAY, -1);

/** How many days a history of this size spans. */
function spanDays(size: number, smallest: number): number {
  return AXIS === 'time' ? Math.round((DAYS * size) / smallest) : DAYS;
}
const NEW_EVENTS = 20_000;
const NEW_DAYS = 3;
const QUERY_RUNS = 15;

/** Ids of person k: user hashes in the upper half of the 63 bits, anonymous ones below. */
const USER = (k: string) => `(${k}) * 7919 + 4611686018427387904`;
const ANON = (k: string) => `(${k}) * 7919 + 3`;

/** One event per row of `source` (columns i, k, t: row number, person index, event time). */
export function events(source: string, people: number, identifyFrom: string, idPrefix = 'e'): string {
  // Kind of person k: 0 identifies on its day (the first day + k % days), 1-2 never does, else a user.
  return `SELECT '${idPrefix}' || i AS event_id,
      CASE WHEN k % 10 >= 3 AND i % 2000 = 7 THEN 'alias' ELSE 'track' END AS type, 'Viewed' AS event,
      CASE WHEN k % 10 IN (1, 2) THEN NULL
           WHEN k % 10 = 0 AND t < ${identifyFrom} THEN NULL
           ELSE ${USER('k')} END AS user_hash,
      CASE WHEN k % 10 IN (0, 1, 2) THEN ${ANON('k')} END AS anonymous_hash,
      t AS event_time, t + to_seconds(CAST(floor(random() * 300) AS BIGINT)) AS received_at,
      NULL::VARCHAR AS properties, NULL::VARCHAR AS context, 1 AS key_version, NULL::VARCHAR AS flags,
      NULL::VARCHAR AS channel,
      CASE WHEN k % 10 >= 3 AND i % 2000 = 7 THEN ${USER(`k + ${people * 4}`)} END AS previous_user_hash,
      NULL::BIGINT AS previous_anonymous_hash, 'bench' AS project
    FROM (${source})`;
}

export async function duck<T>(
  work: (db: import('@duckdb/node-api').DuckDBConnection) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    await db.run(`SET TimeZone = 'UTC'`);
    await db.run(`SELECT setseed(0.42)`);
    return await work(db);
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** The history: `size` events over `days` days up to yesterday, and 1 in 100 resent 5 minutes later. */
export async function writeHistory(lake: string, size: number, days = DAYS): Promise<void> {
  const first = addDays(TODAY, -days);
  const people = Math.max(1000, Math.floor(size / 10));
  await mkdir(lake, { recursive: true });
  const identifyDay = `TIMESTAMPTZ '${first} 00:00:00+00' + to_days(CAST(k % ${days} AS INTEGER))`;
  await duck(async (db) => {
    await db.run(
      `CREATE TABLE h AS ${events(
        `SELECT i, CAST(floor(pow(random(), 2.5) * ${people}) AS BIGINT) AS k,
           TIMESTAMPTZ '${first} 00:00:00+00' + to_seconds(CAST(floor(random() * ${days * 86_400}) AS BIGINT)) AS t
         FROM range(${size}) r(i)`,
        people,
        identifyDay,
      )}`,
    );
    await db.run(
      `INSERT INTO h SELECT * REPLACE (received_at + INTERVAL 5 MINUTE AS received_at) FROM h
       WHERE hash(event_id) % 100 = 0`,
    );
    await db.run(
      `COPY (SELECT *, CAST(event_time AS DATE) AS dt FROM h)
       TO '${join(lake, 'events')}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (project, dt))`,
    );
  });
}

/**
 * A file of the events of new day number `n` (0 is TODAY). Without links: people of the history,
 * as they are. With links: a fifth are new visitors who identify that day, and 2% visitors of the
 * past who identify now.
 */
async function writeNewDay(lake: string, size: number, n: number, withLinks: boolean): Promise<void> {
  const people = Math.max(1000, Math.floor(size / 10));
  const day = addDays(TODAY, n);
  const name = `${withLinks ? 'linked' : 'plain'}${n}`;
  const dir = join(lake, 'events', 'project=bench', `dt=${day}`);
  await mkdir(dir, { recursive: true });
  const offset = 2 * n + (withLinks ? 1 : 0);
  await duck(async (db) => {
    await db.run(`SELECT setseed(${withLinks ? 0.7 : 0.3} - ${n} / 10)`);
    const k = withLinks
      ? `CASE WHEN i % 5 = 0 THEN ${people * 2} + (${n * NEW_EVENTS} + i) * 10
              WHEN i % 50 = 1 THEN CAST(floor(random() * ${people / 10}) AS BIGINT) * 10 + 1
              ELSE CAST(floor(pow(random(), 2.5) * ${people}) AS BIGINT) END`
      : `CAST(floor(pow(random(), 2.5) * ${people}) AS BIGINT)`;
    const plain = events(
      `SELECT ${NEW_EVENTS * 10} * ${offset + 1} + i AS i, ${k} AS k,
         TIMESTAMPTZ '${day} 00:00:00+00' + to_seconds(CAST(floor(random() * 43200) AS BIGINT)) AS t
       FROM range(${NEW_EVENTS}) r(i)`,
      people,
      `TIMESTAMPTZ '${day} 06:00:00+00'`,
      `${name}-`,
    );
    // With links, the past visitors (kind 1) who come back now carry a user id too. Without,
    // people who identify send their user id only, and nobody aliases.
    const sql = withLinks
      ? `SELECT * REPLACE (CASE WHEN anonymous_hash IS NOT NULL AND user_hash IS NULL AND ((anonymous_hash - 3) // 7919) % 10 = 1
             AND event_time >= TIMESTAMPTZ '${day} 06:00:00+00'
           THEN ${USER('(anonymous_hash - 3) // 7919')} ELSE user_hash END AS user_hash) FROM (${plain})`
      : `SELECT * REPLACE ('track' AS type, NULL::BIGINT AS previous_user_hash,
             CASE WHEN user_hash IS NOT NULL THEN NULL ELSE anonymous_hash END AS anonymous_hash) FROM (${plain})`;
    await db.run(`COPY (${sql}) TO '${join(dir, `${name}.parquet`)}' (FORMAT parquet, COMPRESSION zstd)`);
  });
}

export async function seconds(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Point {
  size: number;
  written: number;
  rebuild: number;
  noLinks: number;
  again: number;
  links: number;
  rolled: number;
  live: number;
}

/**
 * A warehouse in use over `lake`: every day from `first` to `last` rolled up in full (timed) and
 * checkpointed, then the file opened afresh and `last` refreshed once (not timed). A warehouse in
 * use has its rebuild written to its file long since and has been refreshing since: refreshes are
 * measured by such an instance, not by the one that just did the rebuild (whose memory still
 * holds it: at 3x10^7 events a new day's refresh took about twice as long).
 */
export async function rebuiltInUse(
  dir: string,
  lake: string,
  first: string,
  last: string,
): Promise<{ rebuild: number; warehouse: DuckDbWarehouse }> {
  const open = () =>
    DuckDbWarehouse.open({ path: join(dir, 'w.duckdb'), lakeRoot: lake, homeDirectory: dir });
  const built = await open();
  let rebuild: number;
  try {
    rebuild = await seconds(() =>
      built.refresh(
        daysFrom(first, last).map((dt) => ({ project: 'bench', dt })),
        last,
      ),
    );
    await built.query('CHECKPOINT');
  } finally {
    await built.close();
  }
  const warehouse = await open();
  await warehouse.refresh([{ project: 'bench', dt: last }], last);
  return { rebuild, warehouse };
}

async function measure(size: number, days: number, onProgress: (line: string) => void): Promise<Point> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-growth-'));
  const lake = join(dir, 'lake');
  try {
    const written = await seconds(() => writeHistory(lake, size, days));
    onProgress(
      `  ${size.toLocaleString('en')} events over ${days} days: lake written in ${written.toFixed(1)} s, rebuilding`,
    );
    const { rebuild, warehouse } = await rebuiltInUse(dir, lake, addDays(TODAY, -days), LAST);
    try {
      const noLinks: number[] = [];
      const again: number[] = [];
      const links: number[] = [];
      for (let n = 0; n < NEW_DAYS; n++) {
        const today = addDays(TODAY, n);
        const day = [{ project: 'bench', dt: today }];
        await writeNewDay(lake, size, n, false);
        noLinks.push(await seconds(() => warehouse.refresh(day, today)));
        again.push(await seconds(() => warehouse.refresh(day, today)));
        await writeNewDay(lake, size, n, true);
        links.push(await seconds(() => warehouse.refresh(day, today)));
      }
      const last = addDays(TODAY, NEW_DAYS - 1);
      const rolled: number[] = [];
      const live: number[] = [];
      for (let i = 0; i < QUERY_RUNS; i++) {
        rolled.push(
          await seconds(() => warehouse.activeUsers('bench', addDays(last, -DAYS), addDays(last, -1), last)),
        );
        live.push(await seconds(() => warehouse.activeUsers('bench', addDays(last, -89), last, last)));
      }
      return {
        size,
        written,
        rebuild,
        noLinks: median(noLinks),
        again: median(again),
        links: median(links),
        rolled: median(rolled),
        live: median(live),
      };
    } finally {
      await warehouse.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchGrowth(onProgress: (line: string) => void = console.log): Promise<string> {
  const points: Point[] = [];
  for (const size of SIZES) points.push(await measure(size, spanDays(size, SIZES[0]!), onProgress));
  const base = points[0]!;
  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
  const cell = (p: Point, key: keyof Point) =>
    `${ms(p[key])} (${(p[key] / base[key]).toFixed(2)}x)`.padStart(22);
  const header = `  ${'history'.padEnd(12)}${[
    'full rebuild',
    'new day, no links',
    'same day again',
    'new day, new links',
    '90 days rolled up',
    '90 days, live today',
  ]
    .map((h) => h.padStart(22))
    .join('')}`;
  const keys = ['rebuild', 'noLinks', 'again', 'links', 'rolled', 'live'] as const;
  const rows = points.map(
    (p) => `  ${p.size.toLocaleString('en').padEnd(12)}${keys.map((k) => cell(p, k)).join('')}`,
  );
  return [
    `growth (DuckDB, ${AXIS === 'time' ? 'history longer at the same events per day' : 'history denser over the same 90 days'}): the same ${NEW_DAYS} new days of ${NEW_EVENTS.toLocaleString('en')} events (medians); ratio to the ${base.size.toLocaleString('en')}-event history`,
    header,
    ...rows,
    '  (ratio to the smallest history in parentheses; target: a refresh at 10x the history costs at most 1.5x; queries are medians of 15)',
  ].join('\n');
}
