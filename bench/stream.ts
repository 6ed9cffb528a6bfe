/**
 * `BENCH_ONLY=stream`: the two streams the collector can write to, on this machine, in one run:
 * a single-node Apache Kafka broker (`local/kafka-broker.ts`) and kinesis-local (the baseline,
 * the default of `npm start`). Produce: the collector's writer putting calls of 100 records of
 * 20 events one after another (latency per call, events/s, events/s per core of the writer's own
 * CPU); consume: the poller's reader reading every shard or partition back in reads of 1,000
 * records. The broker and the emulator run on the same cores as the client, so these are figures
 * of this machine's local setups, not of MSK or Kinesis.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecords } from '../lib/stream/codec.js';
import { ensureTopic, KafkaStreamReader, KafkaStreamWriter } from '../lib/stream/kafka.js';
import { KinesisStreamReader, KinesisStreamWriter } from '../lib/stream/kinesis.js';
import type { StreamReader } from '../lib/stream/poller.js';
import { type PutEntry, putAll, type StreamWriter } from '../lib/stream/producer.js';
import { kafkaMissing, startKafkaBroker } from '../local/kafka-broker.js';
import { ensureStream, startKinesisLocal } from '../local/kinesis-local.js';
import { lakeEvent, seeded } from './data.js';

const CALLS = Number(process.env.BENCH_STREAM_CALLS ?? 200);
const RECORDS_PER_CALL = 100;
const EVENTS_PER_RECORD = 20;
const SHARDS = 4;

interface Figures {
  /** Records read back beyond those put: copies (a stream delivers at least once). */
  extra: number;
  produceRate: number;
  producePerCore: number;
  p50Ms: number;
  p99Ms: number;
  consumeRate: number;
  consumePerCore: number;
}

/** The calls a collector would make: records of 20 events, keyed by user. */
function calls(): PutEntry[][] {
  const random = seeded(7);
  const now = Date.now();
  let i = 0;
  return Array.from({ length: CALLS }, () =>
    Array.from({ length: RECORDS_PER_CALL }, () => {
      const events = Array.from({ length: EVENTS_PER_RECORD }, () => lakeEvent(i++, random, now));
      return {
        partitionKey: `user-${i % 1000}`,
        data: encodeRecords(events.map((event) => ({ kind: 'event' as const, event })))[0]!,
      };
    }),
  );
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

async function measure(writer: StreamWriter, reader: StreamReader, work: PutEntry[][]): Promise<Figures> {
  const events = CALLS * RECORDS_PER_CALL * EVENTS_PER_RECORD;
  const latencies: number[] = [];
  let cpu = process.cpuUsage();
  let start = process.hrtime.bigint();
  for (const call of work) {
    const t = process.hrtime.bigint();
    await putAll(writer, call);
    latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const produceSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const produceCpu = cpuSeconds(cpu);
  latencies.sort((a, b) => a - b);
  cpu = process.cpuUsage();
  start = process.hrtime.bigint();
  let read = 0;
  for (const shard of await reader.listShards()) {
    let iterator: string | null = await reader.iterator(shard, null);
    for (;;) {
      const out: Awaited<ReturnType<StreamReader['read']>> = await reader.read(iterator!, 1000);
      read += out.records.length;
      if (out.records.length === 0 || out.next === null) break;
      iterator = out.next;
    }
  }
  const consumeSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const consumeCpu = cpuSeconds(cpu);
  if (read < CALLS * RECORDS_PER_CALL)
    throw new Error(`read ${read} records back, ${CALLS * RECORDS_PER_CALL} were put`);
  return {
    extra: read - CALLS * RECORDS_PER_CALL,
    produceRate: events / produceSeconds,
    producePerCore: events / produceCpu,
    p50Ms: latencies[Math.floor(latencies.length / 2)]!,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!,
    consumeRate: events / consumeSeconds,
    consumePerCore: events / consumeCpu,
  };
}

export async function benchStream(): Promise<string> {
  const missing = kafkaMissing();
  if (missing) return `stream: not run (${missing})`;
  const work = calls();
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-stream-'));
  const rows: [string, Figures][] = [];
  try {
    const kinesis = await startKinesisLocal();
    try {
      const arn = await ensureStream(kinesis.client, 'bench', SHARDS);
      rows.push([
        'kinesis-local (baseline)',
        await measure(
          new KinesisStreamWriter(kinesis.client, { streamName: 'bench' }),
          new KinesisStreamReader(kinesis.client, 'bench', arn),
          work,
        ),
      ]);
    } finally {
      await kinesis.stop();
    }
    const broker = await startKafkaBroker({ dataDir: join(dir, 'kafka') });
    const writer = new KafkaStreamWriter(broker.brokers, 'bench');
    const reader = new KafkaStreamReader(broker.brokers, 'bench');
    try {
      await ensureTopic(broker.brokers, 'bench', { partitions: SHARDS, retentionHours: 1 });
      rows.push(['Apache Kafka 4.0, one node', await measure(writer, reader, work)]);
    } finally {
      await writer.close();
      await reader.close();
      await broker.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const n = (x: number) => Math.round(x).toLocaleString('en');
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  return [
    `stream: ${CALLS} calls of ${RECORDS_PER_CALL} records of ${EVENTS_PER_RECORD} events (${n(CALLS * RECORDS_PER_CALL * EVENTS_PER_RECORD)} events), ${SHARDS} shards or partitions, the server on the same cores`,
    ...rows.map(
      ([name, f]) =>
        `  ${name.padEnd(28)} produce ${n(f.produceRate).padStart(9)} ev/s (${n(f.producePerCore)} per core of the writer), call p50 ${ms(f.p50Ms)} p99 ${ms(f.p99Ms)}; consume ${n(f.consumeRate).padStart(9)} ev/s (${n(f.consumePerCore)} per core of the reader)${f.extra > 0 ? `; ${n(f.extra)} more records read back than were put (copies: the stream is at least once)` : ''}`,
    ),
  ].join('\n');
}
