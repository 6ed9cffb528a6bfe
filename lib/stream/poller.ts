import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { Logger } from '../log.js';

/** One record read from a shard. */
export interface ShardRecord {
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  arrivalMs: number;
}

/** The reads the poller needs from a stream (Kinesis GetShardIterator / GetRecords). */
export interface StreamReader {
  readonly streamArn: string;
  listShards(): Promise<string[]>;
  /** An iterator after `sequenceNumber`, or at the oldest record when it is null; `signal` abandons the call. */
  iterator(shardId: string, afterSequenceNumber: string | null, signal?: AbortSignal): Promise<string>;
  read(
    iterator: string,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ records: ShardRecord[]; next: string | null }>;
}

/** Where each shard's progress is kept, so a restart resumes after the last processed record. */
export interface CheckpointStore {
  load(shardId: string): Promise<string | null>;
  save(shardId: string, sequenceNumber: string): Promise<void>;
}

/** A batch given up after its retries: the on-failure destination's payload. */
export interface FailedBatch {
  shardId: string;
  firstSequenceNumber: string;
  lastSequenceNumber: string;
  records: number;
  attempts: number;
  reason: string;
  /** The invocation that failed, records included (what an S3 on-failure destination keeps). */
  event: KinesisStreamEvent;
}

export type KinesisHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | undefined>;

/** The event source mapping settings the poller honours, with Lambda's meaning. */
export interface PollerOptions {
  /** @default 1000 */
  batchSize?: number;
  /** How long to gather records before invoking with a partial batch. @default 1000 */
  batchingWindowMs?: number;
  /** Retries of a failing batch before it goes to `onFailure`. @default 10 */
  maxRetryAttempts?: number;
  /** Pause between reads of an idle shard. @default 250 */
  idleMs?: number;
  /** Backoff base between retries of a failing batch. @default 200 */
  retryDelayMs?: number;
  region?: string;
  onFailure: (batch: FailedBatch) => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function lowestFailure(response: KinesisStreamBatchResponse | undefined, batch: ShardRecord[]): number {
  const ids = (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
  if (ids.length === 0) return -1;
  // An empty or unknown identifier means the whole batch failed, as on Lambda.
  let lowest = batch.length;
  for (const id of ids) {
    const index = id ? batch.findIndex((r) => r.sequenceNumber === id) : -1;
    if (index === -1) return 0;
    lowest = Math.min(lowest, index);
  }
  return lowest;
}

/**
 * Polls every shard of a stream and invokes a Lambda-style Kinesis handler with Lambda's event
 * source mapping semantics: batches of up to `batchSize` gathered for at most the batching
 * window, in order per shard; a partial batch response checkpoints the records before the
 * lowest failure and retries from it; a thrown error retries the whole batch; after the retries
 * a batch goes to `onFailure` and the shard moves on. Checkpoints persist after each success.
 */
export class LocalPoller {
  private running = false;
  private loops: Promise<void>[] = [];
  /** Abandons the stream calls in flight when the poller stops: a stop never waits on the stream. */
  private reads = new AbortController();
  private readonly options: Required<Omit<PollerOptions, 'region'>> & { region: string };

  constructor(
    private readonly reader: StreamReader,
    private readonly checkpoints: CheckpointStore,
    private readonly handler: KinesisHandler,
    private readonly logger: Logger,
    options: PollerOptions,
  ) {
    this.options = {
      batchSize: 1000,
      batchingWindowMs: 1000,
      maxRetryAttempts: 10,
      idleMs: 250,
      retryDelayMs: 200,
      region: 'us-east-1',
      ...options,
    };
  }

  async start(): Promise<void> {
    this.running = true;
    this.reads = new AbortController();
    const shards = await this.reader.listShards();
    this.loops = shards.map((shard) => this.guard(shard));
  }

  /**
   * Stops reading (a read or iterator call in flight is abandoned: what it would have read is read
   * again after the checkpoint next time), finishes the records already read (flush), and
   * resolves when every shard is idle.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.reads.abort(new Error('the poller is stopping'));
    await Promise.all(this.loops);
  }

  /**
   * A shard loop never ends the process: whatever escapes it (a stream that went away, a
   * checkpoint store that failed) is logged and the shard is polled again from its checkpoint.
   */
  private async guard(shardId: string): Promise<void> {
    for (let failures = 0; this.running; ) {
      try {
        await this.pollShard(shardId);
        return;
      } catch (error) {
        if (!this.running) return;
        failures++;
        this.logger.error('shard loop failed; resuming from its checkpoint', {
          shardId,
          error: (error as Error).message,
        });
        await sleep(Math.min(this.options.idleMs * 2 ** failures, 10_000));
      }
    }
  }

  /**
   * An iterator after the checkpoint; when the stream no longer knows that sequence number (it
   * was recreated, or lost records it had acknowledged), the oldest record it holds: replaying
   * records the lake already has makes duplicates the readers remove, skipping would lose events.
   */
  private async open(shardId: string, after: string | null): Promise<string> {
    const signal = this.reads.signal;
    try {
      return await this.reader.iterator(shardId, after, signal);
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (after === null || (name !== 'ResourceNotFoundException' && name !== 'InvalidArgumentException')) {
        throw error;
      }
      this.logger.warn('checkpoint unknown to the stream; reading the shard from its oldest record', {
        shardId,
        checkpoint: after,
      });
      return this.reader.iterator(shardId, null, signal);
    }
  }

  private toEvent(shardId: string, batch: ShardRecord[]): KinesisStreamEvent {
    const records: KinesisStreamRecord[] = batch.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.partitionKey,
        sequenceNumber: r.sequenceNumber,
        data: Buffer.from(r.data).toString('base64'),
        approximateArrivalTimestamp: r.arrivalMs / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${r.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/local',
      awsRegion: this.options.region,
      eventSourceARN: this.reader.streamArn,
    }));
    return { Records: records };
  }

  /** Delivers one batch until it succeeds or is given up; returns when the shard may move on. */
  private async deliver(shardId: string, batch: ShardRecord[]): Promise<void> {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      let failedAt: number;
      let reason = 'partial batch failure';
      try {
        failedAt = lowestFailure(await this.handler(this.toEvent(shardId, pending)), pending);
      } catch (error) {
        failedAt = 0;
        reason = `handler error: ${(error as Error).message}`;
      }
      if (failedAt === -1) {
        await this.checkpoints.save(shardId, pending[pending.length - 1]!.sequenceNumber);
        return;
      }
      if (failedAt > 0) await this.checkpoints.save(shardId, pending[failedAt - 1]!.sequenceNumber);
      pending = pending.slice(failedAt);
      if (attempt >= this.options.maxRetryAttempts) {
        const failed: FailedBatch = {
          shardId,
          firstSequenceNumber: pending[0]!.sequenceNumber,
          lastSequenceNumber: pending[pending.length - 1]!.sequenceNumber,
          records: pending.length,
          attempts: attempt + 1,
          reason,
          event: this.toEvent(shardId, pending),
        };
        const { event: _records, ...metadata } = failed;
        this.logger.error('batch given up after retries', metadata);
        await this.options.onFailure(failed);
        await this.checkpoints.save(shardId, failed.lastSequenceNumber);
        return;
      }
      this.logger.warn('batch failed, retrying', {
        shardId,
        attempt: attempt + 1,
        records: pending.length,
        reason,
      });
      await sleep(Math.min(this.options.retryDelayMs * 2 ** attempt, 10_000));
    }
  }

  private async pollShard(shardId: string): Promise<void> {
    let lastRead = await this.checkpoints.load(shardId);
    let iterator: string | null = await this.open(shardId, lastRead);
    const buffer: ShardRecord[] = [];
    let windowStart = 0;
    while (this.running || buffer.length > 0) {
      let readNothing = true;
      if (this.running && iterator !== null && buffer.length < this.options.batchSize) {
        try {
          const { records, next } = await this.reader.read(
            iterator,
            this.options.batchSize - buffer.length,
            this.reads.signal,
          );
          iterator = next;
          if (records.length > 0) {
            if (buffer.length === 0) windowStart = Date.now();
            buffer.push(...records);
            lastRead = records[records.length - 1]!.sequenceNumber;
            readNothing = false;
          }
        } catch (error) {
          if (!this.running) continue;
          this.logger.warn('read failed, reopening the shard', { shardId, error: (error as Error).message });
          await sleep(this.options.idleMs);
          iterator = await this.open(shardId, lastRead).catch(() => iterator);
          continue;
        }
      }
      const full = buffer.length >= this.options.batchSize;
      const windowOver = buffer.length > 0 && Date.now() - windowStart >= this.options.batchingWindowMs;
      if (full || windowOver || (!this.running && buffer.length > 0)) {
        await this.deliver(shardId, buffer.splice(0, this.options.batchSize));
        if (buffer.length > 0) windowStart = Date.now();
      } else if (readNothing) {
        await sleep(this.options.idleMs);
      }
    }
  }
}
