import { join } from 'node:path';
import { kinesisClient } from '../lambdas/aws.js';
import { createCollectHandler } from '../lambdas/collect/handler.js';
import { createLakeWriterHandler } from '../lambdas/lake-writer/handler.js';
import { WriteKeys } from '../lib/ingest/auth.js';
import { FsObjectStore } from '../lib/lake/fs-store.js';
import type { ObjectStore } from '../lib/lake/store.js';
import type { Logger } from '../lib/log.js';
import { KinesisStreamReader, KinesisStreamWriter } from '../lib/stream/kinesis.js';
import { LocalPoller } from '../lib/stream/poller.js';
import type { PutOptions, StreamWriter } from '../lib/stream/producer.js';
import { FileCheckpoints } from './checkpoints.js';
import { ensureStream, startKinesisLocal } from './kinesis-local.js';
import { loadOrCreateSecrets } from './projects.js';
import { serveHandler } from './server.js';

export interface PipelineOptions {
  dataDir: string;
  /** @default 8080; 0 picks a free port */
  port?: number;
  logger: Logger;
  /** Use this Kinesis endpoint instead of starting kinesis-local. */
  kinesisEndpoint?: string;
  /** Where the lake goes. @default the directory `<dataDir>/lake` */
  store?: ObjectStore;
  /** @default 'tally-events' */
  streamName?: string;
  /** @default 1 */
  shards?: number;
  /** @default 1000 */
  batchSize?: number;
  /** @default 1000 */
  batchingWindowMs?: number;
  /** Retry settings of the collector's PutRecords (tests shorten them). */
  put?: PutOptions;
  /** Wraps the stream writer (tests inject PutRecords failures here). */
  wrapWriter?: (writer: StreamWriter) => StreamWriter;
  /** Wraps the lake writer's store (tests inject S3 failures here). */
  wrapStore?: (store: ObjectStore) => ObjectStore;
}

export interface Pipeline {
  url: string;
  writeKeys: Record<string, string>;
  created: boolean;
  lakeRoot: string | null;
  streamArn: string;
  stop(): Promise<void>;
}

/**
 * The whole pipeline on one machine, with the Lambda handlers unchanged: kinesis-local as the
 * stream, a local HTTP server in front of the collect handler, and a poller with event source
 * mapping semantics feeding the lake writer. Checkpoints and the stream persist in the data dir.
 */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const { dataDir, logger } = options;
  const streamName = options.streamName ?? 'tally-events';
  const secrets = await loadOrCreateSecrets(dataDir);
  const kinesisLocal = options.kinesisEndpoint
    ? null
    : await startKinesisLocal({
        persistDir: join(dataDir, 'kinesis'),
        onOutput: (l) => logger.warn('kinesis-local', { output: l }),
      });
  const client = kinesisLocal?.client ?? kinesisClient(options.kinesisEndpoint);
  const streamArn = await ensureStream(client, streamName, options.shards ?? 1);

  const lakeRoot = options.store ? null : join(dataDir, 'lake');
  const baseStore = options.store ?? new FsObjectStore(join(dataDir, 'lake'));
  const store = options.wrapStore ? options.wrapStore(baseStore) : baseStore;
  const writer = new KinesisStreamWriter(client, { streamName });
  const collectHandler = createCollectHandler(
    {
      writeKeys: new WriteKeys(secrets.projects),
      hashKey: secrets.hashKey,
      stream: options.wrapWriter ? options.wrapWriter(writer) : writer,
      put: options.put,
    },
    logger,
  );
  const poller = new LocalPoller(
    new KinesisStreamReader(client, streamName, streamArn),
    new FileCheckpoints(join(dataDir, 'checkpoints'), streamName),
    createLakeWriterHandler(store, logger),
    logger,
    {
      batchSize: options.batchSize ?? 1000,
      batchingWindowMs: options.batchingWindowMs ?? 1000,
      onFailure: async (failed) => {
        const failures = new FsObjectStore(join(dataDir, 'failed-batches'));
        await failures.put(
          `${failed.shardId.toLowerCase()}-${failed.firstSequenceNumber}.json`,
          Buffer.from(JSON.stringify(failed)),
          'application/json',
        );
      },
    },
  );
  await poller.start();
  const http = await serveHandler(collectHandler, options.port ?? 8080);
  let stopped = false;
  return {
    url: http.url,
    writeKeys: secrets.writeKeys,
    created: secrets.created,
    lakeRoot,
    streamArn,
    async stop() {
      if (stopped) return;
      stopped = true;
      await http.close();
      await poller.stop();
      if (kinesisLocal) await kinesisLocal.stop();
      else client.destroy();
    },
  };
}
