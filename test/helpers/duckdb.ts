import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ObjectStore } from '../../lib/lake/store.js';

/** One lake row as DuckDB reads it back. */
export interface LakeRow {
  project: string;
  dt: string;
  event_id: string;
  type: string;
  event: string | null;
  user_hash: bigint | null;
  anonymous_hash: bigint | null;
  event_time_ms: number;
  received_at_ms: number;
  properties: string | null;
  context: string | null;
  key_version: number;
  flags: string | null;
  channel: string | null;
  country: string | null;
  platform: string | null;
  os: string | null;
  browser: string | null;
  device_type: string | null;
  app_version: string | null;
  library: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  referrer_domain: string | null;
  bot: boolean | null;
  file: string;
}

/** Reads every events file of a lake directory with DuckDB (hive partitions from the path). */
export async function readLakeDir(root: string): Promise<LakeRow[]> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const db = await instance.connect();
  try {
    const glob = join(root, 'events', '*', '*', '*.parquet').replaceAll("'", "''");
    const reader = await db.runAndReadAll(`
      SELECT project, CAST(dt AS VARCHAR) AS dt, event_id, type, event, user_hash, anonymous_hash,
             epoch_ms(event_time) AS event_time_ms, epoch_ms(received_at) AS received_at_ms,
             properties, context, key_version, flags, channel, country, platform, os, browser, device_type,
             app_version, library, utm_source, utm_medium, utm_campaign, referrer_domain, bot, filename AS file,
             typeof(event_time) AS time_type, typeof(user_hash) AS hash_type
      FROM read_parquet('${glob}', hive_partitioning = true, filename = true, union_by_name = true)
      ORDER BY event_id`);
    return reader.getRowObjectsJS().map((r) => {
      if (r.time_type !== 'TIMESTAMP WITH TIME ZONE' || r.hash_type !== 'BIGINT') {
        throw new Error(`unexpected column types ${String(r.time_type)} / ${String(r.hash_type)}`);
      }
      return {
        ...(r as unknown as LakeRow),
        event_time_ms: Number(r.event_time_ms),
        received_at_ms: Number(r.received_at_ms),
      };
    });
  } catch (error) {
    if (/No files found/.test((error as Error).message)) return [];
    throw error;
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** Copies a store's events files to a temp dir and reads them with DuckDB (it has no S3 access offline). */
export async function readLakeStore(store: ObjectStore): Promise<LakeRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-read-'));
  try {
    for (const key of await store.list('events/')) {
      const bytes = await store.get(key);
      if (!bytes) throw new Error(`listed key ${key} has no object`);
      await mkdir(dirname(join(dir, key)), { recursive: true });
      await writeFile(join(dir, key), bytes);
    }
    return await readLakeDir(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
