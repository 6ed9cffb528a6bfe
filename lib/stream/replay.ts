import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { ObjectStore } from '../lake/store.js';
import { failedBatchEvent } from './failed-batch.js';

/** Where replayed batches are marked, inside the failed-batch store. */
export const REPLAYED_PREFIX = 'replayed/';

export interface ReplayResult {
  batches: number;
  records: number;
  /** Batches marked replayed before, left alone (pass `all` to replay them again). */
  skipped: number;
  /** Objects that could not be replayed, with why; the others went through. */
  failed: Array<{ key: string; error: string }>;
}

export interface ReplayOptions {
  /** Replay batches already marked replayed too. @default false */
  all?: boolean;
  onBatch?: (key: string, records: number) => void;
}

/**
 * Gives every failed batch kept in `failures` to the lake writer again. The lake writer names its
 * files after the batch's shard and first sequence number, so a replay writes the same keys the
 * first try would have: replaying twice, or a batch that partly landed, never doubles a row (and
 * readers remove duplicates by event_id anyway). A batch replayed in full is marked under
 * `replayed/`; a batch the lake writer still refuses stays unmarked and is reported.
 */
export async function replayFailedBatches(
  failures: ObjectStore,
  lakeWriter: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | undefined>,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const result: ReplayResult = { batches: 0, records: 0, skipped: 0, failed: [] };
  const keys = await failures.list('');
  const done = new Set(
    keys.filter((k) => k.startsWith(REPLAYED_PREFIX)).map((k) => k.slice(REPLAYED_PREFIX.length)),
  );
  for (const key of keys) {
    if (key.startsWith(REPLAYED_PREFIX)) continue;
    if (done.has(key) && !options.all) {
      result.skipped++;
      continue;
    }
    try {
      const body = await failures.get(key);
      if (!body) continue;
      const event = failedBatchEvent(Buffer.from(body).toString('utf8'), key);
      const response = await lakeWriter(event);
      const refused = response?.batchItemFailures ?? [];
      if (refused.length > 0) {
        throw new Error(
          `the lake writer refused ${refused.length} record(s) from ${refused[0]!.itemIdentifier} on`,
        );
      }
      await failures.put(
        `${REPLAYED_PREFIX}${key}`,
        Buffer.from(JSON.stringify({ replayedAt: new Date().toISOString(), records: event.Records.length })),
        'application/json',
      );
      result.batches++;
      result.records += event.Records.length;
      options.onBatch?.(key, event.Records.length);
    } catch (error) {
      result.failed.push({ key, error: (error as Error).message });
    }
  }
  return result;
}
