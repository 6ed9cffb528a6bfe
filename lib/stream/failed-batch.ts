import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { TallyError } from '../errors.js';
import type { FailedBatch } from './poller.js';

/**
 * A batch the lake writer gave up on, as kept by an S3 on-failure destination: metadata about
 * the failed invocation (`KinesisBatchInfo`, `requestContext`) and the invocation itself under
 * `payload`, records included (AWS: "For Amazon S3 destinations, Lambda also sends the entire
 * invocation record along with the metadata"). The local pipeline writes the same shape, so one
 * replay reads both.
 */
export interface FailedBatchRecord {
  version: '1.0';
  timestamp: string;
  requestContext: { condition: string; approximateInvokeCount: number; functionArn?: string };
  responseContext?: { functionError?: string };
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    batchSize: number;
    streamArn: string;
  };
  /** The invocation: a JSON text on AWS; an object is accepted too. */
  payload: string | KinesisStreamEvent;
}

/** The record the local on-failure destination stores for a batch given up. */
export function failedBatchRecord(failed: FailedBatch, streamArn: string, now: Date): FailedBatchRecord {
  return {
    version: '1.0',
    timestamp: now.toISOString(),
    requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: failed.attempts },
    responseContext: { functionError: failed.reason },
    KinesisBatchInfo: {
      shardId: failed.shardId,
      startSequenceNumber: failed.firstSequenceNumber,
      endSequenceNumber: failed.lastSequenceNumber,
      batchSize: failed.records,
      streamArn,
    },
    payload: JSON.stringify(failed.event),
  };
}

/** Where a failed batch record is stored: one object per batch, named by its first record. */
export function failedBatchKey(shardId: string, firstSequenceNumber: string): string {
  return `${shardId.toLowerCase()}-${firstSequenceNumber}.json`;
}

/**
 * The Kinesis event a failed-batch object holds, ready to be given to the lake writer again.
 * Throws a TallyError naming what is missing when the object holds no records (an SQS/SNS
 * destination's metadata-only message, or another file).
 */
export function failedBatchEvent(text: string, source: string): KinesisStreamEvent {
  let record: Partial<FailedBatchRecord>;
  try {
    record = JSON.parse(text) as Partial<FailedBatchRecord>;
  } catch (error) {
    throw new TallyError('invalid_failed_batch', `${source}: not JSON (${(error as Error).message})`);
  }
  let payload: unknown = record?.payload;
  if (typeof payload === 'string') {
    // A JSON text of the invocation; accepted base64-encoded too, in case a destination wraps it.
    const text = payload.trimStart().startsWith('{')
      ? payload
      : Buffer.from(payload, 'base64').toString('utf8');
    try {
      payload = JSON.parse(text);
    } catch {
      throw new TallyError('invalid_failed_batch', `${source}: "payload" is not a JSON invocation`);
    }
  }
  const records = (payload as { Records?: unknown } | undefined)?.Records;
  if (!Array.isArray(records) || records.length === 0) {
    throw new TallyError(
      'invalid_failed_batch',
      `${source}: no records under "payload.Records" (metadata-only destinations cannot be replayed)`,
    );
  }
  for (const [i, r] of records.entries()) {
    const kinesis = (r as Partial<KinesisStreamRecord> | null)?.kinesis;
    if (typeof kinesis?.data !== 'string' || typeof kinesis.sequenceNumber !== 'string') {
      throw new TallyError(
        'invalid_failed_batch',
        `${source}: record ${i} has no kinesis.data/sequenceNumber`,
      );
    }
  }
  return { Records: records as KinesisStreamRecord[] };
}
