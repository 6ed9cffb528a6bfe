import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { failedBatchEvent } from '../../lib/stream/failed-batch.js';
import { waitFor } from '../../local/ports.js';
import { readLakeStore } from '../helpers/duckdb.js';
import { type S3Emulator, startS3 } from '../helpers/emulators.js';
import { waitForLake } from '../helpers/lake.js';
import { sendBatch, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../local/cli.ts');

async function tally(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

let test: TestPipeline;
let s3: S3Emulator;
let broken = true;
const ids = Array.from({ length: 40 }, (_, i) => `replay-${i}`);

beforeAll(async () => {
  s3 = await startS3();
  test = await startTestPipeline('replay', {
    maxRetryAttempts: 1,
    wrapHandler: (handler) => async (event) => {
      if (broken) throw new Error('the lake is unreachable');
      return handler(event);
    },
  });
});
afterAll(async () => {
  await test?.close();
  await s3?.stop();
});

describe('failed batches: kept with their records, replayed idempotently', () => {
  it('keeps a batch the lake writer gave up, records included, and replays it into the lake once', async () => {
    const { pipeline, dataDir } = test;
    const response = await sendBatch(
      pipeline,
      ids.map((messageId) => ({ type: 'track', event: 'Replayed', messageId, userId: messageId })),
    );
    expect(response.status).toBe(200);
    const dir = join(dataDir, 'failed-batches');
    let files: string[] = [];
    const batches = async () => (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.json'));
    await waitFor(
      'a failed batch',
      async () => {
        files = await batches();
        return files.length > 0;
      },
      30_000,
    );
    const text = await readFile(join(dir, files[0]!), 'utf8');
    const record = JSON.parse(text);
    expect(record).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
      KinesisBatchInfo: { shardId: 'shardId-000000000000', streamArn: pipeline.streamArn },
    });
    expect(failedBatchEvent(text, files[0]!).Records.length).toBe(record.KinesisBatchInfo.batchSize);
    // Given up means checkpointed past: the journal no longer holds them, the failed batch does.
    await waitFor('the journal to let go', async () => pipeline.journal.stats().records === 0, 10_000);

    broken = false;
    const env = { TALLY_DATA_DIR: dataDir };
    const first = await tally(['replay'], env);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/replayed 1 batch\(es\), \d+ record\(s\)/);
    const rows = await waitForLake(new FsObjectStore(join(dataDir, 'lake')), ids);
    expect(rows.filter((r) => ids.includes(r.event_id))).toHaveLength(ids.length);

    const again = await tally(['replay'], env);
    expect(again.out).toMatch(/replayed 0 batch\(es\).*1 replayed before, skipped/);
    const forced = await tally(['replay', '--all'], env);
    expect(forced.out).toMatch(/replayed 1 batch\(es\)/);
    // Same keys rewritten: still exactly one row per event.
    const after = (await readLakeStore(new FsObjectStore(join(dataDir, 'lake')))).filter((r) =>
      ids.includes(r.event_id),
    );
    expect(after).toHaveLength(ids.length);
  });

  it('replays from an S3 failed-batch bucket into an S3 lake, and names what it cannot replay', async () => {
    const failures = await s3.bucket('tally-failed-batches');
    const lake = await s3.bucket('tally-lake');
    const dir = join(test.dataDir, 'failed-batches');
    const [file] = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    await failures.put(`2026/11/22/${file}`, await readFile(join(dir, file!)), 'application/json');
    // What an SQS destination would have received: metadata only.
    await failures.put(
      'metadata-only.json',
      Buffer.from(JSON.stringify({ KinesisBatchInfo: {} })),
      'application/json',
    );

    const env = {
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
    const result = await tally(
      ['replay', '--bucket', 'tally-failed-batches', '--lake-bucket', 'tally-lake'],
      env,
    );
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/replayed 1 batch\(es\)/);
    expect(result.err).toMatch(
      /could not replay metadata-only\.json: metadata-only\.json: no records under "payload\.Records"/,
    );
    const rows = await readLakeStore(lake);
    expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(ids));

    const half = await tally(['replay', '--bucket', 'tally-failed-batches'], env);
    expect(half.code).toBe(1);
    expect(half.err).toMatch(/--bucket and --lake-bucket go together/);
  });
});
