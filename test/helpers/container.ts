import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startCollectorServer } from '../../container/server.js';
import type { LakeEvent } from '../../lib/events.js';
import { hashKey } from '../../lib/ingest/auth.js';
import type { CollectDeps } from '../../lib/ingest/collect.js';
import { silentLogger } from '../../lib/log.js';
import { CoalescingWriter, PUT_PAYLOAD_UNIT_BYTES } from '../../lib/stream/coalesce.js';
import { decodeRecord } from '../../lib/stream/codec.js';
import { KinesisStreamReader } from '../../lib/stream/kinesis.js';
import { ensureStream, type KinesisLocal } from '../../local/kinesis-local.js';
import { freePort } from '../../local/ports.js';

export const CONTAINER_MAIN = fileURLToPath(new URL('../../container/start.ts', import.meta.url));

export interface ContainerProcess {
  url: string;
  writeKey: string;
  child: ChildProcess;
  /** Everything it printed (JSON log lines). */
  output(): string;
  /** Resolves with the exit code (or signal) once it is gone. */
  exited: Promise<number | string>;
}

/**
 * Runs the collector container's entry point (`container/main.ts`) as its own process, as ECS
 * would, against a kinesis-local stream, with one project "default" and a fresh key.
 */
/** Container processes started and not exited yet: a test that fails before its SIGTERM leaves one. */
const running = new Set<ChildProcess>();

function spawnTracked(...args: Parameters<typeof spawn>): ChildProcess {
  const child = spawn(...args);
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Kills the container processes still running (a test file's afterAll), so none outlives it. */
export function stopContainers(): void {
  for (const child of running) child.kill('SIGKILL');
}

export async function spawnContainer(
  kinesis: KinesisLocal,
  streamName: string,
  extraEnv: Record<string, string> = {},
  /** How to run it: this Node on the sources (tsx), or a given Node on the image's bundle. */
  command: { node: string; args: string[] } = {
    node: process.execPath,
    args: ['--import', 'tsx', CONTAINER_MAIN],
  },
): Promise<ContainerProcess> {
  await ensureStream(kinesis.client, streamName, 1);
  const writeKey = randomBytes(24).toString('base64url');
  const port = await freePort();
  const child = spawnTracked(command.node, command.args, {
    env: {
      ...process.env,
      PORT: String(port),
      AWS_ENDPOINT_URL: kinesis.endpoint,
      TALLY_STREAM_NAME: streamName,
      TALLY_HMAC_KEY: randomBytes(32).toString('base64'),
      TALLY_PROJECTS: JSON.stringify([{ project: 'default', writeKeySha256: hashKey(writeKey) }]),
      POWERTOOLS_DEV: 'false',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('collector listening')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) =>
      reject(new Error(`the container exited (${code}) before it listened: ${output}`)),
    );
  });
  return { url: `http://127.0.0.1:${port}`, writeKey, child, output: () => output, exited };
}

/** Every event id on the stream, from the first record of each shard. */
export async function eventIdsOnStream(
  kinesis: KinesisLocal,
  streamName: string,
  arn: string,
): Promise<string[]> {
  return (await eventsOnStream(kinesis, streamName, arn)).map((e) => e.eventId);
}

/** The events on a stream, in order per shard. */
export async function eventsOnStream(
  kinesis: KinesisLocal,
  streamName: string,
  arn: string,
): Promise<LakeEvent[]> {
  const reader = new KinesisStreamReader(kinesis.client, streamName, arn);
  const ids: LakeEvent[] = [];
  for (const shard of await reader.listShards()) {
    let iterator: string | null = await reader.iterator(shard, null);
    for (let empty = 0; iterator !== null && empty < 2; ) {
      const { records, next } = await reader.read(iterator, 10_000);
      empty = records.length === 0 ? empty + 1 : 0;
      for (const r of records) {
        for (const item of decodeRecord(r.data).items) if (item.kind === 'event') ids.push(item.event);
      }
      iterator = next;
    }
  }
  return ids;
}

/**
 * The collector container's server in this process, in front of a test pipeline's stream (its
 * journal and kinesis-local): the SDK suites send through it as through `npm start`'s server.
 */
export async function startContainerFront(
  deps: CollectDeps,
): Promise<{ url: string; writer: CoalescingWriter; close(): Promise<void> }> {
  const writer = new CoalescingWriter(deps.stream, { bundleBytes: PUT_PAYLOAD_UNIT_BYTES });
  const server = await startCollectorServer({ ...deps, stream: writer }, silentLogger, {
    port: 0,
    host: '127.0.0.1',
  });
  return {
    url: server.url,
    writer,
    async close() {
      await server.drain(1000);
      await writer.drain();
    },
  };
}
