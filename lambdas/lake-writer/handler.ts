import type {
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
  MSKEvent,
  MSKRecord,
  SelfManagedKafkaEvent,
} from 'aws-lambda';
import { readEndpoint, readGlueNames, readLakeBucket } from '../../lib/config.js';
import { S3ObjectStore } from '../../lib/lake/s3-store.js';
import type { ObjectStore } from '../../lib/lake/store.js';
import { type LakeRecord, writeBatch } from '../../lib/lake/writer.js';
import type { Logger } from '../../lib/log.js';
import { ErasureLog } from '../../lib/privacy/erasure.js';
import { partitionShard } from '../../lib/stream/kafka-connection.js';
import type { ProjectDay } from '../../lib/warehouse/days.js';
import { onlyNewPartitions, registerPartitions } from '../../lib/warehouse/glue.js';
import { glueClient, s3Client } from '../aws.js';
import { onColdStart } from '../cold-start.js';
import { lambdaLogger } from '../logger.js';

export type LakeWriterHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;

function toRecord(r: KinesisStreamRecord): LakeRecord {
  return {
    shardId: r.eventID.split(':')[0] ?? '',
    sequenceNumber: r.kinesis.sequenceNumber,
    partitionKey: r.kinesis.partitionKey,
    data: Buffer.from(r.kinesis.data, 'base64'),
    arrivalMs: Math.round(r.kinesis.approximateArrivalTimestamp * 1000),
  };
}

/** A Kafka event source mapping's delivery: records by topic and partition (MSK or any other cluster). */
export type KafkaEvent = MSKEvent | SelfManagedKafkaEvent;

/**
 * A Kafka delivery's records, one list per partition in offset order, as the lake writer takes
 * a Kinesis shard's: the partition plays the shard (`partition-<n>`), the offset the sequence
 * number, the topic's append time the arrival.
 */
export function kafkaBatches(event: KafkaEvent): LakeRecord[][] {
  const batches: LakeRecord[][] = [];
  for (const records of Object.values(event.records) as MSKRecord[][]) {
    const sorted = [...records].sort((a, b) => a.offset - b.offset);
    if (sorted.length === 0) continue;
    batches.push(
      sorted.map((r) => ({
        shardId: partitionShard(r.partition),
        sequenceNumber: String(r.offset),
        partitionKey: r.key ? Buffer.from(r.key, 'base64').toString() : '',
        data: Buffer.from(r.value ?? '', 'base64'),
        arrivalMs: r.timestamp,
      })),
    );
  }
  return batches;
}

/** The lake writer over the given store (S3 on AWS, a directory locally). */
export function createLakeWriterHandler(
  store: ObjectStore,
  logger: Logger,
  registerPartitions?: (days: readonly ProjectDay[]) => Promise<void>,
): LakeWriterHandler {
  const write = createLakeRecordsWriter(store, logger, registerPartitions);
  return (event) => write(event.Records.map(toRecord));
}

/** Writes one shard's or partition's records and logs the outcome; the partial batch response. */
function createLakeRecordsWriter(
  store: ObjectStore,
  logger: Logger,
  registerPartitions?: (days: readonly ProjectDay[]) => Promise<void>,
): (records: LakeRecord[]) => Promise<KinesisStreamBatchResponse> {
  const erasures = new ErasureLog(store);
  return async (records) => {
    const outcome = await writeBatch(records, store, { erasures, registerPartitions });
    if (outcome.error) {
      logger.error('lake write failed, batch will be retried', {
        records: records.length,
        error: outcome.error.message,
      });
    } else if (outcome.manifest) {
      const m = outcome.manifest;
      if (outcome.unregistered !== undefined) {
        logger.warn('partitions not registered; the next batch of the day or the rollup registers them', {
          batch: m.batch,
          error: outcome.unregistered,
        });
      }
      logger.info('lake batch written', {
        batch: m.batch,
        records: m.records,
        events: m.events,
        files: m.files.length,
        badRows: m.bad.reduce((n, b) => n + b.rows, 0),
        duplicatesInBatch: m.duplicatesInBatch,
        erased: m.erased,
      });
    }
    return outcome.response;
  };
}

/**
 * The lake writer of a Kafka event source mapping: each partition's records are a batch of their
 * own, written as a Kinesis shard's are (keys from the partition and first offset). Kafka's
 * mapping commits a delivery's offsets only when the function succeeds, so a partition that
 * could not be written fails the whole delivery: it comes again from the same offsets, and the
 * partitions written already overwrite their own files.
 */
export function createKafkaLakeWriterHandler(
  store: ObjectStore,
  logger: Logger,
  registerPartitions?: (days: readonly ProjectDay[]) => Promise<void>,
): (event: KafkaEvent) => Promise<void> {
  const write = createLakeRecordsWriter(store, logger, registerPartitions);
  return async (event) => {
    const failed: string[] = [];
    for (const batch of kafkaBatches(event)) {
      const response = await write(batch);
      if (response.batchItemFailures.length > 0)
        failed.push(`${batch[0]!.shardId}@${batch[0]!.sequenceNumber}`);
    }
    if (failed.length > 0)
      throw new Error(`lake write failed for ${failed.join(', ')}; the delivery will be retried`);
  };
}

const fromEnv = onColdStart(() => {
  const bucket = readLakeBucket(process.env);
  // Partitions are registered as the lake gets them (Athena reads new days with no rollup),
  // where the stack names a Glue table; against emulators there is none.
  const glue = process.env.TALLY_GLUE_DATABASE
    ? { client: glueClient(), ...readGlueNames(process.env) }
    : null;
  const store = new S3ObjectStore(s3Client(readEndpoint(process.env, 'S3')), bucket);
  const logger = lambdaLogger('lake-writer');
  const register = glue
    ? onlyNewPartitions((days) =>
        registerPartitions(glue.client, { database: glue.database, table: glue.table, bucket }, days),
      )
    : undefined;
  return {
    kinesis: createLakeWriterHandler(store, logger, register),
    kafka: createKafkaLakeWriterHandler(store, logger, register),
  };
});

/**
 * Lambda entry point, for a Kinesis or a Kafka event source mapping (the deploy's stream);
 * configuration and clients are read and made once per cold start.
 */
export const handler = async (
  event: KinesisStreamEvent | KafkaEvent,
): Promise<KinesisStreamBatchResponse | undefined> => {
  const handlers = await fromEnv();
  if ('records' in event) {
    await handlers.kafka(event);
    return undefined;
  }
  return handlers.kinesis(event);
};
