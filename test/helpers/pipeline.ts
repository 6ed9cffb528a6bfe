import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { type Pipeline, type PipelineOptions, startPipeline } from '../../local/pipeline.js';
import { localHmacKey } from './lake.js';

/** A local pipeline (kinesis-local, the filesystem lake, DuckDB) in a data dir of its own. */
export interface TestPipeline {
  dataDir: string;
  pipeline: Pipeline;
  /** The HMAC key the pipeline created, to compute expected hashes independently. */
  secret: Buffer;
  /** Stops the pipeline (once) and removes the data dir. */
  close(): Promise<void>;
}

/**
 * Starts one for a test file: a free port, short batching window, rollups only on request.
 * `prepare` runs on the new data dir before the pipeline starts.
 */
export async function startTestPipeline(
  name: string,
  options: Partial<Omit<PipelineOptions, 'dataDir'>> = {},
  prepare: (dataDir: string) => Promise<void> = async () => {},
): Promise<TestPipeline> {
  const dataDir = await mkdtemp(join(tmpdir(), `tally-${name}-`));
  await prepare(dataDir);
  const pipeline = await startPipeline({
    dataDir,
    port: 0,
    logger: silentLogger,
    batchingWindowMs: 200,
    rollupIntervalMs: 0,
    ...options,
  });
  return {
    dataDir,
    pipeline,
    secret: await localHmacKey(dataDir),
    async close() {
      await pipeline.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** POSTs a body to a collector's `/v1/batch` with a write key; its status, the body read. */
export async function postBatch(url: string, writeKey: string, body: string): Promise<number> {
  const response = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
    },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

/** POSTs events to the pipeline's `/v1/batch` with the write key of project "default". */
export function sendBatch(pipeline: Pipeline, events: unknown[]): Promise<Response> {
  return fetch(`${pipeline.url}/v1/batch`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${pipeline.writeKeys.default}:`).toString('base64')}`,
    },
    body: JSON.stringify({ batch: events }),
  });
}

/**
 * The same pipeline on a Kafka topic (a broker it starts itself): a data dir of its own with the
 * projects, keys and HMAC key of `test` copied in, so the same write keys work and the same ids
 * hash alike; only the stream and the lake differ.
 */
export function startKafkaTwin(test: TestPipeline, name: string): Promise<TestPipeline> {
  return startTestPipeline(name, { kafka: {} }, async (dataDir) => {
    for (const file of ['config.json', 'write-keys.json', 'read-keys.json'])
      await copyFile(join(test.dataDir, file), join(dataDir, file));
  });
}
