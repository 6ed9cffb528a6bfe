import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeImageContext } from '../../cdk/constructs/ingest-containers.js';
import { ensureStream, type KinesisLocal, startKinesisLocal } from '../../local/kinesis-local.js';
import { waitFor } from '../../local/ports.js';
import {
  CONTAINER_MAIN,
  eventIdsOnStream,
  eventsOnStream,
  spawnContainer,
  stopContainers,
} from '../helpers/container.js';
import { startDynamoDb } from '../helpers/emulators.js';
import { eventIdsOnTopic, useKafkaBroker } from '../helpers/kafka.js';
import { node24 } from '../helpers/node24.js';

let kinesis: KinesisLocal;
beforeAll(async () => {
  kinesis = await startKinesisLocal();
}, 60_000);
afterAll(async () => {
  stopContainers();
  await kinesis?.stop();
});

describe('the collector container', () => {
  it('drains on SIGTERM during a load: the health check fails, every acknowledged event is on the stream, then it exits 0', async () => {
    const streamName = 'container-drain';
    const container = await spawnContainer(kinesis, streamName);
    const auth = `Basic ${Buffer.from(`${container.writeKey}:`).toString('base64')}`;
    expect((await fetch(`${container.url}/ping`)).status).toBe(200);
    const acknowledged: string[] = [];
    const refused: number[] = [];
    let sent = 0;
    let stopped = false;
    // 16 senders with keep-alive connections, 5 events a request, until the server is gone.
    const sender = async (s: number) => {
      for (let r = 0; !stopped; r++) {
        const ids = Array.from({ length: 5 }, (_, i) => `s${s}-r${r}-e${i}`);
        try {
          const response = await fetch(`${container.url}/v1/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: auth },
            body: JSON.stringify({
              batch: ids.map((messageId) => ({ type: 'track', event: 'Load', userId: `u${s}`, messageId })),
            }),
          });
          sent += 1;
          if (response.status === 200) acknowledged.push(...ids);
          else refused.push(response.status);
          await response.arrayBuffer();
        } catch {
          return; // connection refused or closed: the server stopped taking requests
        }
      }
    };
    const senders = Array.from({ length: 16 }, (_, s) => sender(s));
    // SIGTERM once requests are flowing.
    while (acknowledged.length < 500) await new Promise((r) => setTimeout(r, 20));
    const beforeSignal = acknowledged.length;
    container.child.kill('SIGTERM');
    // Until the signal arrives the health check still passes; then it fails (or nothing listens).
    let health: number | 'closed' = 200;
    while (health === 200) {
      health = await fetch(`${container.url}/ping`).then(
        (r) => r.status,
        () => 'closed' as const,
      );
    }
    expect([503, 'closed']).toContain(health);
    expect(await container.exited).toBe(0);
    stopped = true;
    await Promise.all(senders);
    expect(refused).toEqual([]);
    expect(sent).toBeGreaterThan(beforeSignal / 5);
    const arn = await ensureStream(kinesis.client, streamName, 1);
    const onStream = new Set(await eventIdsOnStream(kinesis, streamName, arn));
    const missing = acknowledged.filter((id) => !onStream.has(id));
    expect(missing).toEqual([]);
    expect(container.output()).toContain('"message":"drained"');
    // Concurrent requests shared PutRecords calls and stream records (bundles of a PUT unit).
    const drained = JSON.parse(
      container
        .output()
        .split('\n')
        .find((l) => l.includes('"message":"drained"'))!,
    ) as { putRecordsCalls: number; streamRecords: number; requestRecords: number };
    expect(drained.requestRecords).toBeGreaterThanOrEqual(acknowledged.length / 5);
    expect(drained.streamRecords).toBeLessThan(drained.requestRecords);
    expect(drained.putRecordsCalls).toBeLessThanOrEqual(drained.streamRecords);
    // The counts of the interval are written at the drain: one metric document for the totals,
    // one per project, and one summary line (no line a request).
    const lines = container
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    const docs = lines
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const total = docs.find((d) => !('project' in d))!;
    const project = docs.find((d) => d.project === 'default')!;
    expect(total.EventsAccepted).toBeGreaterThanOrEqual(acknowledged.length);
    expect(project.EventsAccepted).toBe(total.EventsAccepted);
    const summary = JSON.parse(lines.find((l) => l.includes('"message":"collected"'))!) as {
      answers: Record<string, number>;
    };
    expect(summary.answers['200']).toBe(Number(total.EventsAccepted) / 5);
    expect(lines.filter((l) => l.includes('"message":"collect"'))).toEqual([]);
  }, 120_000);
});

describe('the collector container with a quota', () => {
  it('counts quotas in the DynamoDB of its own endpoint variable, beside the stream of its own', async () => {
    // Arrange: kinesis-local and dynalite, each named by the SDK's per-service variable only.
    const dynamo = await startDynamoDb();
    try {
      const table = await dynamo.table('tally-container-quotas');
      const container = await spawnContainer(kinesis, 'container-quota', {
        AWS_ENDPOINT_URL: undefined as unknown as string,
        AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        TALLY_QUOTA_TABLE: table,
        TALLY_PROJECT_REQUESTS_PER_SECOND: '5',
      });
      const auth = `Basic ${Buffer.from(`${container.writeKey}:`).toString('base64')}`;

      // Act: 60 requests at once, well within a second.
      const statuses = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          fetch(`${container.url}/v1/track`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: auth },
            body: JSON.stringify({ event: 'Quota', userId: 'u1', messageId: `q-${i}` }),
          }).then(async (r) => [r.status, ((await r.json()) as { error?: { code: string } }).error?.code]),
        ),
      );
      container.child.kill('SIGTERM');
      await container.exited;

      // Assert: the quota held (a counter it could not reach would have admitted every request).
      const admitted = statuses.filter(([status]) => status === 200).length;
      expect(admitted).toBeGreaterThanOrEqual(5);
      expect(admitted).toBeLessThanOrEqual(20);
      expect(statuses.filter(([status, code]) => status === 429 && code === 'quota_exceeded').length).toBe(
        60 - admitted,
      );
      const counts = await dynamo.client.send(new ScanCommand({ TableName: table }));
      expect(counts.Items?.length).toBeGreaterThan(0);
    } finally {
      await dynamo.stop();
    }
  }, 60_000);
});

describe('the collector container while it starts', () => {
  it('exits 0 at once on SIGTERM while its start-up still waits on Secrets Manager', async () => {
    // Arrange: a Secrets Manager that takes connections and never answers.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const child = spawn(process.execPath, ['--import', 'tsx', CONTAINER_MAIN], {
      env: {
        ...process.env,
        PORT: '0',
        AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        TALLY_STREAM_NAME: 'never-used',
        TALLY_HMAC_KEY: randomBytes(32).toString('base64'),
        TALLY_PROJECTS: undefined,
        TALLY_PROJECTS_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:projects-AbCdEf',
        POWERTOOLS_DEV: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    try {
      await waitFor('the secrets request', async () => sockets.length > 0, 30_000, 20);

      // Act
      child.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 10_000)),
      ]);

      // Assert
      expect(code).toBe(0);
      expect(output).toContain('"message":"stopped before it listened"');
    } finally {
      child.kill('SIGKILL');
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 60_000);
});

describe("the container image's bundle (what the Dockerfile runs)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-collector-image-'));
  const bundle = join(dir, 'collector.cjs');
  // The image's environment (its Dockerfile's ENV), its /app being this directory.
  const imageEnv: Record<string, string> = {};
  beforeAll(() => {
    writeImageContext(dir, true);
    const env = readFileSync(join(dir, 'Dockerfile'), 'utf8').match(/^ENV (.*)$/m)![1]!;
    for (const [, name, value] of env.matchAll(/(\w+)=(\S+)/g)) {
      // Its port is the test's own.
      if (name !== 'PORT') imageEnv[name!] = value!.replace(/^\/app\//, `${dir}/`);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds on a base image pinned by digest, so a rebuild takes the same base', () => {
    const from = readFileSync(join(dir, 'Dockerfile'), 'utf8').match(/^FROM (\S+)$/m)![1]!;
    expect(from).toMatch(/^public\.ecr\.aws\/docker\/library\/node:24-[a-z-]+@sha256:[0-9a-f]{64}$/);
  });

  it.each([
    ['this Node', 'bundle-20'],
    ["the image's Node 24", 'bundle-24'],
  ])(
    'runs on %s: answers the health check, takes an event onto the stream, drains on SIGTERM',
    async (runtime, streamName) => {
      const node = runtime === 'this Node' ? process.execPath : await node24();
      const container = await spawnContainer(kinesis, streamName, imageEnv, { node, args: [bundle] });
      expect((await fetch(`${container.url}/ping`)).status).toBe(200);
      const sent = await fetch(`${container.url}/v1/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${container.writeKey}:`).toString('base64')}`,
        },
        body: JSON.stringify({
          event: 'Bundled',
          userId: 'u1',
          messageId: `m-${streamName}`,
          context: { ip: '81.2.69.160' },
        }),
      });
      expect([sent.status, await sent.json()]).toEqual([200, { success: true }]);
      container.child.kill('SIGTERM');
      expect(await container.exited).toBe(0);
      const arn = await ensureStream(kinesis.client, streamName, 1);
      const [event, ...others] = await eventsOnStream(kinesis, streamName, arn);
      expect([event?.eventId, event?.country, others]).toEqual([`m-${streamName}`, 'GB', []]);
    },
    120_000,
  );

  describe('on Kafka (TALLY_STREAM=kafka), against a real broker', () => {
    const kafka = useKafkaBroker('image-events');

    it.for<[string, string]>([
      ['this Node', 'kafka-20'],
      ["the image's Node 24", 'kafka-24'],
    ])(
      'runs on %s: an event it answers 200 for is on the topic after SIGTERM drained it',
      { timeout: 120_000 },
      async ([runtime, id], ctx) => {
        const broker = kafka();
        if (!broker) return ctx.skip();
        const node = runtime === 'this Node' ? process.execPath : await node24();
        const container = await spawnContainer(
          kinesis,
          `unused-${id}`,
          {
            ...imageEnv,
            TALLY_STREAM: 'kafka',
            TALLY_KAFKA_BROKERS: broker.brokers.join(','),
            TALLY_KAFKA_TOPIC: 'image-events',
          },
          { node, args: [bundle] },
        );
        const sent = await fetch(`${container.url}/v1/track`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${container.writeKey}:`).toString('base64')}`,
          },
          body: JSON.stringify({ event: 'Bundled', userId: 'u1', messageId: `m-${id}` }),
        });
        const answer = [sent.status, await sent.json()];
        container.child.kill('SIGTERM');
        const exit = await container.exited;
        const ids = await eventIdsOnTopic(broker.brokers, 'image-events');

        expect(answer).toEqual([200, { success: true }]);
        expect(exit).toBe(0);
        expect(ids.filter((e) => e === `m-${id}`)).toEqual([`m-${id}`]);
      },
    );
  });
});
