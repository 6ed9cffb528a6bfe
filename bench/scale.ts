/**
 * The scaling curve: lakes of 10^5, 10^6 and 10^7 events over 90 days in small files (2,048
 * events each, DuckDB's smallest row group, and at least 8 a day), measured before and after
 * Tally's compaction: files,
 * bytes, a 90-day active-ids query and an analyst's `count(DISTINCT event_id)` over a month, both
 * straight from the files. `BENCH_SCALE_MAX` caps the largest size (default 10^7).
 */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { compactLake } from '../lib/lake/compaction.js';
import { FsObjectStore } from '../lib/lake/fs-store.js';
import { addDays, daysFrom } from '../lib/warehouse/days.js';
import { readLake } from '../lib/warehouse/duckdb.js';

const DAYS = 90;
const FIRST = '2026-01-01';
const LAST = addDays(FIRST, DAYS - 1);

/** At least this many files a day, so even the smallest lake has small files to compact. */
const MIN_FILES_PER_DAY = 8;

async function writeLake(db: DuckDBConnection, root: string, events: number): Promise<void> {
  const perDay = Math.ceil(events / DAYS);
  // Files of 2,048 events (DuckDB's smallest row group), or MIN_FILES_PER_DAY smaller ones.
  const parts = perDay / 2048 < MIN_FILES_PER_DAY ? MIN_FILES_PER_DAY : 1;
  for (const [d, dt] of daysFrom(FIRST, LAST).entries()) {
    const dir = join(root, 'events', 'project=bench', `dt=${dt}`);
    await mkdir(dir, { recursive: true });
    for (let part = 0; part < parts; part++) {
      await db.run(`COPY (
          SELECT 'e${d}-${part}-' || i AS event_id, 'track' AS type, 'Viewed' AS event,
            CAST(floor(pow(random(), 2.5) * ${Math.max(1000, events / 10)}) AS BIGINT) * 7919 + 1 AS user_hash,
            NULL::BIGINT AS anonymous_hash,
            TIMESTAMPTZ '${dt} 00:00:00+00' + to_seconds(CAST(floor(random() * 86400) AS BIGINT)) AS event_time,
            TIMESTAMPTZ '${LAST} 23:59:59+00' AS received_at,
            '{"path":"/pricing","value":' || (i % 100) || '}' AS properties, NULL::VARCHAR AS context,
            1 AS key_version, NULL::VARCHAR AS flags, NULL::VARCHAR AS channel
          FROM range(${Math.ceil(perDay / parts)}) t(i)
        ) TO '${dir}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048, ROW_GROUPS_PER_FILE 1,
          FILENAME_PATTERN 'b${part}-{i}', OVERWRITE_OR_IGNORE)`);
    }
  }
}

async function lakeSize(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(join(root, 'events'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.parquet')) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

async function timed(db: DuckDBConnection, sql: string): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    await db.runAndReadAll(sql);
    runs.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return runs.sort((a, b) => a - b)[1]!;
}

async function queries(
  db: DuckDBConnection,
  root: string,
): Promise<{ activeIds: number; distinctIds: number }> {
  const lake = readLake(join(root, 'events', '*', '*', '*.parquet'));
  const month = addDays(LAST, -29);
  return {
    activeIds: await timed(db, `SELECT count(DISTINCT coalesce(user_hash, anonymous_hash)) FROM ${lake}`),
    distinctIds: await timed(db, `SELECT count(DISTINCT event_id) FROM ${lake} WHERE dt >= DATE '${month}'`),
  };
}

export async function benchScale(): Promise<string> {
  const max = Number(process.env.BENCH_SCALE_MAX ?? 10_000_000);
  const sizes = [100_000, 1_000_000, 10_000_000].filter((n) => n <= max);
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const db = await instance.connect();
  await db.run(`SET TimeZone = 'UTC'`);
  await db.run(`SELECT setseed(0.42)`);
  const rows: string[] = [];
  let compactionRate = 0;
  for (const events of sizes) {
    const dir = await mkdtemp(join(tmpdir(), 'tally-bench-scale-'));
    try {
      await writeLake(db, dir, events);
      const before = await lakeSize(dir);
      const q0 = await queries(db, dir);
      const start = process.hrtime.bigint();
      const result = await compactLake(new FsObjectStore(dir), {
        now: new Date(`${addDays(LAST, 1)}T12:00:00Z`),
        graceMs: 0,
      });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      compactionRate = result.rowsRead / seconds;
      const after = await lakeSize(dir);
      const q1 = await queries(db, dir);
      const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
      const ms = (m: number) => `${m.toFixed(0)} ms`;
      rows.push(
        `  ${events.toLocaleString('en').padStart(10)}  ${String(before.files).padStart(6)} -> ${String(after.files).padEnd(4)} ` +
          `${mb(before.bytes).padStart(9)} -> ${mb(after.bytes).padEnd(9)} ${ms(q0.activeIds).padStart(7)} -> ${ms(q1.activeIds).padEnd(7)} ` +
          `${ms(q0.distinctIds).padStart(7)} -> ${ms(q1.distinctIds).padEnd(7)} ${seconds.toFixed(1)} s (${Math.round(compactionRate).toLocaleString('en')} ev/s)`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  db.closeSync();
  instance.closeSync();
  return [
    `lake scaling, ${DAYS} days in files of up to 2,048 events (at least ${MIN_FILES_PER_DAY} a day), before -> after compaction (DuckDB over the files, 2 threads; median of 3):`,
    '      events   files          bytes                 90-day active ids  month count(DISTINCT event_id)  compaction',
    ...rows,
  ].join('\n');
}
