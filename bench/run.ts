/**
 * `npm run bench`: throughput of the collector and the lake writer, each next to a baseline
 * measured in the same run on the same data. Not part of `npm test`; nothing here asserts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTimestampTZValue } from '@duckdb/node-api';
import { enrich } from '../lib/enrich/context.js';
import { countryReader, packagedCountryDb } from '../lib/enrich/country.js';
import type { LakeEvent } from '../lib/events.js';
import { hashKey, KeyRing } from '../lib/ingest/auth.js';
import { type CollectDeps, collect } from '../lib/ingest/collect.js';
import { FsObjectStore } from '../lib/lake/fs-store.js';
import { type LakeRecord, writeBatch } from '../lib/lake/writer.js';
import { silentLogger } from '../lib/log.js';
import { decodeRecord, encodeRecords } from '../lib/stream/codec.js';
import { Journal } from '../local/journal.js';
import { lakeEvent, seeded, segmentEvent } from './data.js';
import { benchGrowth } from './growth.js';
import { benchIntraday } from './intraday.js';
import { benchPseudonyms } from './pseudonyms.js';
import { benchRecords } from './records.js';
import { benchScale } from './scale.js';
import { benchServer } from './server.js';
import { benchStream } from './stream.js';
import { benchSustained } from './sustained.js';
import { benchWarehouse } from './warehouse.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timeIt(fn: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Median events/s over the rounds (one warm-up round first). */
async function rate(events: number, fn: () => Promise<void> | void): Promise<number> {
  await fn();
  const seconds: number[] = [];
  for (let i = 0; i < ROUNDS; i++) seconds.push(await timeIt(fn));
  return events / median(seconds);
}

/**
 * A figure and its baseline measured in alternating rounds (one warm-up of each first), so both
 * see the machine in the same state: the median events/s of each, and the median of the rounds'
 * ratios (the figure over the baseline).
 */
async function paired(
  events: number,
  fn: () => Promise<void> | void,
  baseline: () => Promise<void> | void,
): Promise<{ value: number; baseline: number; ratio: number }> {
  await fn();
  await baseline();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    a.push(await timeIt(fn));
    b.push(await timeIt(baseline));
  }
  return {
    value: events / median(a),
    baseline: events / median(b),
    ratio: median(a.map((seconds, i) => b[i]! / seconds)),
  };
}

/** One figure next to its baseline, and its target when it has one (`ratio`: when measured in pairs). */
function row(
  name: string,
  value: number,
  baseline: number,
  target: number | null,
  ratio = value / baseline,
): string {
  const verdict = target === null ? '' : ` (target >= ${target}x: ${ratio >= target ? 'meets' : 'MISSES'})`;
  return `${name.padEnd(34)} ${Math.round(value).toLocaleString('en').padStart(12)} ev/s   baseline ${Math.round(baseline).toLocaleString('en').padStart(12)} ev/s   ${ratio.toFixed(2)}x${verdict}`;
}

/** Sends one body to `/v1/batch` through the collector; anything but a 200 fails the bench. */
async function collectBatch(
  deps: CollectDeps,
  headers: Record<string, string>,
  body: Buffer,
  now: number,
): Promise<void> {
  const { response } = await collect(
    { method: 'POST', path: '/v1/batch', headers, body, receivedAt: now },
    deps,
  );
  if (response.status !== 200) throw new Error(`collect answered ${response.status}`);
}

async function benchCollect(): Promise<string> {
  const random = seeded(1);
  const now = Date.now();
  const BODIES = 200;
  const bodies = Array.from({ length: BODIES }, (_, b) =>
    Buffer.from(
      JSON.stringify({
        batch: Array.from({ length: 100 }, (_, i) => segmentEvent(b * 100 + i, random, now)),
      }),
    ),
  );
  const writeKey = 'bench-write-key';
  const deps: CollectDeps = {
    writeKeys: new KeyRing([{ project: 'shop', sha256: hashKey(writeKey) }]),
    hashKey: { version: 1, secret: Buffer.alloc(32, 1) },
    stream: { putRecords: async (entries) => entries.map(() => ({})) },
  };
  const headers = {
    'content-type': 'application/json',
    authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
  };
  const measured = await paired(
    BODIES * 100,
    async () => {
      for (const body of bodies) await collectBatch(deps, headers, body, now);
    },
    () => {
      for (const body of bodies) JSON.stringify(JSON.parse(body.toString('utf8')));
    },
  );
  const mb = bodies.reduce((n, b) => n + b.length, 0) / 1e6;
  const journal = await benchJournal(bodies, deps, headers, now, measured.value);
  const wide = await benchWideKeys(deps, headers, now);
  const country = await benchCountry(bodies, deps, headers, now);
  const line = row('collect, 100-event batches', measured.value, measured.baseline, 0.5, measured.ratio);
  return `${line}\n  (${BODIES} bodies, ${mb.toFixed(1)} MB; baseline: JSON.parse + JSON.stringify of the same bodies, measured in alternating rounds; the ratio is the median of the rounds')\n${journal}\n${wide}\n${country}`;
}

/**
 * What finding countries costs the collector: the same requests with the country database (each
 * event's `context.ip` looked up) against the collector without it, in alternating rounds.
 */
async function benchCountry(
  bodies: Buffer[],
  deps: CollectDeps,
  headers: Record<string, string>,
  now: number,
): Promise<string> {
  const withCountry: CollectDeps = { ...deps, countryOf: countryReader(packagedCountryDb()) };
  const send = (d: CollectDeps) => async () => {
    for (const body of bodies) await collectBatch(d, headers, body, now);
  };
  const events = bodies.length * 100;
  const measured = await paired(events, send(withCountry), send(deps));
  const cost = (1e6 / measured.value - 1e6 / measured.baseline).toFixed(2);
  return `${row('collect + country lookup', measured.value, measured.baseline, null, measured.ratio)}\n  (baseline: the same requests without the country database; ${cost} µs an event)`;
}

/**
 * A hostile body for the compact reader's duplicate-key check: 500 KB of events whose properties
 * hold 64 keys sharing a 60-character prefix, read by the compact reader and (the same text after
 * a leading space) by the general path.
 */
async function benchWideKeys(
  deps: CollectDeps,
  headers: Record<string, string>,
  now: number,
): Promise<string> {
  const prefix = 'k'.repeat(60);
  const properties = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`${prefix}${i}`, i]));
  const events: unknown[] = [];
  for (let i = 0, size = 20; size < 490_000; i++) {
    const event = { type: 'track', event: 'E', userId: `u${i}`, messageId: `m${i}`, properties };
    size += JSON.stringify(event).length + 1;
    events.push(event);
  }
  const text = JSON.stringify({ batch: events });
  const send = (body: Buffer) => () => collectBatch(deps, headers, body, now);
  const measured = await paired(events.length, send(Buffer.from(text)), send(Buffer.from(` ${text}`)));
  return `${row('collect, 64-key objects (hostile)', measured.value, measured.baseline, null, measured.ratio)}\n  (one 490 KB body of ${events.length} events whose properties hold 64 keys sharing a 60-character prefix; baseline: the general path, JSON.parse, on the same text)`;
}

/**
 * What the local pipeline's write-ahead journal costs the collector: the same requests with the
 * journal in front of the stream (synced to disk before each answer), one at a time (one sync
 * per request, the worst case) and 16 at a time (requests share a sync), against the collector
 * without it measured above.
 */
async function benchJournal(
  bodies: Buffer[],
  deps: CollectDeps,
  headers: Record<string, string>,
  now: number,
  plainRate: number,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-journal-'));
  const journal = await Journal.open({ dir, logger: silentLogger, segmentMaxAgeMs: 60_000 });
  const journaled: CollectDeps = { ...deps, stream: journal.wrap(deps.stream) };
  const send = (body: Buffer) => collectBatch(journaled, headers, body, now);
  try {
    const sequential = await rate(bodies.length * 100, async () => {
      for (const body of bodies) await send(body);
    });
    const concurrent = await rate(bodies.length * 100, async () => {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < bodies.length; i = next++) await send(bodies[i]!);
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    });
    return [
      row('collect + journal, 1 at a time', sequential, plainRate, null),
      row('collect + journal, 16 at a time', concurrent, plainRate, null),
      '  (baseline: the collector without the journal, above; the journal syncs to disk before each answer)',
    ].join('\n');
  } finally {
    await journal.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const JSON_COLUMNS = `{project: 'VARCHAR', event_id: 'VARCHAR', type: 'VARCHAR', event: 'VARCHAR', user_hash: 'VARCHAR',
  anonymous_hash: 'VARCHAR', event_time: 'BIGINT', received_at: 'BIGINT', properties: 'VARCHAR', context: 'VARCHAR',
  key_version: 'INTEGER', flags: 'VARCHAR', channel: 'VARCHAR'}`;

function eventRow(e: LakeEvent): string {
  return JSON.stringify({
    project: e.project,
    event_id: e.eventId,
    type: e.type,
    event: e.event,
    user_hash: e.userHash?.toString() ?? null,
    anonymous_hash: e.anonymousHash?.toString() ?? null,
    event_time: e.eventTime,
    received_at: e.receivedAt,
    properties: e.properties,
    context: e.context,
    key_version: e.keyVersion,
    flags: e.flags,
    channel: e.channel,
  });
}

async function benchLakeWriter(): Promise<string> {
  const random = seeded(2);
  const now = Date.now();
  const N = Number(process.env.BENCH_LAKE_EVENTS ?? 100_000);
  const events = Array.from({ length: N }, (_, i) => lakeEvent(i, random, now));
  // Records as the collector makes them: 100 events per request, one record each.
  const records: LakeRecord[] = [];
  for (let i = 0; i < N; i += 100) {
    for (const data of encodeRecords(
      events.slice(i, i + 100).map((event) => ({ kind: 'event' as const, event })),
    )) {
      records.push({
        shardId: 'shardId-000000000000',
        sequenceNumber: String(1e15 + records.length),
        partitionKey: 'p',
        data,
        arrivalMs: now,
      });
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-'));
  const store = new FsObjectStore(join(dir, 'lake'));
  const writerRate = await rate(N, async () => {
    const outcome = await writeBatch(records, store);
    if (outcome.error) throw outcome.error;
  });

  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  await db.run(`CREATE TABLE events (project VARCHAR, dt DATE, event_id VARCHAR, type VARCHAR, event VARCHAR,
    user_hash BIGINT, anonymous_hash BIGINT, event_time TIMESTAMPTZ, received_at TIMESTAMPTZ,
    properties VARCHAR, context VARCHAR, key_version INTEGER, flags VARCHAR, channel VARCHAR)`);
  const appender = await db.createAppender('events');
  for (const e of events) {
    appender.appendVarchar(e.project);
    appender.appendNull();
    appender.appendVarchar(e.eventId);
    appender.appendVarchar(e.type);
    appender.appendVarchar(e.event ?? '');
    appender.appendBigInt(e.userHash ?? 0n);
    if (e.anonymousHash === null) appender.appendNull();
    else appender.appendBigInt(e.anonymousHash);
    appender.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(e.eventTime) * 1000n));
    appender.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(e.receivedAt) * 1000n));
    appender.appendVarchar(e.properties ?? '');
    appender.appendVarchar(e.context ?? '');
    appender.appendInteger(e.keyVersion);
    appender.appendNull();
    appender.appendNull();
    appender.endRow();
  }
  appender.closeSync();
  await db.run(`UPDATE events SET dt = CAST(event_time AT TIME ZONE 'UTC' AS DATE)`);
  const out = join(dir, 'duck').replaceAll("'", "''");
  const copy = `TO '${out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (project, dt), OVERWRITE_OR_IGNORE true)`;
  const duckRate = await rate(N, async () => {
    await db.run(`COPY (SELECT * FROM events) ${copy}`);
  });
  // DuckDB doing the lake writer's whole job: the same records, gunzipped, read as NDJSON, then COPY.
  const ndjson = join(dir, 'records.ndjson');
  const duckJobRate = await rate(N, async () => {
    const lines: string[] = [];
    for (const r of records) {
      for (const item of decodeRecord(r.data).items) {
        if (item.kind === 'event') lines.push(eventRow(item.event));
      }
    }
    await writeFile(ndjson, lines.join('\n'));
    await db.run(
      `COPY (SELECT * REPLACE (CAST(user_hash AS BIGINT) AS user_hash, CAST(anonymous_hash AS BIGINT) AS anonymous_hash,
              make_timestamptz(event_time * 1000) AS event_time, make_timestamptz(received_at * 1000) AS received_at),
              CAST(make_timestamptz(event_time * 1000) AT TIME ZONE 'UTC' AS DATE) AS dt
             FROM read_json('${ndjson.replaceAll("'", "''")}', format = 'newline_delimited', columns = ${JSON_COLUMNS}))
       ${copy}`,
    );
  });
  db.closeSync();
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
  // The enrichment the lake writer does for each row (in the rate above), on its own: the same
  // contexts (one user agent, parsed once), and the same with a user agent of its own per event.
  const contexts = events.map((e) => e.context);
  const enrichRate = await rate(N, () => {
    for (const context of contexts) enrich(context, null);
  });
  const distinct = contexts.map((c, i) => c!.replace('Chrome/126.0', `Chrome/126.0.${i}`));
  const parseRate = await rate(N, () => {
    for (const context of distinct) enrich(context, null);
  });
  const us = (r: number) => `${(1e6 / r).toFixed(2)} µs`;
  return [
    `enrichment in the lake writer: ${us(enrichRate)} an event (${us(parseRate)} when every event has a user agent not seen before), of the lake writer's ${us(writerRate)}`,
    row('lake writer vs DuckDB, same job', writerRate, duckJobRate, 1.0),
    '  (baseline: DuckDB decoding the same records as NDJSON (read_json) and COPY ... TO parquet, ZSTD, PARTITION_BY project, dt)',
    row('lake writer vs DuckDB COPY only', writerRate, duckRate, 1.0),
    `  (baseline: COPY ... TO parquet of the same rows already in a DuckDB table; ${N.toLocaleString('en')} events in ${records.length} records, DuckDB on its default threads)`,
  ].join('\n');
}

/**
 * `BENCH_ONLY=ingest`, `server`, `records`, `stream`, `warehouse`, `growth`, `intraday`, `scale` or
 * `sustained` runs one part; `sustained` (30 minutes of \`npm start\`'s pipeline) runs only when named.
 */
async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY;
  console.log(`tally bench: node ${process.version}, ${os.cpus().length} cores\n`);
  if (only === undefined || only === 'ingest') {
    console.log(`ingest (median of ${ROUNDS} rounds after a warm-up):`);
    console.log(await benchCollect());
    console.log(await benchLakeWriter());
    console.log(benchPseudonyms());
    console.log('');
  }
  if (only === undefined || only === 'server') console.log(`${(await benchServer()).text}\n`);
  if (only === undefined || only === 'records') console.log(`${benchRecords()}\n`);
  if (only === undefined || only === 'stream') console.log(`${await benchStream()}\n`);
  if (only === undefined || only === 'warehouse') console.log(await benchWarehouse());
  if (only === undefined || only === 'growth') console.log(`\n${await benchGrowth()}`);
  if (only === undefined || only === 'intraday') console.log(`\n${await benchIntraday()}`);
  if (only === undefined || only === 'scale') console.log(`\n${await benchScale()}`);
  if (only === 'sustained') console.log(`\n${await benchSustained()}`);
  else if (only === undefined) console.log('\nsustained: BENCH_ONLY=sustained npm run bench (30 minutes)');
}

main()
  // Keep-alive sockets of the server bench would hold the process for minutes.
  .then(() => process.exit(0))
  .catch((error: Error) => {
    console.error(`bench failed: ${error.message}`);
    process.exit(1);
  });
