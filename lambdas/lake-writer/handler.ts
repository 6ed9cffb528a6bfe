import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { readEndpoint, readGlueNames, readLakeBucket } from '../../lib/config.js';
import { S3ObjectStore } from '../../lib/lake/s3-store.js';
import type { ObjectStore } from '../../lib/lake/store.js';
import { type LakeRecord, writeBatch } from '../../lib/lake/writer.js';
import type { Logger } from '../../lib/log.js';
import { ErasureLog } from '../../lib/privacy/erasure.js';
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

/** The lake writer over the given store (S3 on AWS, a directory locally). */
export function createLakeWriterHandler(
  store: ObjectStore,
  logger: Logger,
  registerPartitions?: (days: readonly ProjectDay[]) => Promise<void>,
): LakeWriterHandler {
  const erasures = new ErasureLog(store);
  return async (event) => {
    const outcome = await writeBatch(event.Records.map(toRecord), store, { erasures, registerPartitions });
    if (outcome.error) {
      logger.error('lake write failed, batch will be retried', {
        records: event.Records.length,
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

const fromEnv = onColdStart(() => {
  const bucket = readLakeBucket(process.env);
  // Partitions are registered as the lake gets them (Athena reads new days with no rollup),
  // where the stack names a Glue table; against emulators there is none.
  const glue = process.env.TALLY_GLUE_DATABASE
    ? { client: glueClient(), ...readGlueNames(process.env) }
    : null;
  return createLakeWriterHandler(
    new S3ObjectStore(s3Client(readEndpoint(process.env, 'S3')), bucket),
    lambdaLogger('lake-writer'),
    glue
      ? onlyNewPartitions((days) =>
          registerPartitions(glue.client, { database: glue.database, table: glue.table, bucket }, days),
        )
      : undefined,
  );
});

/** Lambda entry point: configuration and clients are read and made once per cold start. */
export const handler: LakeWriterHandler = async (event) => (await fromEnv())(event);
