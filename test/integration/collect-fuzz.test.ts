import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { parquetToEvents } from '../../lib/lake/parquet.js';
import { writeBatch } from '../../lib/lake/writer.js';
import { readLake } from '../../lib/warehouse/duckdb.js';
import { collect, deps, request } from '../helpers/collect.js';

/**
 * The collector fuzzed with arbitrary bytes and arbitrary JSON (every Unicode code unit,
 * lone surrogates included): never a throw or a 5xx, and every event it accepts is written by the
 * real lake writer and read back, by parquet-wasm and by DuckDB's JSON functions.
 */

let dir: string;
let store: FsObjectStore;
let sequence = 1;
const accepted = new Set<string>();
let rowsRead = 0;
const codes = new Set<string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-fuzz-'));
  store = new FsObjectStore(join(dir, 'lake'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Collects a request, lands what it wrote, and checks the accepted events come back. */
async function collectAndLand(body: Buffer, headers: Record<string, string>): Promise<number> {
  const d = deps();
  const { response } = await collect(request('/v1/batch', body, headers), d);
  expect(response.status).toBeLessThan(500);
  for (const r of (response.body as { rejected?: Array<{ code: string }> }).rejected ?? []) codes.add(r.code);
  if (d.stream.written.length === 0) return response.status;
  const records = d.stream.written.map((e) => ({
    shardId: 'shardId-000000000000',
    sequenceNumber: String(sequence++),
    partitionKey: e.partitionKey,
    data: e.data,
    arrivalMs: Date.now(),
  }));
  const outcome = await writeBatch(records, store);
  expect(outcome.error).toBeNull();
  const written = outcome.manifest!.files;
  const expected = outcome.manifest!.events;
  let read = 0;
  for (const file of written) {
    const events = parquetToEvents((await store.get(file.key))!, file.project);
    for (const e of events) {
      accepted.add(e.eventId);
      for (const text of [e.eventId, e.event, e.properties, e.context, e.channel]) {
        if (text !== null) expect(text.isWellFormed()).toBe(true);
      }
      if (e.properties !== null) JSON.parse(e.properties);
      if (e.context !== null) JSON.parse(e.context);
    }
    read += events.length;
    rowsRead += events.length;
  }
  expect(read).toBe(expected);
  return response.status;
}

/** Any UTF-16 code unit, lone surrogates included (what a JSON `\\uXXXX` escape can produce). */
const codeUnit = fc.oneof(
  fc.constantFrom('a', 'é', '😀'),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
);
const text = fc.string({ unit: codeUnit, maxLength: 20 });
const anyJson = fc.jsonValue({ maxDepth: 4, stringUnit: codeUnit });
const eventLike = fc.record(
  {
    type: fc.oneof(fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias'), anyJson),
    userId: fc.oneof(text, fc.integer(), fc.double(), anyJson),
    anonymousId: fc.oneof(text, anyJson),
    event: fc.oneof(text, anyJson),
    name: text,
    messageId: fc.oneof(fc.string({ unit: codeUnit, maxLength: 110 }), anyJson),
    timestamp: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      text,
    ),
    originalTimestamp: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      text,
    ),
    properties: fc.oneof(fc.dictionary(text, anyJson), anyJson),
    context: fc.oneof(fc.dictionary(text, anyJson), anyJson),
    channel: fc.oneof(text, anyJson),
    previousId: text,
    groupId: text,
  },
  { requiredKeys: [] },
);

/** Events an SDK could send: valid shapes, any Unicode (no lone surrogates), odd but legal values. */
const plain = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
const plausible = fc.record({
  type: fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias'),
  userId: fc.oneof(plain, fc.integer()),
  anonymousId: plain,
  event: plain,
  name: plain,
  previousId: plain,
  groupId: plain,
  messageId: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  timestamp: fc
    .date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  properties: fc.dictionary(plain, fc.jsonValue({ maxDepth: 3 })),
  context: fc.dictionary(plain, fc.jsonValue({ maxDepth: 3 })),
  channel: plain,
});

describe('collect fuzzed', () => {
  it('answers arbitrary bytes under any content type and encoding without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2_000 }),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', '', 'x/y'),
        fc.boolean(),
        async (bytes, contentType, gzip) => {
          const body = gzip ? gzipSync(bytes) : Buffer.from(bytes);
          await collectAndLand(body, {
            'content-type': contentType,
            ...(gzip ? { 'content-encoding': 'gzip' } : {}),
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accepts or refuses arbitrary events, and every accepted one reads back from the lake', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 4, arbitrary: plausible },
            { weight: 4, arbitrary: eventLike },
            { weight: 1, arbitrary: anyJson },
          ),
          {
            maxLength: 12,
          },
        ),
        fc.option(fc.dictionary(text, anyJson), { nil: undefined }),
        async (batch, context) => {
          const status = await collectAndLand(Buffer.from(JSON.stringify({ batch, context })), {});
          expect(status).toBe(200);
        },
      ),
      { numRuns: 300 },
    );
    // Enough of the input was valid for the readback to mean something.
    expect(rowsRead).toBeGreaterThan(100);
    expect(codes).toContain('invalid_text');
  });

  it('leaves a lake every row of which DuckDB reads, JSON columns included', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const db = await instance.connect();
    const glob = join(dir, 'lake', 'events', '*', '*', '*.parquet');
    const reader = await db.runAndReadAll(
      `SELECT count(*) AS n, count(json_extract(properties, '$')) AS p, count(json_extract(context, '$')) AS c,
              count(properties) AS pp, count(context) AS cc
       FROM ${readLake(glob)}`,
    );
    const [row] = reader.getRowObjectsJS() as Array<Record<string, bigint>>;
    db.closeSync();
    instance.closeSync();
    expect(Number(row!.n)).toBe(rowsRead);
    expect(row!.p).toBe(row!.pp);
    expect(row!.c).toBe(row!.cc);
  });
});
