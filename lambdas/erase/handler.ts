import { readEndpoint, readHashKey, readLakeBucket, readPreviousHashKeys } from '../../lib/config.js';
import type { HashKey } from '../../lib/ingest/pseudonymize.js';
import { S3ObjectStore } from '../../lib/lake/s3-store.js';
import type { ObjectStore } from '../../lib/lake/store.js';
import type { Logger } from '../../lib/log.js';
import { type ErasureRecord, erase, erasureRequestOf } from '../../lib/privacy/erasure.js';
import { s3Client } from '../aws.js';
import { onColdStart } from '../cold-start.js';
import { lambdaLogger } from '../logger.js';
import { withSecrets } from '../secrets.js';

/** `{"project", "userIds": [...], "anonymousIds": [...]}` in, the erasure's audit record out. */
export type EraseHandler = (event: unknown) => Promise<ErasureRecord>;

/**
 * Erases people from the lake (invoked by an operator: `aws lambda invoke`). The next rollup
 * recomputes the days it changed, from the manifest the erasure writes. Raw ids are never logged.
 */
export function createEraseHandler(store: ObjectStore, keys: HashKey[], logger: Logger): EraseHandler {
  return async (event) => {
    const request = erasureRequestOf(event);
    const record = await erase({ store, keys, now: new Date() }, request);
    logger.info('erased', {
      project: record.project,
      erasure: record.id,
      eventRowsRemoved: record.eventRowsRemoved,
      badRowsRemoved: record.badRowsRemoved,
      days: record.days.length,
    });
    return record;
  };
}

const fromEnv = onColdStart(async () => {
  const env = await withSecrets(process.env);
  return createEraseHandler(
    new S3ObjectStore(s3Client(readEndpoint(env, 'S3')), readLakeBucket(env)),
    [readHashKey(env), ...readPreviousHashKeys(env)],
    lambdaLogger('erase'),
  );
});

/** Lambda entry point. */
export const handler: EraseHandler = async (event) => (await fromEnv())(event);
