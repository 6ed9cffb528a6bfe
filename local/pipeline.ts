import { join } from 'node:path';
import { kinesisClient } from '../lambdas/aws.js';
import { countryOfEnv } from '../lambdas/collect/deps.js';
import { createCollectHandler } from '../lambdas/collect/handler.js';
import { createLakeWriterHandler } from '../lambdas/lake-writer/handler.js';
import { createMetricsHandler } from '../lambdas/metrics/handler.js';
import { botCountingProjects, readKeyRing, writeKeyRing } from '../lib/ingest/auth.js';
import type { CollectDeps } from '../lib/ingest/collect.js';
import type { CorsPolicy } from '../lib/ingest/cors.js';
import { MemoryQuotaCounter, ProjectQuotas, quotaLimits } from '../lib/ingest/quota.js';
import { FsObjectStore } from '../lib/lake/fs-store.js';
import type { ObjectStore } from '../lib/lake/store.js';
import type { Logger } from '../lib/log.js';
import { changedDays, erase, erasureRequestOf } from '../lib/privacy/erasure.js';
import { failedBatchKey, failedBatchRecord } from '../lib/stream/failed-batch.js';
import { ensureTopic, KafkaStreamReader, KafkaStreamWriter } from '../lib/stream/kafka.js';
import type { KafkaConnection } from '../lib/stream/kafka-connection.js';
import { KinesisStreamReader, KinesisStreamWriter } from '../lib/stream/kinesis.js';
import { type KinesisHandler, LocalPoller, type StreamReader } from '../lib/stream/poller.js';
import type { PutOptions, StreamWriter } from '../lib/stream/producer.js';
import type { MetricsDeps } from '../lib/warehouse/metrics-api.js';
import { FileCheckpoints } from './checkpoints.js';
import { Journal } from './journal.js';
import { type KafkaBroker, startKafkaBroker } from './kafka-broker.js';
import { ensureStream, startKinesisLocal } from './kinesis-local.js';
import { importLegacyStream } from './legacy-stream.js';
import { type DataDirLock, lockDataDir } from './lock.js';
import { addProject, loadOrCreateSecrets } from './projects.js';
import { localRouter, type ServeOptions, serveHandler } from './server.js';
import { type LocalWarehouse, startLocalWarehouse } from './warehouse.js';

export interface PipelineOptions {
  dataDir: string;
  /** @default 8080; 0 picks a free port */
  port?: number;
  logger: Logger;
  /** Use this Kinesis endpoint instead of starting kinesis-local. */
  kinesisEndpoint?: string;
  /**
   * The stream is a Kafka topic (named `streamName`) instead of Kinesis: on this cluster, or on a
   * single-node broker this pipeline starts (its data in `<dataDir>/kafka`) when none is given.
   */
  kafka?: { connection?: KafkaConnection };
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
  /** Retries of a failing batch before it goes to `failed-batches/`. @default 10 */
  maxRetryAttempts?: number;
  /** Browser origins allowed on the collection routes. @default any origin */
  cors?: CorsPolicy;
  /** Retry settings of the collector's PutRecords (tests shorten them). */
  put?: PutOptions;
  /** Wraps the stream writer (tests inject PutRecords failures here). */
  wrapWriter?: (writer: StreamWriter) => StreamWriter;
  /** Wraps the lake writer's store (tests inject S3 failures here). */
  wrapStore?: (store: ObjectStore) => ObjectStore;
  /** Wraps the lake writer handler (the chaos run redelivers batches here). */
  wrapHandler?: (handler: KinesisHandler) => KinesisHandler;
  /**
   * Sync the collector's journal to disk before acknowledging (survives a power cut, not only a
   * crash of the process). @default true
   */
  journalSync?: boolean;
  /**
   * The quota of projects whose entry in config.json sets no `requestsPerSecond` (null: none).
   * @default null (`TALLY_PROJECT_REQUESTS_PER_SECOND` for `npm start`)
   */
  projectRequestsPerSecond?: number | null;
  /** Route throttling as on AWS (collection routes, read routes). @default the stack's defaults */
  budgets?: ServeOptions['budgets'];
  /** How long stop() lets requests in flight finish before cutting them. @default 10000 */
  stopGraceMs?: number;
  /**
   * Rollup interval of the embedded DuckDB warehouse (0: only on request). The warehouse runs
   * only with the filesystem lake, which DuckDB reads in place. @default 10000
   */
  rollupIntervalMs?: number;
  /** Compaction interval of the filesystem lake (0: only on request). @default hourly */
  compactionIntervalMs?: number;
}

export interface Pipeline {
  url: string;
  writeKeys: Record<string, string>;
  readKeys: Record<string, string>;
  /** The embedded warehouse, when the lake is on the filesystem. */
  warehouse: LocalWarehouse | null;
  created: boolean;
  lakeRoot: string | null;
  streamArn: string;
  /** What the collect handler runs on (tests put another HTTP front on the same stream). */
  collectDeps: CollectDeps;
  /** The collector's write-ahead journal (tests read its state). */
  journal: Journal;
  /** The kinesis-local process, when this pipeline started one. */
  emulatorPid(): number | undefined;
  stop(): Promise<void>;
}

/**
 * The whole pipeline on one machine, with the Lambda handlers unchanged: kinesis-local as the
 * stream, a local HTTP server in front of the collect handler, and a poller with event source
 * mapping semantics feeding the lake writer. Checkpoints and the stream persist in the data dir.
 */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const lock = await lockDataDir(options.dataDir);
  // What a failed start already started, undone in reverse order.
  const undo: (() => Promise<void>)[] = [() => lock.release()];
  try {
    return await startLocked(options, lock, undo);
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => {});
    throw error;
  }
}

async function startLocked(
  options: PipelineOptions,
  lock: DataDirLock,
  undo: (() => Promise<void>)[],
): Promise<Pipeline> {
  const { dataDir, logger } = options;
  const streamName = options.streamName ?? 'tally-events';
  const secrets = await loadOrCreateSecrets(dataDir);
  const journal = await Journal.open({ dir: join(dataDir, 'journal'), logger, sync: options.journalSync });
  undo.push(() => journal.close());
  if (!options.kinesisEndpoint && !options.kafka)
    await importLegacyStream(dataDir, streamName, journal, logger);
  if (journal.recoveredRecords > 0) {
    logger.info('putting what the journal holds from the last run on the stream again', {
      records: journal.recoveredRecords,
    });
  }
  const checkpoints = new FileCheckpoints(
    join(dataDir, 'checkpoints'),
    options.kafka ? `kafka-${streamName}` : streamName,
  );
  let poller: LocalPoller | null = null;
  let stopping = false;
  let kinesisLocal: Awaited<ReturnType<typeof startKinesisLocal>> | null = null;
  let kafkaBroker: KafkaBroker | null = null;
  let streamWriter: StreamWriter & { close?: () => Promise<void> };
  let streamReader: StreamReader & { close?: () => Promise<void> };
  let closeClient = () => {};
  if (options.kafka) {
    // A broker keeps its log on disk: the checkpoints stay valid across starts.
    if (!options.kafka.connection) {
      kafkaBroker = await startKafkaBroker({
        dataDir: join(dataDir, 'kafka'),
        onOutput: (l) => logger.warn('kafka', { output: l }),
        // Its log is on disk: started again, it serves every record it acknowledged.
        onRestart: (reason) =>
          stopping ? undefined : logger.error('the Kafka broker went away and is started again', { reason }),
      });
      const started = kafkaBroker;
      undo.push(() => started.stop());
    }
    const connection = options.kafka.connection ?? { brokers: kafkaBroker!.brokers };
    await ensureTopic(connection, streamName, { partitions: options.shards ?? 1, retentionHours: 168 });
    const kafkaWriter = new KafkaStreamWriter(connection, streamName);
    const kafkaReader = new KafkaStreamReader(connection, streamName);
    undo.push(async () => {
      await kafkaWriter.close();
      await kafkaReader.close();
    });
    streamWriter = kafkaWriter;
    streamReader = kafkaReader;
  } else {
    // kinesis-local keeps its stream in memory: it starts empty, and the journal refills it.
    kinesisLocal = options.kinesisEndpoint
      ? null
      : await startKinesisLocal({
          onOutput: (l) => logger.warn('kinesis-local', { output: l }),
          onRestart: async (reason) => {
            journal.streamRestarted();
            logger.error('kinesis-local went away and was started again; the journal refills it', { reason });
            // A stop under way does not wait on the new emulator, nor start the poller again.
            if (stopping) return;
            await ensureStream(kinesisLocal!.client, streamName, options.shards ?? 1);
            await poller?.stop();
            await checkpoints.reset();
            if (!stopping) await poller?.start();
          },
        });
    const emulator = kinesisLocal;
    if (emulator) undo.push(() => emulator.stop());
    const client = emulator?.client ?? kinesisClient(options.kinesisEndpoint);
    if (!emulator) closeClient = () => client.destroy();
    const arn = await ensureStream(client, streamName, options.shards ?? 1);
    if (emulator) await checkpoints.reset();
    streamWriter = new KinesisStreamWriter(client, { streamName });
    streamReader = new KinesisStreamReader(client, streamName, arn);
  }
  const streamArn = streamReader.streamArn;

  const lakeRoot = options.store ? null : join(dataDir, 'lake');
  const baseStore = options.store ?? new FsObjectStore(join(dataDir, 'lake'));
  const store = options.wrapStore ? options.wrapStore(baseStore) : baseStore;
  const writer = options.wrapWriter ? options.wrapWriter(streamWriter) : streamWriter;
  // One process serves every request here: its own count is the shared count, asked every time.
  const quotaCounter = new MemoryQuotaCounter();
  const quotasOf = () =>
    new ProjectQuotas(quotaLimits(secrets.projects, options.projectRequestsPerSecond ?? null), quotaCounter, {
      reportEvery: () => 1,
    });
  const collectDeps: CollectDeps = {
    writeKeys: writeKeyRing(secrets.projects),
    hashKey: secrets.hashKey,
    stream: journal.wrap(writer),
    put: options.put,
    cors: options.cors,
    quotas: quotasOf(),
    countryOf: countryOfEnv(process.env),
  };
  const collectHandler = createCollectHandler(collectDeps, logger);
  const failures = new FsObjectStore(join(dataDir, 'failed-batches'));
  poller = new LocalPoller(
    streamReader,
    checkpoints,
    options.wrapHandler
      ? options.wrapHandler(createLakeWriterHandler(store, logger))
      : createLakeWriterHandler(store, logger),
    logger,
    {
      batchSize: options.batchSize ?? 1000,
      batchingWindowMs: options.batchingWindowMs ?? 1000,
      ...(options.maxRetryAttempts === undefined ? {} : { maxRetryAttempts: options.maxRetryAttempts }),
      // The local on-failure destination keeps the records, as an S3 destination does on AWS.
      onFailure: async (failed) => {
        await failures.put(
          failedBatchKey(failed.shardId, failed.firstSequenceNumber),
          Buffer.from(JSON.stringify(failedBatchRecord(failed, streamArn, new Date()))),
          'application/json',
        );
      },
    },
  );
  const running = poller;
  journal.start(writer, (shardId) => checkpoints.current(shardId));
  await running.start();
  undo.push(() => running.stop());
  const local =
    options.store === undefined
      ? await startLocalWarehouse({
          dataDir,
          store: baseStore,
          logger,
          intervalMs: options.rollupIntervalMs,
          countBots: botCountingProjects(secrets.projects),
          compaction:
            baseStore instanceof FsObjectStore
              ? { store: baseStore, intervalMs: options.compactionIntervalMs }
              : undefined,
        })
      : null;
  if (local) undo.push(() => local.stop());
  const metricsDeps: MetricsDeps | null = local
    ? {
        projects: new Set(secrets.projects.map((p) => p.project)),
        readKeys: readKeyRing(secrets.projects),
        warehouse: local.warehouse,
        store: baseStore,
        lastRollup: local.lastRun,
        manifestCache: new Map(),
      }
    : null;
  const metricsHandler = metricsDeps ? createMetricsHandler(metricsDeps, logger) : null;
  /** New projects take effect at once: the handlers read their key rings on every request. */
  const createProject = async (project: string) => {
    const keys = await addProject(dataDir, secrets, project);
    collectDeps.writeKeys = writeKeyRing(secrets.projects);
    collectDeps.quotas = quotasOf();
    if (metricsDeps) {
      metricsDeps.projects = new Set(secrets.projects.map((p) => p.project));
      metricsDeps.readKeys = readKeyRing(secrets.projects);
    }
    logger.info('project created', { project });
    return keys;
  };
  const eraseNow = async (request: unknown) => {
    const record = await erase(
      { store, keys: [secrets.hashKey, ...secrets.previousHashKeys], now: new Date() },
      erasureRequestOf(request),
    );
    const stats = local ? await local.refreshErased(changedDays(record)) : null;
    logger.info('erased', {
      project: record.project,
      rows: record.eventRowsRemoved,
      days: record.days.length,
    });
    return { erasure: record, recomputed: stats };
  };
  const http = await serveHandler(
    localRouter({
      collect: collectHandler,
      metrics: metricsHandler,
      warehouse: local,
      createProject,
      erase: eraseNow,
    }),
    options.port ?? 8080,
    '127.0.0.1',
    { budgets: options.budgets },
  );
  return {
    url: http.url,
    writeKeys: secrets.writeKeys,
    readKeys: secrets.readKeys,
    warehouse: local,
    created: secrets.created,
    lakeRoot,
    streamArn,
    collectDeps,
    journal,
    emulatorPid: () => kinesisLocal?.pid() ?? kafkaBroker?.pid(),
    async stop() {
      if (stopping) return;
      stopping = true;
      // Stop taking requests (those in flight finish), drain the stream into the lake, then
      // close the journal: what the lake holds is deleted from it, the rest waits for next start.
      await http.close(options.stopGraceMs ?? 10_000);
      await running.stop();
      await journal.close();
      if (local) {
        await local
          .rollupNow()
          .catch((error: Error) => logger.warn('last rollup failed', { error: error.message }));
        await local.stop();
      }
      await streamWriter.close?.();
      await streamReader.close?.();
      if (kinesisLocal) await kinesisLocal.stop();
      else closeClient();
      await kafkaBroker?.stop();
      await lock.release();
    },
  };
}
