import { tracingChannel } from 'node:diagnostics_channel';
import { Admin, Consumer, murmur2, ProduceAcks, Producer } from '@platformatic/kafka';
import { TallyError } from '../errors.js';
import { type KafkaConnection, partitionShard } from './kafka-connection.js';
import type { ShardRecord, StreamReader } from './poller.js';
import type { PutEntry, PutOutcome, StreamWriter } from './producer.js';

/**
 * The stream on a Kafka-compatible cluster (Apache Kafka, Amazon MSK, Confluent, Redpanda): one
 * topic whose partitions play Kinesis' shards (`partition-<n>`) and whose offsets its sequence
 * numbers, so the collector, the poller, the lake writer's keys (partition and first offset) and
 * the checkpoints work unchanged. Records are keyed by the collector's partition key, so one
 * person's events stay in order in one partition; the topic stamps each record with the time the
 * broker appended it (`LogAppendTime`), as Kinesis stamps its arrival.
 */

function shardPartition(shardId: string): number {
  const match = /^partition-(\d{1,9})$/.exec(shardId);
  if (!match) throw new TallyError('invalid_config', `not a Kafka partition: ${JSON.stringify(shardId)}`);
  return Number(match[1]);
}

/** The client options of a connection: the brokers, TLS with the broker's name for SNI, SASL. */
function clientOptions(connection: KafkaConnection | readonly string[]) {
  const c: KafkaConnection = isBrokerList(connection) ? { brokers: connection } : connection;
  return {
    bootstrapBrokers: [...c.brokers],
    ...(c.tls ? { tls: {}, tlsServerName: true } : {}),
    ...(c.sasl ? { sasl: c.sasl } : {}),
  };
}

function isBrokerList(c: KafkaConnection | readonly string[]): c is readonly string[] {
  return Array.isArray(c);
}

/**
 * `work`, or the signal's reason when it is aborted first (the work is abandoned, not stopped);
 * the listener goes with the call, so a signal kept for many calls gathers none.
 */
async function unlessAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Kafka's API key of Produce. */
const PRODUCE_API = 0;
const throttleListeners = new Set<(throttleMs: number) => void>();
let throttleSubscribed = false;

/**
 * Calls `listener` with the throttle time of every produce response in which a broker says it
 * throttled this process's writes (a quota: MSK Serverless' per-partition and per-cluster rates,
 * a client quota on any cluster). The Kafka client answers the produce as usual; only its
 * diagnostics channel of API calls carries the response's `throttle_time_ms`. Answers the
 * function that removes the listener.
 */
export function onProduceThrottled(listener: (throttleMs: number) => void): () => void {
  if (!throttleSubscribed) {
    throttleSubscribed = true;
    const none = () => {};
    tracingChannel('plt:kafka:connections:api').subscribe({
      start: none,
      end: none,
      asyncStart: none,
      error: none,
      asyncEnd(context) {
        const call = context as { apiKey?: number; result?: { throttleTimeMs?: number } };
        const ms = call.result?.throttleTimeMs ?? 0;
        if (call.apiKey === PRODUCE_API && ms > 0) for (const l of throttleListeners) l(ms);
      },
    });
  }
  throttleListeners.add(listener);
  return () => throttleListeners.delete(listener);
}

/** The largest record batch the topic takes: above the collector's 5 MB calls. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Creates the events topic when it does not exist (its partitions, retention and append-time
 * stamps, the cluster's own replication factor), or adds partitions to one that has fewer than
 * asked (Kafka never removes any; a key's partition changes for records written after).
 * Answers the partitions the topic has.
 */
export async function ensureTopic(
  connection: KafkaConnection | readonly string[],
  topic: string,
  options: { partitions: number; retentionHours: number },
): Promise<number> {
  const admin = new Admin({ clientId: 'tally-admin', ...clientOptions(connection) });
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      await admin.createTopics({
        topics: [topic],
        partitions: options.partitions,
        // The broker's default (MSK Serverless takes no other; a local broker's is 1).
        replicas: -1,
        configs: [
          { name: 'message.timestamp.type', value: 'LogAppendTime' },
          { name: 'retention.ms', value: String(options.retentionHours * 3_600_000) },
          // A call carries up to 5 MB (the collector's Kinesis-sized calls), one batch per partition.
          { name: 'max.message.bytes', value: String(MAX_BATCH_BYTES) },
        ],
      });
    } else {
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
      const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
      if (count < options.partitions) {
        await admin.createPartitions({ topics: [{ name: topic, count: options.partitions }] });
      }
    }
    // A new topic's partitions take a moment to get their leaders: writes wait for them here.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
      const partitions = metadata.topics.get(topic)?.partitions ?? [];
      if (partitions.length >= options.partitions && partitions.every((p) => p.leader >= 0))
        return partitions.length;
      if (Date.now() > deadline)
        throw new TallyError('stream_unavailable', `the partitions of Kafka topic ${topic} have no leader`);
      await new Promise((done) => setTimeout(done, 100));
    }
  } finally {
    await admin.close();
  }
}

/** The offsets of the partitions of `topic` a failed produce's answers name without an error. */
function appendedIn(error: unknown, topic: string, found: Map<number, bigint>, depth = 0): void {
  if (error === null || typeof error !== 'object' || depth > 6) return;
  const response = (error as { response?: { responses?: unknown } }).response;
  const topics = Array.isArray(response?.responses) ? response.responses : [];
  for (const t of topics as Array<{ name?: string; partitionResponses?: unknown }>) {
    if (t.name !== topic || !Array.isArray(t.partitionResponses)) continue;
    for (const p of t.partitionResponses as Array<{ index: number; errorCode: number; baseOffset: bigint }>) {
      if (p.errorCode === 0 && typeof p.baseOffset === 'bigint' && p.baseOffset >= 0n)
        found.set(p.index, p.baseOffset);
    }
  }
  const inner = (error as { errors?: unknown }).errors;
  for (const e of Array.isArray(inner) ? inner : []) appendedIn(e, topic, found, depth + 1);
}

/**
 * The collector's writer: a produce per call, acknowledged by every in-sync replica. Each record
 * goes to the partition of its key as Kafka's default partitioner picks it (murmur2, positive,
 * modulo the partitions), set here so each entry's partition and offset are known: a partition's
 * records of one call are one batch, at consecutive offsets from the one the broker returns.
 */
export class KafkaStreamWriter implements StreamWriter {
  private readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  private partitions: number | null = null;

  constructor(
    connection: KafkaConnection | readonly string[],
    private readonly topic: string,
  ) {
    this.producer = new Producer({
      clientId: 'tally-collector',
      ...clientOptions(connection),
      acks: ProduceAcks.ALL,
      // No retry inside the client: a produce whose answer names an error for one partition is
      // failed whole there and, sent again, copies the partitions that were appended. Here only
      // the failed partitions' entries are reported failed, and the caller retries those (putAll).
      retries: 0,
      repeatOnStaleMetadata: false,
      // The client's own deadline of a request (5 s by default), which a loaded machine can miss:
      // a produce that was appended but answered late is failed, retried and copied. The
      // collector's calls have their own deadline (the abort signal), so a long one here holds
      // no request back.
      timeout: 30_000,
    });
  }

  private async partitionCount(): Promise<number> {
    if (this.partitions === null) {
      const metadata = await this.producer.metadata({ topics: [this.topic] });
      const count = metadata.topics.get(this.topic)?.partitionsCount ?? 0;
      if (count === 0) throw new TallyError('stream_unavailable', `no Kafka topic ${this.topic}`);
      this.partitions = count;
    }
    return this.partitions;
  }

  /**
   * Reports each entry as Kinesis does: its partition and offset, or an error code when the
   * produce did not append its partition (the caller retries those entries: `putAll`); throws when
   * the call failed as a whole.
   */
  async putRecords(entries: readonly PutEntry[], signal?: AbortSignal): Promise<PutOutcome[]> {
    signal?.throwIfAborted();
    const count = await this.partitionCount();
    const keys = entries.map((e) => Buffer.from(e.partitionKey));
    const partitions = keys.map((key) => (murmur2(key) & 0x7fffffff) % count);
    const sent = this.producer.send({
      messages: entries.map((e, i) => ({
        topic: this.topic,
        partition: partitions[i]!,
        key: keys[i]!,
        value: Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength),
      })),
    });
    let base: Map<number, bigint>;
    let failure = 'missing_offset';
    try {
      const result = await unlessAborted(sent, signal);
      base = new Map(
        (result.offsets ?? []).filter((o) => o.offset >= 0n).map((o) => [o.partition, o.offset]),
      );
    } catch (error) {
      // The partitions a failed produce did append (on brokers that answered, or named without an
      // error in an answer that had one) are reported: only the others' entries are failed, and
      // retried, as Kinesis reports its entries one by one.
      if (
        (error as { findBy?: (key: string, value: unknown) => unknown }).findBy?.('hasStaleMetadata', true)
      ) {
        this.producer.clearMetadata();
      }
      base = new Map();
      const produced = (error as { produced?: { offsets?: { partition: number; offset: bigint }[] } })
        .produced;
      for (const o of produced?.offsets ?? []) if (o.offset >= 0n) base.set(o.partition, o.offset);
      appendedIn(error, this.topic, base);
      if (base.size === 0) throw error;
      failure = (error as { code?: string }).code ?? 'produce_failed';
    }
    const seen = new Map<number, bigint>();
    return partitions.map((partition) => {
      const first = base.get(partition);
      if (first === undefined) return { errorCode: failure };
      const index = seen.get(partition) ?? 0n;
      seen.set(partition, index + 1n);
      return { shardId: partitionShard(partition), sequenceNumber: String(first + index) };
    });
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}

/** What a fetch may return per partition: the poller takes at most its batch size from it. */
const PARTITION_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The poller's reader: fetches from a partition's leader by offset, without a consumer group
 * (the poller keeps its own checkpoints, as it does for Kinesis). An iterator is
 * `partition-<n>@<offset>`, the next offset to read.
 */
export class KafkaStreamReader implements StreamReader {
  readonly streamArn: string;
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;

  constructor(
    connection: KafkaConnection | readonly string[],
    private readonly topic: string,
  ) {
    this.streamArn = `kafka:${topic}`;
    this.consumer = new Consumer({
      clientId: 'tally-lake-writer',
      groupId: 'tally-lake-writer',
      ...clientOptions(connection),
    });
  }

  private async topicMetadata() {
    const metadata = await this.consumer.metadata({ topics: [this.topic] });
    const topic = metadata.topics.get(this.topic);
    if (!topic) throw new TallyError('stream_unavailable', `no Kafka topic ${this.topic}`);
    return topic;
  }

  async listShards(): Promise<string[]> {
    const topic = await this.topicMetadata();
    return Array.from({ length: topic.partitionsCount }, (_, i) => partitionShard(i));
  }

  async iterator(shardId: string, afterSequenceNumber: string | null, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    const partition = shardPartition(shardId);
    if (afterSequenceNumber !== null) return `${shardId}@${BigInt(afterSequenceNumber) + 1n}`;
    // The oldest offset still kept (retention may have dropped the first ones).
    const offsets = await this.consumer.listOffsets({
      topics: [this.topic],
      partitions: { [this.topic]: [partition] },
      timestamp: -2n,
    });
    const oldest = offsets.get(this.topic)?.[partition] ?? 0n;
    return `${shardId}@${oldest}`;
  }

  async read(
    iterator: string,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ records: ShardRecord[]; next: string | null }> {
    signal?.throwIfAborted();
    const [shardId, at] = iterator.split('@') as [string, string];
    const partition = shardPartition(shardId);
    const from = BigInt(at);
    const topic = await this.topicMetadata();
    const leader = topic.partitions[partition]?.leader ?? -1;
    if (leader < 0)
      throw new TallyError('stream_unavailable', `no leader for ${this.topic} partition ${partition}`);
    const response = await this.consumer.fetch({
      node: leader,
      topics: [
        {
          topicId: topic.id,
          partitions: [
            {
              partition,
              fetchOffset: from,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
              partitionMaxBytes: PARTITION_MAX_BYTES,
            },
          ],
        },
      ],
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes: PARTITION_MAX_BYTES,
    });
    const records: ShardRecord[] = [];
    for (const answer of response.responses) {
      for (const part of answer.partitions) {
        if (part.errorCode !== 0)
          throw new TallyError(
            'stream_unavailable',
            `Kafka fetch of ${this.topic} partition ${partition} failed with error code ${part.errorCode}`,
          );
        for (const batch of part.records ?? []) {
          // With LogAppendTime (attribute bit 3) the batch's max timestamp is every record's.
          const appended = (batch.attributes & 0x08) !== 0;
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            if (offset < from || records.length >= limit) continue;
            records.push({
              sequenceNumber: String(offset),
              partitionKey: record.key?.toString() ?? '',
              data: new Uint8Array(record.value ?? Buffer.alloc(0)),
              arrivalMs: Number(appended ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta),
            });
          }
        }
      }
    }
    const last = records.at(-1);
    return { records, next: `${shardId}@${last ? BigInt(last.sequenceNumber) + 1n : from}` };
  }

  async close(): Promise<void> {
    await this.consumer.close();
  }
}
