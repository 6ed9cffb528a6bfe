import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ObjectStore } from '../../lib/lake/store.js';
import { waitFor } from '../../local/ports.js';
import { type LakeRow, readLakeStore } from './duckdb.js';

/** The HMAC key the local runtime created in a data dir, read from its config file. */
export async function localHmacKey(dataDir: string): Promise<Buffer> {
  const config = JSON.parse(await readFile(join(dataDir, 'config.json'), 'utf8')) as { hmacKey: string };
  return Buffer.from(config.hmacKey, 'base64');
}

/** The expected hash, computed here independently of lib/ingest/pseudonymize. */
export function expectedHash(secret: Buffer, project: string, id: string): bigint {
  const digest = createHmac('sha256', secret).update(`${project}\u0000${id}`).digest();
  return digest.readBigUInt64BE(0) & ((1n << 63n) - 1n);
}

/** The anonymous_hash of an anonymousId (its own domain: `project \0 a \0 id`), computed independently. */
export function expectedAnonymousHash(secret: Buffer, project: string, id: string): bigint {
  const digest = createHmac('sha256', secret).update(`${project}\u0000a\u0000${id}`).digest();
  return digest.readBigUInt64BE(0) & ((1n << 63n) - 1n);
}

/** Every bad row in the lake. */
export async function readBadRows(store: ObjectStore): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const key of await store.list('bad/')) {
    const text = gunzipSync((await store.get(key))!)
      .toString('utf8')
      .trim();
    for (const line of text.split('\n')) rows.push(JSON.parse(line) as Record<string, unknown>);
  }
  return rows;
}

/** Waits until the lake holds exactly these event ids (after dedup) and returns its rows. */
export async function waitForLake(
  store: ObjectStore,
  ids: readonly string[],
  timeoutMs = 45_000,
): Promise<LakeRow[]> {
  const want = [...new Set(ids)].sort();
  let rows: LakeRow[] = [];
  await waitFor(
    `${want.length} event ids in the lake`,
    async () => {
      rows = await readLakeStore(store);
      const have = [...new Set(rows.map((r) => r.event_id))].sort();
      return have.length >= want.length;
    },
    timeoutMs,
    300,
  );
  return rows;
}

/** Waits until the lake holds at least `count` distinct event ids among the rows `match` picks, and returns those rows. */
export async function waitForRows(
  store: ObjectStore,
  match: (row: LakeRow) => boolean,
  count: number,
  timeoutMs = 30_000,
): Promise<LakeRow[]> {
  let rows: LakeRow[] = [];
  await waitFor(
    `${count} matching events in the lake`,
    async () => {
      rows = (await readLakeStore(store)).filter(match);
      return new Set(rows.map((r) => r.event_id)).size >= count;
    },
    timeoutMs,
    250,
  );
  return rows;
}
