import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLakeWriterHandler } from '../../lambdas/lake-writer/handler.js';
import { type ObjectStore, StorageError } from '../../lib/lake/store.js';
import { silentLogger } from '../../lib/log.js';
import type { PutEntry, StreamWriter } from '../../lib/stream/producer.js';
import { type KinesisLocal, startKinesisLocal } from '../../local/kinesis-local.js';
import { type PipelineOptions, startPipeline } from '../../local/pipeline.js';
import { type LakeRow, readLakeStore } from '../helpers/duckdb.js';
import { type S3Emulator, startS3 } from '../helpers/emulators.js';
import { readBadRows, waitForLake } from '../helpers/lake.js';
import { post, sendBatches, workload } from '../helpers/workload.js';

let kinesis: KinesisLocal;
let s3: S3Emulator;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  [kinesis, s3] = await Promise.all([startKinesisLocal(), startS3()]);
});
afterAll(async () => {
  for (const done of cleanup.reverse()) await done();
  await Promise.all([kinesis?.stop(), s3?.stop()]);
});

/** A seeded generator, so every run injects the same faults. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

async function pipelineOn(name: string, store: ObjectStore, over: Partial<PipelineOptions> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), `tally-fault-${name}-`));
  const pipeline = await startPipeline({
    dataDir,
    port: 0,
    logger: silentLogger,
    kinesisEndpoint: kinesis.endpoint,
    streamName: `faults-${name}`,
    store,
    batchingWindowMs: 150,
    put: { policy: { maxAttempts: 12, baseDelayMs: 1, maxDelayMs: 20 } },
    ...over,
  });
  cleanup.push(async () => {
    await pipeline.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { pipeline, dataDir, writeKey: pipeline.writeKeys.default! };
}

function acceptedIds(prefix: string, count: number): { events: ReturnType<typeof workload>; ids: string[] } {
  const events = workload(prefix, count, Date.now());
  return { events, ids: events.filter((e) => e.expect !== null).map((e) => e.body.messageId as string) };
}

function distinct(rows: LakeRow[]): string[] {
  return [...new Set(rows.map((r) => r.event_id))].sort();
}

describe('faults (reliability scenarios C1-C3, K1, K2, K4, K5)', () => {
  it('C1: with 30% of PutRecords entries failing, only those are retried and nothing is lost or doubled', async () => {
    const store = await s3.bucket('fault-c1');
    const random = rng(1);
    let injected = 0;
    const { pipeline, writeKey } = await pipelineOn('c1', store, {
      wrapWriter: (inner): StreamWriter => ({
        async putRecords(entries: readonly PutEntry[]) {
          const fail = entries.map(() => random() < 0.3);
          const passed = entries.filter((_, i) => !fail[i]);
          const outcomes = passed.length > 0 ? await inner.putRecords(passed) : [];
          let next = 0;
          return fail.map((f) => {
            if (!f) return outcomes[next++]!;
            injected++;
            return { errorCode: 'ProvisionedThroughputExceededException' };
          });
        },
      }),
    });
    const { events, ids } = acceptedIds('c1', 600);

    const responses = await sendBatches(pipeline.url, writeKey, events, 10);
    const rows = await waitForLake(store, ids);

    expect(injected).toBeGreaterThan(5);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(distinct(rows)).toEqual([...ids].sort());
    expect(rows).toHaveLength(ids.length);
  });

  it('C2: a PutRecords that times out after the stream took it leaves duplicates only removable by event_id', async () => {
    const store = await s3.bucket('fault-c2');
    let calls = 0;
    let written = 0;
    const { pipeline, writeKey } = await pipelineOn('c2', store, {
      wrapWriter: (inner): StreamWriter => ({
        async putRecords(entries: readonly PutEntry[]) {
          const outcomes = await inner.putRecords(entries);
          written += entries.length;
          if (++calls % 4 === 0) throw Object.assign(new Error('socket timeout'), { name: 'TimeoutError' });
          return outcomes;
        },
      }),
    });
    const { events, ids } = acceptedIds('c2', 200);

    const responses = await sendBatches(pipeline.url, writeKey, events, 10);
    const rows = await waitForLake(store, ids);

    // The stream holds copies; the lake writer drops those within a batch, the warehouse the rest.
    expect(written).toBeGreaterThan(responses.length);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(distinct(rows)).toEqual([...ids].sort());
    expect(rows.length).toBeGreaterThanOrEqual(ids.length);
  });

  it('C3: past the retry budget the client gets 503 + Retry-After, and its resend lands once', async () => {
    const store = await s3.bucket('fault-c3');
    let down = true;
    const { pipeline, writeKey } = await pipelineOn('c3', store, {
      put: { policy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } },
      wrapWriter: (inner): StreamWriter => ({
        putRecords: async (entries) =>
          down
            ? entries.map(() => ({ errorCode: 'ProvisionedThroughputExceededException' }))
            : inner.putRecords(entries),
      }),
    });
    const body = { batch: [{ type: 'track', userId: 'u1', event: 'Paid', messageId: 'c3-once' }] };

    const refused = await fetch(`${pipeline.url}/v1/batch`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
    });
    down = false;
    const first = await post(pipeline.url, writeKey, '/v1/batch', body);
    const again = await post(pipeline.url, writeKey, '/v1/batch', body);
    const rows = await waitForLake(store, ['c3-once']);

    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({ error: { code: 'stream_unavailable' } });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(distinct(rows)).toEqual(['c3-once']);
  });

  it('K1: an undecodable record mid-stream becomes a bad row and does not block the shard', async () => {
    const store = await s3.bucket('fault-k1');
    const { pipeline, dataDir, writeKey } = await pipelineOn('k1', store);
    const { events, ids } = acceptedIds('k1', 120);

    await sendBatches(pipeline.url, writeKey, events.slice(0, 60), 20);
    await kinesis.client.send(
      new PutRecordsCommand({
        StreamName: 'faults-k1',
        Records: [{ Data: Buffer.from('\u0000garbage'), PartitionKey: 'x' }],
      }),
    );
    await sendBatches(pipeline.url, writeKey, events.slice(60), 20);
    const rows = await waitForLake(store, ids);

    expect(distinct(rows)).toEqual([...ids].sort());
    const bad = await readBadRows(store);
    expect(bad.filter((b) => b.reason === 'undecodable_record')).toHaveLength(1);
    expect(bad.filter((b) => b.stage === 'collect')).toHaveLength(events.length - ids.length);
    expect(await readdir(join(dataDir, 'failed-batches')).catch(() => [])).toEqual([]);
  });

  it('K2: an S3 error fails the batch, the retry writes the same keys, and nothing is doubled', async () => {
    const base = await s3.bucket('fault-k2');
    let puts = 0;
    const { pipeline, writeKey } = await pipelineOn('k2', base, {
      wrapStore: (inner) => ({
        list: (p) => inner.list(p),
        get: (k) => inner.get(k),
        put: async (key, body, type) => {
          if (++puts === 2)
            throw new StorageError('put', key, new Error('We encountered an internal error (500)'));
          return inner.put(key, body, type);
        },
      }),
    });
    const { events, ids } = acceptedIds('k2', 150);

    await sendBatches(pipeline.url, writeKey, events, 50);
    const rows = await waitForLake(base, ids);

    expect(puts).toBeGreaterThan(2);
    expect(distinct(rows)).toEqual([...ids].sort());
    expect(rows).toHaveLength(ids.length);
  });

  it('K4: a crash after the write is followed by a redelivery that overwrites the same objects', async () => {
    const base = await s3.bucket('fault-k4');
    let crashed = false;
    const { pipeline, writeKey } = await pipelineOn('k4', base, {
      wrapStore: (inner) => ({
        list: (p) => inner.list(p),
        get: (k) => inner.get(k),
        put: async (key, body, type) => {
          await inner.put(key, body, type);
          if (key.startsWith('manifests/') && !crashed) {
            crashed = true;
            throw new StorageError('put', key, new Error('connection reset after upload'));
          }
        },
      }),
    });
    const { events, ids } = acceptedIds('k4', 150);

    await sendBatches(pipeline.url, writeKey, events, 50);
    const rows = await waitForLake(base, ids);

    expect(crashed).toBe(true);
    expect(distinct(rows)).toEqual([...ids].sort());
    expect(rows).toHaveLength(ids.length);
  });

  it('K5: a redelivered batch that is a superset of the first leaves the exact set of event ids', async () => {
    const store = await s3.bucket('fault-k5');
    const { pipeline, writeKey } = await pipelineOn('k5', await s3.bucket('fault-k5-unused'));
    const { events, ids } = acceptedIds('k5', 90);
    await sendBatches(pipeline.url, writeKey, events, 10);
    const shard = 'shardId-000000000000';
    const { ShardIterator } = await kinesis.client.send(
      new GetShardIteratorCommand({
        StreamName: 'faults-k5',
        ShardId: shard,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const { Records = [] } = await kinesis.client.send(new GetRecordsCommand({ ShardIterator, Limit: 100 }));
    const toEvent = (n: number): KinesisStreamEvent => ({
      Records: Records.slice(0, n).map((r) => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.PartitionKey!,
          sequenceNumber: r.SequenceNumber!,
          data: Buffer.from(r.Data!).toString('base64'),
          approximateArrivalTimestamp: r.ApproximateArrivalTimestamp!.getTime() / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shard}:${r.SequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/test',
        awsRegion: 'us-east-1',
        eventSourceARN: pipeline.streamArn,
      })),
    });
    const handler = createLakeWriterHandler(store, silentLogger);

    const first = await handler(toEvent(4));
    const again = await handler(toEvent(4));
    const superset = await handler(toEvent(Records.length));
    const rows = await readLakeStore(store);

    expect(Records).toHaveLength(9);
    expect([first, again, superset]).toEqual([
      { batchItemFailures: [] },
      { batchItemFailures: [] },
      { batchItemFailures: [] },
    ]);
    expect(distinct(rows)).toEqual([...ids].sort());
    expect(rows).toHaveLength(ids.length);
  });
});
