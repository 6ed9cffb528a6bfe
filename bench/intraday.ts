/**
 * The day so far (`BENCH_ONLY=intraday`): does a refresh of today cost what arrived since the
 * last one, or today's partition so far? A history of 10^6 events over the 30 days before today
 * (the growth bench's people and identity evidence), then today's partition of 10^6, 10^7 and
 * 3x10^7 events (sizes from BENCH_INTRADAY_SIZES) in files of 100,000 events, rolled up in full
 * and opened afresh (a warehouse in use); then NEW_FILES times the same 20,000 new events land in
 * a file of their own and today is refreshed. Each figure is the median over the new files,
 * printed with its ratio to the smallest day.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays } from '../lib/warehouse/days.js';
import { duck, events, median, rebuiltInUse, seconds, TODAY, writeHistory } from './growth.js';

const SIZES = (process.env.BENCH_INTRADAY_SIZES ?? '1000000,10000000,30000000').split(',').map(Number);
const HISTORY_EVENTS = 1_000_000;
const HISTORY_DAYS = 30;
const PEOPLE = HISTORY_EVENTS / 10;
const FILE_EVENTS = 100_000;
const NEW_EVENTS = 20_000;
const NEW_FILES = 3;

/** `count` events of today (ids from `first`), spread over the day's first 20 hours, in `file`. */
async function writeToday(
  lake: string,
  name: string,
  first: number,
  count: number,
  seed: number,
): Promise<void> {
  const dir = join(lake, 'events', 'project=bench', `dt=${TODAY}`);
  await mkdir(dir, { recursive: true });
  await duck(async (db) => {
    await db.run(`SELECT setseed(${seed})`);
    const rows = events(
      `SELECT ${first} + i AS i, CAST(floor(pow(random(), 2.5) * ${PEOPLE}) AS BIGINT) AS k,
         TIMESTAMPTZ '${TODAY} 00:00:00+00' + to_seconds(CAST(floor(random() * 72000) AS BIGINT)) AS t
       FROM range(${count}) r(i)`,
      PEOPLE,
      `TIMESTAMPTZ '${TODAY} 06:00:00+00'`,
      'today-',
    );
    await db.run(`COPY (${rows}) TO '${join(dir, `${name}.parquet`)}' (FORMAT parquet, COMPRESSION zstd)`);
  });
}

interface Point {
  size: number;
  built: number;
  refresh: number;
}

async function measure(size: number, onProgress: (line: string) => void): Promise<Point> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-intraday-'));
  const lake = join(dir, 'lake');
  try {
    await writeHistory(lake, HISTORY_EVENTS, HISTORY_DAYS);
    for (let f = 0; f * FILE_EVENTS < size; f++)
      await writeToday(
        lake,
        `part-${f}`,
        f * FILE_EVENTS,
        Math.min(FILE_EVENTS, size - f * FILE_EVENTS),
        f / 1e4,
      );
    onProgress(`  today so far ${size.toLocaleString('en')} events: lake written, rolling up`);
    const { rebuild: built, warehouse } = await rebuiltInUse(dir, lake, addDays(TODAY, -HISTORY_DAYS), TODAY);
    try {
      const today = [{ project: 'bench', dt: TODAY }];
      const refreshes: number[] = [];
      for (let n = 0; n < NEW_FILES; n++) {
        await writeToday(lake, `new-${n}`, 1e9 + n * NEW_EVENTS, NEW_EVENTS, 0.5 + n / 10);
        refreshes.push(await seconds(() => warehouse.refresh(today, TODAY)));
      }
      return { size, built, refresh: median(refreshes) };
    } finally {
      await warehouse.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchIntraday(onProgress: (line: string) => void = console.log): Promise<string> {
  const points: Point[] = [];
  for (const size of SIZES) points.push(await measure(size, onProgress));
  const base = points[0]!;
  const rows = points.map(
    (p) =>
      `  ${p.size.toLocaleString('en').padEnd(12)}${`${(p.built).toFixed(1)} s`.padStart(16)}${`${(p.refresh * 1000).toFixed(0)} ms (${(p.refresh / base.refresh).toFixed(2)}x)`.padStart(26)}`,
  );
  return [
    `intraday (DuckDB): today's partition so far, then the same ${NEW_EVENTS.toLocaleString('en')} new events refreshed (median of ${NEW_FILES}); history ${HISTORY_EVENTS.toLocaleString('en')} events over ${HISTORY_DAYS} days`,
    `  ${'today so far'.padEnd(12)}${'first rollup'.padStart(16)}${'refresh of new events'.padStart(26)}`,
    ...rows,
    `  (ratio to today at ${base.size.toLocaleString('en')} events; target: at most 1.2x at 3x10^7)`,
  ].join('\n');
}
