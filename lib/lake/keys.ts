import { TallyError } from '../errors.js';
import { utcDate } from '../events.js';

/** Lake keys stay within `[a-z0-9=./-]`: safe in S3, on disk, and in emulators that sort by locale. */
const KEY = /^[a-z0-9=./-]+$/;
/** A Kinesis shard (`shardId-000000000000`) or a Kafka partition (`partition-3`). */
const SHARD = /^(shardid|partition)-\d{1,20}$/;
const SEQUENCE = /^\d{1,128}$/;

export class KeyError extends TallyError {}

function checked(key: string): string {
  if (!KEY.test(key))
    throw new KeyError(
      'invalid_key',
      `lake key ${JSON.stringify(key).slice(0, 120)} has characters outside [a-z0-9=./-]`,
    );
  return key;
}

/**
 * The identity of a lake-writer batch: its shard and first sequence number. Every key the batch
 * writes derives from it, so a retried batch overwrites its own objects instead of adding copies.
 */
export function batchId(shardId: string, firstSequenceNumber: string): string {
  const shard = shardId.toLowerCase();
  if (!SHARD.test(shard))
    throw new KeyError('invalid_key', `unexpected shard id ${JSON.stringify(shardId).slice(0, 60)}`);
  if (!SEQUENCE.test(firstSequenceNumber)) {
    throw new KeyError(
      'invalid_key',
      `unexpected sequence number ${JSON.stringify(firstSequenceNumber).slice(0, 60)}`,
    );
  }
  return `${shard}-${firstSequenceNumber}`;
}

export function eventsKey(project: string, dt: string, batch: string): string {
  return checked(`events/project=${project}/dt=${dt}/${batch}.parquet`);
}

export function badKey(dt: string, batch: string): string {
  return checked(`bad/dt=${dt}/${batch}.ndjson.gz`);
}

/** The folder of the manifests of one UTC hour: `manifests/<YYYY-MM-DD>/<HH>/`. */
export function manifestHourPrefix(ms: number): string {
  return `manifests/${utcDate(ms)}/${new Date(ms).toISOString().slice(11, 13)}/`;
}

/** Manifests are filed by the arrival time of the batch's first record (not the wall clock). */
export function manifestKey(arrivalMs: number, batch: string): string {
  return checked(`${manifestHourPrefix(arrivalMs)}${batch}.json`);
}
