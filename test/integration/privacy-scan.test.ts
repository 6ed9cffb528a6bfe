import { randomUUID } from 'node:crypto';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import type { Logger } from '../../lib/log.js';
import { decodeFrames } from '../../local/journal.js';
import type { Pipeline } from '../../local/pipeline.js';
import { waitFor } from '../../local/ports.js';
import { readBadRows, waitForLake } from '../helpers/lake.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

/** Values no SDK field may leave behind anywhere under the data dir. */
const SECRETS = {
  userId: 'secret-user-7f3a9c',
  email: 'grace.hopper.7f3a9c@example.com',
  phone: '+1-202-555-0193',
  ip: '198.51.100.213',
  anonymousId: 'secret-anon-5b2e11',
  previousId: 'secret-prev-c0ffee',
};

let started: TestPipeline;
let dataDir: string;
let pipeline: Pipeline;
const logged: string[] = [];
const logger: Logger = {
  info: (m, f) => logged.push(JSON.stringify([m, f])),
  warn: (m, f) => logged.push(JSON.stringify([m, f])),
  error: (m, f) => logged.push(JSON.stringify([m, f])),
};

beforeAll(async () => {
  started = await startTestPipeline('privacy', { logger });
  ({ dataDir, pipeline } = started);
});
afterAll(async () => {
  await started?.close();
});

/** Every identity field the SDKs fill, with the secrets in them. */
function withIdentities(over: Record<string, unknown>): Record<string, unknown> {
  const { userId, email, phone, ip, anonymousId, previousId } = SECRETS;
  return {
    userId,
    anonymousId,
    previousId,
    traits: { email, phone, name: 'Grace' },
    context: { ip, traits: { email, phone }, library: { name: 'analytics-next' } },
    messageId: randomUUID(),
    ...over,
  };
}

/** Every file of a directory, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

/**
 * A file's content as text, with what is packed inside opened up: gzip (bad rows, old stream
 * records), Brotli (stream records), base64 inside JSON (failed batches), journal segments frame by frame, Parquet and
 * DuckDB files through DuckDB itself, so a secret cannot hide behind compression.
 */
async function contentsOf(file: string, db: Awaited<ReturnType<DuckDBInstance['connect']>>): Promise<string> {
  const bytes = await readFile(file);
  const parts = [bytes.toString('latin1'), bytes.toString('utf8')];
  const unpack = (b: Buffer) => {
    // A stream record of format 2: a version byte, then Brotli.
    if (b[0] === 2) {
      try {
        parts.push(brotliDecompressSync(b.subarray(1)).toString('utf8'));
      } catch {}
    }
    const start = b[0] === 0x1f && b[1] === 0x8b ? 0 : b[1] === 0x1f && b[2] === 0x8b ? 1 : -1;
    if (start < 0) return;
    try {
      parts.push(gunzipSync(b.subarray(start)).toString('utf8'));
    } catch {}
  };
  unpack(bytes);
  if (file.endsWith('.wal')) {
    for (const { data, partitionKey } of decodeFrames(bytes).entries) {
      parts.push(partitionKey, Buffer.from(data).toString('utf8'));
      unpack(Buffer.from(data));
    }
  }
  for (const token of bytes.toString('latin1').match(/[A-Za-z0-9+/]{24,}={0,2}/g) ?? []) {
    unpack(Buffer.from(token, 'base64'));
  }
  const path = file.replaceAll("'", "''");
  if (file.endsWith('.parquet')) {
    const rows = await db.runAndReadAll(`SELECT * FROM read_parquet('${path}')`);
    parts.push(JSON.stringify(rows.getRowObjectsJson()));
  }
  if (file.endsWith('.duckdb')) {
    await db.run(`ATTACH '${path}' AS scanned (READ_ONLY)`);
    const tables = await db.runAndReadAll(
      `SELECT table_name FROM information_schema.tables WHERE table_catalog = 'scanned' AND table_type = 'BASE TABLE'`,
    );
    for (const [name] of tables.getRows()) {
      const rows = await db.runAndReadAll(`SELECT * FROM scanned."${String(name)}"`);
      parts.push(JSON.stringify(rows.getRowObjectsJson()));
    }
    await db.run('DETACH scanned');
  }
  return parts.join('\n');
}

describe('a privacy scan of everything the pipeline keeps', () => {
  it('logs no key a client put in a path, on the read routes or none', async () => {
    // Arrange: keys where a project id goes, on every read route, with a slash, a method the
    // route refuses, and on no route at all.
    const keys = [pipeline.writeKeys.default!, pipeline.readKeys.default!];
    const requests = keys.flatMap((key) => [
      ['GET', `/v1/projects/${key}/active-users`],
      ['GET', `/v1/projects/${key}/health`],
      ['GET', `/v1/projects/${key}/active-users/`],
      ['POST', `/v1/projects/${key}/active-users`],
      ['GET', `/v1/projects/${encodeURIComponent(key)}/breakdown`],
      ['GET', `/${key}`],
    ]);
    const before = logged.length;

    // Act
    const statuses: number[] = [];
    for (const [method, path] of requests) {
      const response = await fetch(`${pipeline.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${keys[1]}` },
      });
      await response.text();
      statuses.push(response.status);
    }

    // Assert: every request was refused (and so logged), none with a key in the line.
    expect(statuses.every((status) => status >= 400)).toBe(true);
    const lines = logged.slice(before);
    expect(lines.length).toBeGreaterThanOrEqual(requests.length);
    for (const key of keys) {
      for (const line of lines) expect(line).not.toContain(key.slice(0, 12));
    }
  });

  it('finds no raw id, email, phone or IP anywhere under the data dir or in the logs', async () => {
    // Arrange: valid events of every type and invalid ones, each carrying every identity field.
    const valid = [
      ...['track', 'identify', 'page', 'screen', 'group', 'alias'].map((type) =>
        withIdentities({ type, event: 'Viewed', name: 'Home', groupId: 'acme' }),
      ),
      // Traits of any shape are dropped, so traits that are not an object do not refuse the event.
      withIdentities({ type: 'identify', traits: [SECRETS.email, SECRETS.phone] }),
    ];
    const invalid = [
      withIdentities({ type: 'track' }), // no event name
      withIdentities({ type: 'track', event: 'E', timestamp: 'yesterday' }),
      withIdentities({ type: 'track', event: 'E', context: [{ ip: SECRETS.ip, email: SECRETS.email }] }),
      withIdentities({ type: 'track', event: 'E', context: `ip=${SECRETS.ip} phone=${SECRETS.phone}` }),
      withIdentities({ type: 'nope' }),
    ];
    const auth = `Basic ${Buffer.from(`${pipeline.writeKeys.default}:`).toString('base64')}`;

    // Act
    const response = await fetch(`${pipeline.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify({ batch: [...valid, ...invalid], context: { ip: SECRETS.ip } }),
    });
    const answer = await response.text();
    const single = await fetch(`${pipeline.url}/v1/identify`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: auth },
      body: JSON.stringify(withIdentities({ userId: 'N' })).replace('"N"', '1e400'),
    });
    // The journal holds the records until the lake has them: keep a copy of it to scan too.
    await cp(join(dataDir, 'journal'), join(dataDir, 'journal-copy'), { recursive: true });
    const store = new FsObjectStore(pipeline.lakeRoot!);
    await waitForLake(
      store,
      valid.map((e) => e.messageId as string),
    );
    await waitFor(
      'every bad row in the lake',
      async () => (await readBadRows(store)).length >= invalid.length + 1,
      20_000,
      200,
    );
    await pipeline.warehouse!.rollupNow();
    await pipeline.stop();

    // Assert
    expect(response.status).toBe(200);
    expect(single.status).toBe(400);
    expect(await readBadRows(store)).toHaveLength(invalid.length + 1);
    const instance = await DuckDBInstance.create(':memory:');
    const db = await instance.connect();
    const files = await filesUnder(dataDir);
    expect(files.some((f) => f.endsWith('.parquet'))).toBe(true);
    expect(files.some((f) => f.endsWith('.duckdb'))).toBe(true);
    expect(files.some((f) => f.includes('journal-copy') && f.endsWith('.wal'))).toBe(true);
    const found: string[] = [];
    const opened: string[] = [];
    for (const file of files) {
      const text = await contentsOf(file, db);
      if (text.includes(valid[0]!.messageId as string)) opened.push(file);
      for (const [field, value] of Object.entries(SECRETS))
        if (text.includes(value)) found.push(`${field} in ${file}`);
    }
    const said = [answer, await single.text(), ...logged].join('\n');
    for (const [field, value] of Object.entries(SECRETS))
      if (said.includes(value)) found.push(`${field} in answers or logs`);
    // The scanner itself finds a secret packed the ways the pipeline packs data.
    const canary = join(dataDir, 'canary');
    await mkdir(canary, { recursive: true });
    await writeFile(join(canary, 'a.gz'), gzipSync(SECRETS.email));
    await writeFile(
      join(canary, 'b.json'),
      JSON.stringify({ data: Buffer.concat([Buffer.of(1), gzipSync(SECRETS.phone)]).toString('base64') }),
    );
    await writeFile(
      join(canary, 'd.json'),
      JSON.stringify({
        data: Buffer.concat([Buffer.of(2), brotliCompressSync(SECRETS.userId)]).toString('base64'),
      }),
    );
    await db.run(
      `COPY (SELECT '${SECRETS.ip}' AS ip) TO '${join(canary, 'c.parquet')}' (FORMAT parquet, COMPRESSION zstd)`,
    );
    const canaryText = (await Promise.all((await filesUnder(canary)).map((f) => contentsOf(f, db)))).join(
      '\n',
    );
    db.closeSync();
    instance.closeSync();
    expect(found).toEqual([]);
    // The scan saw the events themselves in the journal and in the lake.
    expect(opened.some((f) => f.includes(`${join(dataDir, 'journal-copy')}`))).toBe(true);
    expect(opened.some((f) => f.endsWith('.parquet'))).toBe(true);
    for (const value of [SECRETS.email, SECRETS.phone, SECRETS.ip, SECRETS.userId])
      expect(canaryText).toContain(value);
  });
});
