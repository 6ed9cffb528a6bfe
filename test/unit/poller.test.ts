import type { KinesisStreamEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.js';
import {
  type CheckpointStore,
  type FailedBatch,
  LocalPoller,
  type ShardRecord,
  type StreamReader,
} from '../../lib/stream/poller.js';

class ArrayReader implements StreamReader {
  readonly streamArn = 'arn:aws:kinesis:us-east-1:000000000000:stream/test';
  constructor(readonly records: ShardRecord[]) {}
  async listShards() {
    return ['shardId-000000000000'];
  }
  async iterator(_shard: string, after: string | null) {
    return String(after === null ? 0 : this.records.findIndex((r) => r.sequenceNumber === after) + 1);
  }
  async read(iterator: string, limit: number) {
    const start = Number(iterator);
    const records = this.records.slice(start, start + limit);
    return { records, next: String(start + records.length) };
  }
}

class MemoryCheckpoints implements CheckpointStore {
  readonly saved: string[] = [];
  constructor(private last: string | null = null) {}
  async load() {
    return this.last;
  }
  async save(_shard: string, seq: string) {
    this.last = seq;
    this.saved.push(seq);
  }
}

const records = (n: number): ShardRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    sequenceNumber: String(100 + i),
    partitionKey: 'p',
    data: Buffer.from([i]),
    arrivalMs: 0,
  }));
const seqs = (e: KinesisStreamEvent) => e.Records.map((r) => r.kinesis.sequenceNumber);

async function run(
  reader: StreamReader,
  checkpoints: CheckpointStore,
  handler: (
    e: KinesisStreamEvent,
  ) => Promise<{ batchItemFailures: { itemIdentifier: string }[] } | undefined>,
  until: () => boolean,
  failures: FailedBatch[] = [],
) {
  const poller = new LocalPoller(reader, checkpoints, handler, silentLogger, {
    batchSize: 4,
    batchingWindowMs: 0,
    idleMs: 1,
    retryDelayMs: 1,
    maxRetryAttempts: 2,
    onFailure: async (f) => {
      failures.push(f);
    },
  });
  await poller.start();
  const deadline = Date.now() + 5000;
  while (!until() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await poller.stop();
}

describe('LocalPoller', () => {
  it('delivers batches in order and checkpoints the last record of each', async () => {
    const batches: string[][] = [];
    const checkpoints = new MemoryCheckpoints();
    await run(
      new ArrayReader(records(10)),
      checkpoints,
      async (e) => {
        batches.push(seqs(e));
        return { batchItemFailures: [] };
      },
      () => checkpoints.saved.includes('109'),
    );
    expect(batches.flat()).toEqual(records(10).map((r) => r.sequenceNumber));
    expect(batches.every((b) => b.length <= 4)).toBe(true);
    expect(checkpoints.saved.at(-1)).toBe('109');
  });

  it('resumes after the checkpoint', async () => {
    const seen: string[] = [];
    const checkpoints = new MemoryCheckpoints('105');
    await run(
      new ArrayReader(records(8)),
      checkpoints,
      async (e) => {
        seen.push(...seqs(e));
        return undefined;
      },
      () => checkpoints.saved.includes('107'),
    );
    expect(seen).toEqual(['106', '107']);
  });

  it('checkpoints before the lowest failure and retries from it', async () => {
    const calls: string[][] = [];
    const checkpoints = new MemoryCheckpoints();
    await run(
      new ArrayReader(records(4)),
      checkpoints,
      async (e) => {
        calls.push(seqs(e));
        return calls.length === 1
          ? { batchItemFailures: [{ itemIdentifier: '103' }, { itemIdentifier: '102' }] }
          : { batchItemFailures: [] };
      },
      () => checkpoints.saved.includes('103'),
    );
    expect(calls).toEqual([
      ['100', '101', '102', '103'],
      ['102', '103'],
    ]);
    expect(checkpoints.saved).toEqual(['101', '103']);
  });

  it('retries the whole batch when the handler throws or names no known record', async () => {
    const calls: string[][] = [];
    const checkpoints = new MemoryCheckpoints();
    await run(
      new ArrayReader(records(2)),
      checkpoints,
      async (e) => {
        calls.push(seqs(e));
        if (calls.length === 1) throw new Error('boom');
        if (calls.length === 2) return { batchItemFailures: [{ itemIdentifier: '' }] };
        return { batchItemFailures: [] };
      },
      () => checkpoints.saved.includes('101'),
    );
    expect(calls).toEqual([
      ['100', '101'],
      ['100', '101'],
      ['100', '101'],
    ]);
  });

  it('sends a batch that keeps failing to onFailure and moves on', async () => {
    const failures: FailedBatch[] = [];
    const checkpoints = new MemoryCheckpoints();
    let calls = 0;
    await run(
      new ArrayReader(records(2)),
      checkpoints,
      async () => {
        calls++;
        throw new Error('always');
      },
      () => failures.length > 0,
      failures,
    );
    expect(calls).toBe(3);
    expect(failures).toMatchObject([
      { firstSequenceNumber: '100', lastSequenceNumber: '101', records: 2, attempts: 3 },
    ]);
    expect(checkpoints.saved).toEqual(['101']);
  });

  it('stops while a read hangs on a stream that went away: the read is abandoned, what was read is delivered', async () => {
    // Arrange: a first read answers, every later one waits until its signal aborts it.
    const delivered: string[] = [];
    let reads = 0;
    const reader: StreamReader = {
      streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/test',
      listShards: async () => ['shardId-000000000000'],
      iterator: async () => '0',
      read: (_iterator, _limit, signal) => {
        reads += 1;
        if (reads === 1) return Promise.resolve({ records: records(2), next: '2' });
        return new Promise((_, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason));
        });
      },
    };
    const poller = new LocalPoller(
      reader,
      new MemoryCheckpoints(),
      async (e) => {
        delivered.push(...seqs(e));
        return undefined;
      },
      silentLogger,
      { batchSize: 4, batchingWindowMs: 60_000, idleMs: 1, onFailure: async () => {} },
    );
    await poller.start();
    const deadline = Date.now() + 5000;
    while (reads < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));

    // Act
    const stopped = await Promise.race([
      poller.stop().then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r('still waiting'), 2000)),
    ]);

    // Assert
    expect(stopped).toBe('stopped');
    expect(delivered).toEqual(['100', '101']);
  });
});
