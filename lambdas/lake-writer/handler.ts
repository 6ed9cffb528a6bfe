import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { readEndpoint, readLakeBucket } from '../../lib/config.js';
import { S3ObjectStore } from '../../lib/lake/s3-store.js';
import type { ObjectStore } from '../../lib/lake/store.js';
import { type LakeRecord, writeBatch } from '../../lib/lake/writer.js';
import type { Logger } from '../../lib/log.js';
import { ErasureLog } from '../../lib/privacy/erasure.js';
import { s3Client } from '../aws.js';
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
export function createLakeWriterHandler(store: ObjectStore, logger: Logger): LakeWriterHandler {
  const erasures = new ErasureLog(store);
  return async (event) => {
    const outcome = await writeBatch(event.Records.map(toRecord), store, { erasures });
    if (outcome.error) {
      logger.error('lake write failed, batch will be retried', {
        records: event.Records.length,
        error: outcome.error.message,
      });
    } else if (outcome.manifest) {
      const m = outcome.manifest;
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

const fromEnv = onColdStart(() =>
  createLakeWriterHandler(
    new S3ObjectStore(s3Client(readEndpoint(process.env)), readLakeBucket(process.env)),
    lambdaLogger('lake-writer'),
  ),
);

/** Lambda entry point: configuration and clients are read and made once per cold start. */
export const handler: LakeWriterHandler = async (event) => (await fromEnv())(event);
