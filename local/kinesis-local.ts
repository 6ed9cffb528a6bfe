import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListStreamsCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../lambdas/aws.js';
import { freePorts, waitFor } from './ports.js';

const require = createRequire(import.meta.url);

export interface KinesisLocal {
  endpoint: string;
  client: KinesisClient;
  stop(): Promise<void>;
}

export interface KinesisLocalOptions {
  /** Persist streams and records here so a restart resumes; in memory when absent. */
  persistDir?: string;
  /** Where the emulator's own output goes. @default ignored */
  onOutput?: (line: string) => void;
}

/** How long one start may take before it is retried on new ports. */
const START_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 3;

/**
 * Starts kinesis-local (kinesis-mock, LocalStack's Kinesis engine) as a child process on free
 * ports and waits until it answers. It cannot run in-process; stop() sends SIGTERM, then SIGKILL.
 * A start that does not answer (another process took a port between choosing and binding it) is
 * stopped and tried again on new ports.
 */
export async function startKinesisLocal(options: KinesisLocalOptions = {}): Promise<KinesisLocal> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      failures.push(`attempt ${attempt}: ${(error as Error).message}`);
    }
  }
  throw new Error(`kinesis-local did not start: ${failures.join('; ')}`);
}

async function startOnce(options: KinesisLocalOptions): Promise<KinesisLocal> {
  const [plain, tls] = (await freePorts(2)) as [number, number];
  const certPath = require.resolve('kinesis-local/server.json');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KINESIS_MOCK_PLAIN_PORT: String(plain),
    KINESIS_MOCK_TLS_PORT: String(tls),
    KINESIS_MOCK_CERT_PATH: certPath,
    CREATE_STREAM_DURATION: '0ms',
    DELETE_STREAM_DURATION: '0ms',
    UPDATE_SHARD_COUNT_DURATION: '0ms',
    LOG_LEVEL: 'ERROR',
  };
  if (options.persistDir) {
    mkdirSync(options.persistDir, { recursive: true });
    Object.assign(env, {
      SHOULD_PERSIST_DATA: 'true',
      PERSIST_PATH: options.persistDir,
      PERSIST_INTERVAL: '1s',
    });
  }
  const child: ChildProcess = spawn(process.execPath, [join(dirname(certPath), 'main.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const forward = (chunk: Buffer) => {
    const text = chunk.toString().trimEnd();
    output.push(text);
    if (output.length > 20) output.shift();
    options.onOutput?.(text);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exit.then(() => {
    exited = true;
  });
  const endpoint = `http://127.0.0.1:${plain}`;
  const client = kinesisClient(endpoint);
  const stop = async () => {
    client.destroy();
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exit;
    clearTimeout(timer);
  };
  try {
    const answered = waitFor(
      `kinesis-local on ports ${plain}/${tls} to answer`,
      async () => {
        await client.send(new ListStreamsCommand({}));
        return true;
      },
      START_TIMEOUT_MS,
    );
    const died = exit.then(() => {
      throw new Error('kinesis-local exited during start');
    });
    // Whichever loses the race settles later on its own; neither may become an unhandled rejection.
    answered.catch(() => {});
    died.catch(() => {});
    await Promise.race([answered, died]);
  } catch (error) {
    await stop();
    const tail = output.join(' | ').slice(-300);
    throw new Error(`${(error as Error).message}${tail ? `: ${tail}` : ''}`);
  }
  return { endpoint, client, stop };
}

/** Creates the stream unless it exists and waits until it is ACTIVE; returns its ARN. */
export async function ensureStream(
  client: KinesisClient,
  streamName: string,
  shardCount: number,
): Promise<string> {
  try {
    await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
  let arn = '';
  await waitFor(`stream ${streamName} to be active`, async () => {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    arn = out.StreamDescriptionSummary?.StreamARN ?? '';
    return out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  });
  return arn;
}
