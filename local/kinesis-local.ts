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
import { freePort, waitFor } from './ports.js';

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

/**
 * Starts kinesis-local (kinesis-mock, LocalStack's Kinesis engine) as a child process on free
 * ports and waits until it answers. It cannot run in-process; stop() sends SIGTERM, then SIGKILL.
 */
export async function startKinesisLocal(options: KinesisLocalOptions = {}): Promise<KinesisLocal> {
  const [plain, tls] = [await freePort(), await freePort()];
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
  const forward = (chunk: Buffer) => options.onOutput?.(chunk.toString().trimEnd());
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
    await waitFor('kinesis-local to answer', async () => {
      if (exited) throw new Error('kinesis-local exited during start');
      await client.send(new ListStreamsCommand({}));
      return true;
    });
  } catch (error) {
    await stop();
    throw error;
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
