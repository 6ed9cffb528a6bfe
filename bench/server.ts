/**
 * `BENCH_ONLY=server`: the collector container's server under load on this machine. A load
 * generator (this process) keeps concurrent keep-alive connections busy with 20-event batches;
 * the server runs in its own process, so its events per CPU second are its own, end to end from
 * the socket to an accepted PutRecords. Baseline, in the same run: the collector called directly
 * on the same bodies (no HTTP, no stream), per CPU second.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hashKey, KeyRing } from '../lib/ingest/auth.js';
import { collect } from '../lib/ingest/collect.js';
import { ensureStream, startKinesisLocal } from '../local/kinesis-local.js';
import { seeded, segmentEvent } from './data.js';
import { BENCH_WRITE_KEY } from './server-child.js';

const EVENTS_PER_REQUEST = 20;
const CHILD = fileURLToPath(new URL('./server-child.ts', import.meta.url));

interface Report {
  cpuSeconds: number;
  rssMb: number;
  putRecordsCalls: number;
  records: number;
  entries: number;
}

function bodies(count: number): Buffer[] {
  const random = seeded(7);
  const now = Date.now();
  return Array.from({ length: count }, (_, b) =>
    Buffer.from(
      JSON.stringify({
        batch: Array.from({ length: EVENTS_PER_REQUEST }, (_, i) =>
          segmentEvent(b * EVENTS_PER_REQUEST + i, random, now),
        ),
      }),
    ),
  );
}

/** What the bench's requests carry: JSON and the bench project's write key. */
const HEADERS = {
  'content-type': 'application/json',
  authorization: `Basic ${Buffer.from(`${BENCH_WRITE_KEY}:`).toString('base64')}`,
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/** Runs the server in a child and `requests` requests through `connections` at once. */
async function load(
  requests: number,
  connections: number,
  env: Record<string, string>,
): Promise<{ report: Report; wallSeconds: number; latencies: number[] }> {
  const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env } });
  const next = () => new Promise<unknown>((resolve) => child.once('message', resolve));
  const { url } = (await next()) as { url: string };
  const payloads = bodies(500).map((b) => b.toString('utf8'));
  const send = async (i: number) => {
    const started = performance.now();
    const response = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: HEADERS,
      body: payloads[i % payloads.length],
    });
    if (response.status !== 200)
      throw new Error(`the server answered ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
    return performance.now() - started;
  };
  // Warm-up, then the measured run.
  await Promise.all(Array.from({ length: connections * 4 }, (_, i) => send(i)));
  child.send('start');
  await next();
  const latencies: number[] = [];
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (issued < requests) latencies.push(await send(issued++));
    }),
  );
  const wallSeconds = (performance.now() - started) / 1000;
  child.send('report');
  const report = (await next()) as Report;
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  return { report, wallSeconds, latencies: latencies.sort((a, b) => a - b) };
}

/** Events per CPU second of the collector alone, on the same bodies (the baseline). */
async function collectorAlone(): Promise<number> {
  const payloads = bodies(500);
  const deps = {
    writeKeys: new KeyRing([{ project: 'shop', sha256: hashKey(BENCH_WRITE_KEY) }]),
    hashKey: { version: 1, secret: Buffer.alloc(32, 1) },
    stream: { putRecords: async (entries: readonly unknown[]) => entries.map(() => ({})) },
  };
  const run = async () => {
    for (const body of payloads) {
      const { response } = await collect(
        { method: 'POST', path: '/v1/batch', headers: HEADERS, body, receivedAt: Date.now() },
        deps,
      );
      if (response.status !== 200) throw new Error(`collect answered ${response.status}`);
    }
  };
  await run();
  const cpu = process.cpuUsage();
  for (let i = 0; i < 4; i++) await run();
  const used = process.cpuUsage(cpu);
  return (4 * payloads.length * EVENTS_PER_REQUEST) / ((used.user + used.system) / 1e6);
}

function line(
  name: string,
  requests: number,
  r: { report: Report; wallSeconds: number; latencies: number[] },
): string {
  const events = requests * EVENTS_PER_REQUEST;
  const perCore = events / r.report.cpuSeconds;
  return [
    `${name.padEnd(34)} ${Math.round(perCore).toLocaleString('en').padStart(10)} ev/s per core   ${Math.round(
      events / r.wallSeconds,
    )
      .toLocaleString('en')
      .padStart(9)} ev/s wall`,
    `  latency p50 ${percentile(r.latencies, 0.5).toFixed(1)} ms, p99 ${percentile(r.latencies, 0.99).toFixed(1)} ms; server RSS ${Math.round(r.report.rssMb)} MB; ` +
      `${r.report.entries.toLocaleString('en')} requests' records in ${r.report.records.toLocaleString('en')} stream records (bundles of up to 25 KB) and ${r.report.putRecordsCalls.toLocaleString('en')} PutRecords calls`,
  ].join('\n');
}

export async function benchServer(): Promise<{ text: string; perCore: number }> {
  const requests = Number(process.env.BENCH_SERVER_REQUESTS ?? 20_000);
  const alone = await collectorAlone();
  const instant = await load(requests, 64, {});
  const perCore = (requests * EVENTS_PER_REQUEST) / instant.report.cpuSeconds;
  const kinesis = await startKinesisLocal();
  let viaKinesis: string;
  try {
    await ensureStream(kinesis.client, 'bench', 4);
    const few = Math.min(requests, 3000);
    const slow = await load(few, 64, { BENCH_KINESIS_ENDPOINT: kinesis.endpoint, BENCH_STREAM: 'bench' });
    viaKinesis = line('server -> kinesis-local', few, slow);
  } finally {
    await kinesis.stop();
  }
  const text = [
    `collector container server (${EVENTS_PER_REQUEST} events a request, 64 connections, ${requests.toLocaleString('en')} requests; load generator in this process, server in its own):`,
    line('server -> stream answering at once', requests, instant),
    viaKinesis,
    `${'baseline: collect() alone'.padEnd(34)} ${Math.round(alone).toLocaleString('en').padStart(10)} ev/s per core   (the same bodies, no HTTP, no stream; the server keeps ${((perCore / alone) * 100).toFixed(0)}% of it)`,
    `  (per core = events / the server process's CPU seconds; kinesis-local takes ~2 ms a record, so its run measures batching, not speed)`,
  ].join('\n');
  return { text, perCore };
}
