import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { ShardRecord, StreamReader } from './poller.js';
import type { PutEntry, PutOutcome, StreamWriter } from './producer.js';

/** The stream to write to: by ARN on AWS (what CDK passes), by name against emulators. */
export type StreamRef = { streamArn: string } | { streamName: string };

/** StreamWriter over Kinesis PutRecords; the client is created by the caller, once per process. */
export class KinesisStreamWriter implements StreamWriter {
  constructor(
    private readonly client: KinesisClient,
    private readonly stream: StreamRef,
  ) {}

  async putRecords(entries: readonly PutEntry[], signal?: AbortSignal): Promise<PutOutcome[]> {
    const out = await this.client.send(
      new PutRecordsCommand({
        ...('streamArn' in this.stream
          ? { StreamARN: this.stream.streamArn }
          : { StreamName: this.stream.streamName }),
        Records: entries.map((e) => ({ Data: e.data, PartitionKey: e.partitionKey })),
      }),
      { abortSignal: signal },
    );
    const results = out.Records ?? [];
    return entries.map((_, i) => {
      const r = results[i];
      if (r === undefined) return { errorCode: 'MissingResult' };
      if (r.ErrorCode) return { errorCode: r.ErrorCode };
      return { shardId: r.ShardId, sequenceNumber: r.SequenceNumber };
    });
  }
}

/** StreamReader over Kinesis, for the local poller. */
export class KinesisStreamReader implements StreamReader {
  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
    readonly streamArn: string,
  ) {}

  async listShards(): Promise<string[]> {
    const shards: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.streamName }),
      );
      for (const s of out.Shards ?? []) if (s.ShardId) shards.push(s.ShardId);
      token = out.NextToken;
    } while (token);
    return shards;
  }

  async iterator(shardId: string, afterSequenceNumber: string | null, signal?: AbortSignal): Promise<string> {
    const out = await this.client.send(
      new GetShardIteratorCommand({
        StreamName: this.streamName,
        ShardId: shardId,
        ...(afterSequenceNumber
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: afterSequenceNumber }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
      { abortSignal: signal },
    );
    if (!out.ShardIterator) throw new Error(`no shard iterator for ${shardId}`);
    return out.ShardIterator;
  }

  async read(
    iterator: string,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ records: ShardRecord[]; next: string | null }> {
    const out = await this.client.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(limit, 10_000) }),
      { abortSignal: signal },
    );
    const records = (out.Records ?? []).map((r) => ({
      sequenceNumber: r.SequenceNumber ?? '',
      partitionKey: r.PartitionKey ?? '',
      data: r.Data ?? new Uint8Array(),
      arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? 0,
    }));
    return { records, next: out.NextShardIterator ?? null };
  }
}
