import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  intVar,
  readCorsPolicy,
  readDefaultQuota,
  readKafkaConnection,
  readStreamKind,
} from '../lib/config.js';
import type { KafkaConnection } from '../lib/stream/kafka-connection.js';
import { dashboardUrl } from './demo/run.js';
import { consoleLogger } from './logger.js';
import { type Pipeline, type PipelineOptions, startPipeline } from './pipeline.js';

/**
 * `TALLY_STREAM`: `kinesis` (the default: kinesis-local) or `kafka` (the cluster of
 * `TALLY_KAFKA_BROKERS`, with `TALLY_KAFKA_AUTH=scram` where it asks for SASL/SCRAM, else a broker
 * started here from `kafka/lib`). Null for Kinesis.
 */
export function readStream(env: NodeJS.ProcessEnv): { connection?: KafkaConnection } | null {
  if (readStreamKind(env) === 'kinesis') {
    if (env.TALLY_KAFKA_BROKERS)
      throw new Error(
        'TALLY_KAFKA_BROKERS is set but TALLY_STREAM is not kafka: set TALLY_STREAM=kafka to use it',
      );
    return null;
  }
  return env.TALLY_KAFKA_BROKERS ? { connection: readKafkaConnection(env) } : {};
}

/**
 * `npm start`: the whole pipeline on this machine, until SIGINT/SIGTERM (graceful stop) or the
 * process that launched it goes away. `extra` lets the chaos run inject faults into the same path.
 */
export async function runTally(extra: Partial<PipelineOptions> = {}): Promise<Pipeline> {
  const dataDir = resolve(process.env.TALLY_DATA_DIR ?? '.tally');
  const portText = process.env.PORT ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(portText)}`);
  }
  const logger = consoleLogger();
  logger.info('starting tally', { dataDir });
  const cors = readCorsPolicy(process.env);
  const projectRequestsPerSecond = readDefaultQuota(process.env);
  const kafka = readStream(process.env);
  const pipeline = await startPipeline({
    dataDir,
    port,
    logger,
    cors,
    projectRequestsPerSecond,
    ...(kafka ? { kafka } : {}),
    ...extra,
  });
  const writeKey = pipeline.writeKeys.default;
  console.log('');
  console.log(`Tally is collecting on ${pipeline.url}  (lake: ${pipeline.lakeRoot})`);
  if (pipeline.created) console.log('Created project "default".');
  if (writeKey) {
    console.log(`Write key of project "default": ${writeKey}`);
    console.log('Send an event:');
    console.log(
      `  curl -u '${writeKey}:' -H 'content-type: application/json' \\\n    -d '{"userId":"user-1","event":"Signed Up","properties":{"plan":"pro"}}' ${pipeline.url}/v1/track`,
    );
  }
  const readKey = pipeline.readKeys.default;
  if (readKey) {
    console.log('Active users (rolled up every 10 s, today live):');
    console.log(
      `  curl -H 'authorization: Bearer ${readKey}' '${pipeline.url}/v1/projects/default/active-users'`,
    );
  }
  if (readKey) console.log(`Dashboard: ${dashboardUrl(pipeline.url, 'default', readKey)}`);
  console.log('Press Ctrl-C to stop.\n');
  const stopSeconds = intVar(process.env, 'TALLY_STOP_SECONDS', 60, 1, 3600);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping: flushing the stream to the lake', { signal });
    // Whatever the emulator or a disk does, a stop ends: what the lake does not hold yet stays
    // in the journal, and the next start puts it on the stream again.
    setTimeout(() => {
      logger.error('stop did not finish in time; exiting (the journal keeps what the lake does not hold)', {
        seconds: stopSeconds,
      });
      process.exit(1);
    }, stopSeconds * 1000).unref();
    pipeline
      .stop()
      .then(() => {
        logger.info('stopped');
        process.exit(process.exitCode ?? 0);
      })
      .catch((error: Error) => {
        logger.error('stop failed', { error: error.message });
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // Every loop catches its own failures; anything that still escapes stops the pipeline cleanly
  // (the journal keeps what the lake does not hold yet) rather than leaving it half running.
  process.on('unhandledRejection', (reason) => {
    logger.error('unexpected failure; stopping', { error: String((reason as Error)?.message ?? reason) });
    process.exitCode = 1;
    shutdown('unhandledRejection');
  });
  // `npm start` runs this under a launcher (tsx); when that is killed outright, nothing would
  // stop this process, which would keep the port and the data dir's lock: stop with it instead.
  const launcher = process.ppid;
  setInterval(() => {
    if (process.ppid !== launcher) shutdown('launcher exited');
  }, 1000).unref();
  return pipeline;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runTally().catch((error: Error) => {
    console.error(`tally: ${error.message}`);
    process.exit(1);
  });
}
