import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  /** The emulator process now running (it changes when a supervised emulator is restarted). */
  pid(): number | undefined;
  stop(): Promise<void>;
}

export interface KinesisLocalOptions {
  /** Persist streams and records here so a restart resumes; in memory when absent. */
  persistDir?: string;
  /** Where the emulator's own output goes. @default ignored */
  onOutput?: (line: string) => void;
  /**
   * Supervision: when set, an emulator that exits on its own is started again on the same ports
   * (the clients keep working) and this is called once it answers, with why it went away.
   */
  onRestart?: (reason: string) => Promise<void>;
}

/** How long one start may take before it is retried on new ports. */
const START_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 3;

interface Instance {
  pid: number | undefined;
  exit: Promise<string>;
  exited(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts kinesis-local (kinesis-mock, LocalStack's Kinesis engine) as a child process on free
 * ports and waits until it answers. It cannot run in-process; stop() sends SIGTERM, then SIGKILL.
 * A start that does not answer (another process took a port between choosing and binding it) is
 * stopped and tried again on new ports. The child ends with this process, however it ends.
 */
export async function startKinesisLocal(options: KinesisLocalOptions = {}): Promise<KinesisLocal> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const ports = (await freePorts(2)) as [number, number];
    const endpoint = `http://127.0.0.1:${ports[0]}`;
    const client = kinesisClient(endpoint);
    try {
      const first = await startOnce(options, ports, client);
      return supervise(options, ports, client, endpoint, first);
    } catch (error) {
      client.destroy();
      failures.push(`attempt ${attempt}: ${(error as Error).message}`);
    }
  }
  throw new Error(`kinesis-local did not start: ${failures.join('; ')}`);
}

function supervise(
  options: KinesisLocalOptions,
  ports: [number, number],
  client: KinesisClient,
  endpoint: string,
  first: Instance,
): KinesisLocal {
  let current = first;
  let stopping = false;
  let restarting: Promise<void> = Promise.resolve();
  const watch = (instance: Instance) => {
    void instance.exit.then((reason) => {
      if (stopping || !options.onRestart) return;
      restarting = restart(reason);
    });
  };
  const restart = async (reason: string) => {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        current = await startOnce(options, ports, client);
        watch(current);
        await options.onRestart?.(reason);
        return;
      } catch (error) {
        options.onOutput?.(`restart ${attempt} failed: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(500 * attempt, 5000)));
      }
    }
  };
  watch(first);
  return {
    endpoint,
    client,
    pid: () => current.pid,
    async stop() {
      stopping = true;
      await restarting.catch(() => {});
      await current.stop();
      client.destroy();
    },
  };
}

async function startOnce(
  options: KinesisLocalOptions,
  [plain, tls]: [number, number],
  client: KinesisClient,
): Promise<Instance> {
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
  const child: ChildProcess = spawn(
    process.execPath,
    [fileURLToPath(new URL('./kinesis-child.cjs', import.meta.url)), join(dirname(certPath), 'main.js')],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const forward = (chunk: Buffer) => {
    const text = chunk.toString().trimEnd();
    output.push(text);
    if (output.length > 20) output.shift();
    options.onOutput?.(text);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  child.stdin?.on('error', () => {});
  let exited = false;
  const exit = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      resolve(signal ? `killed by ${signal}` : `exited with code ${code}`);
    }),
  );
  const stop = async () => {
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
    const died = exit.then((reason) => {
      throw new Error(`kinesis-local ${reason} during start`);
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
  return { pid: child.pid, exit, exited: () => exited, stop };
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
