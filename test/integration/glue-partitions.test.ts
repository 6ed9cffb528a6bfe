import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecords } from '../../lib/stream/codec.js';
import { lakePartitions } from '../../lib/warehouse/glue.js';
import { type S3Emulator, startS3 } from '../helpers/emulators.js';
import { lakeEvent } from '../helpers/events.js';

/**
 * What Athena and StarRocks need to see the lake: a Glue partition for every `project=/dt=` the
 * lake holds. Glue has no emulator here, so a stand-in of its JSON API records what the real AWS
 * SDK client sends (BatchCreatePartition), answering AlreadyExists for a partition it has.
 */
class GlueStandIn {
  readonly partitions = new Map<string, { database: string; table: string; location: string }>();
  calls = 0;
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const target = String(req.headers['x-amz-target']);
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        if (target !== 'AWSGlue.BatchCreatePartition') {
          res.statusCode = 400;
          res.end(
            JSON.stringify({ __type: 'InvalidInputException', message: `not in the stand-in: ${target}` }),
          );
          return;
        }
        this.calls++;
        const input = JSON.parse(body) as {
          DatabaseName: string;
          TableName: string;
          PartitionInputList: Array<{ Values: string[]; StorageDescriptor: { Location: string } }>;
        };
        const errors: unknown[] = [];
        for (const p of input.PartitionInputList) {
          const key = `${input.DatabaseName}.${input.TableName}/${p.Values.join('/')}`;
          if (this.partitions.has(key)) {
            errors.push({ PartitionValues: p.Values, ErrorDetail: { ErrorCode: 'AlreadyExistsException' } });
          } else {
            this.partitions.set(key, {
              database: input.DatabaseName,
              table: input.TableName,
              location: p.StorageDescriptor.Location,
            });
          }
        }
        res.end(JSON.stringify({ Errors: errors }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const DAY = 86_400_000;
const T0 = Date.parse('2026-10-01T12:00:00Z');
const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../local/cli.ts');

function kinesisEvent(first: number, n: number): KinesisStreamEvent {
  const events = Array.from({ length: n }, (_, i) =>
    lakeEvent({
      eventId: `p-${first + i}`,
      project: ['shop', 'blog', 'app-2'][(first + i) % 3]!,
      eventTime: T0 - (Math.floor((first + i) / 3) % 9) * DAY,
    }),
  );
  const records = encodeRecords(events.map((event) => ({ kind: 'event' as const, event })));
  return {
    Records: records.map((data, i) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: `k${i}`,
        sequenceNumber: String(10_000 + first + i),
        data: Buffer.from(data).toString('base64'),
        approximateArrivalTimestamp: T0 / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `shardId-000000000000:${10_000 + first + i}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/lake-writer',
      awsRegion: 'eu-west-1',
      eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/tally',
    })),
  };
}

let s3: S3Emulator;
const glue = new GlueStandIn();
const saved = { ...process.env };

beforeAll(async () => {
  s3 = await startS3();
  await glue.start();
  await s3.bucket('partitioned-lake');
  await s3.bucket('old-lake');
  // The deployed lake writer's own wiring, read from its environment as on AWS.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_ENDPOINT_URL_GLUE: glue.url,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    TALLY_LAKE_BUCKET: 'partitioned-lake',
    TALLY_GLUE_DATABASE: 'tally_lake',
    TALLY_GLUE_TABLE: 'events',
  });
});
afterAll(async () => {
  process.env = saved;
  await glue.stop();
  await s3?.stop();
});

describe('Glue partitions for every day in the lake', () => {
  it('the lake writer registers each project=/dt= it writes, so Athena sees it without a rollup', async () => {
    const { handler } = await import('../../lambdas/lake-writer/handler.js');
    for (let first = 0; first < 90; first += 30) {
      expect(await handler(kinesisEvent(first, 30))).toEqual({ batchItemFailures: [] });
    }
    const written = await lakePartitions(await storeOf('partitioned-lake'));
    expect(written.length).toBe(3 * 9);
    expect([...glue.partitions.keys()].sort()).toEqual(
      written.map((d) => `tally_lake.events/${d.project}/${d.dt}`).sort(),
    );
    for (const d of written) {
      expect(glue.partitions.get(`tally_lake.events/${d.project}/${d.dt}`)!.location).toBe(
        `s3://partitioned-lake/events/project=${d.project}/dt=${d.dt}/`,
      );
    }
  });

  it('npm run partitions backfills a lake written without registration, and a rerun changes nothing', async () => {
    const old = await storeOf('old-lake');
    for (const key of await (await storeOf('partitioned-lake')).list('events/')) {
      await old.put(
        key,
        (await (await storeOf('partitioned-lake')).get(key))!,
        'application/vnd.apache.parquet',
      );
    }
    await old.put(
      'events/project=extra/dt=2026-01-31/x.parquet',
      Buffer.from('PAR1'),
      'application/octet-stream',
    );
    const env = { ...process.env };
    const args = ['--import', 'tsx', CLI, 'partitions', '--bucket', 'old-lake', '--database', 'old_db'];
    const first = await run(process.execPath, args, { env });
    expect(first.stdout).toMatch(/28 partition\(s\) in the lake; registering them in old_db\.events/);
    const registered = [...glue.partitions.keys()].filter((k) => k.startsWith('old_db.events/'));
    expect(registered.sort()).toEqual(
      (await lakePartitions(old)).map((d) => `old_db.events/${d.project}/${d.dt}`).sort(),
    );
    expect(glue.partitions.get('old_db.events/extra/2026-01-31')!.location).toBe(
      's3://old-lake/events/project=extra/dt=2026-01-31/',
    );
    const again = await run(process.execPath, args, { env });
    expect(again.stdout).toMatch(/done: 28 partition\(s\) registered or already there/);
    expect([...glue.partitions.keys()].filter((k) => k.startsWith('old_db.events/'))).toHaveLength(28);

    await expect(
      run(process.execPath, ['--import', 'tsx', CLI, 'partitions'], { env }),
    ).rejects.toMatchObject({
      stderr: expect.stringMatching(/--bucket <LakeBucket> is required/),
    });
  });
});

async function storeOf(bucket: string) {
  const { S3ObjectStore } = await import('../../lib/lake/s3-store.js');
  return new S3ObjectStore(s3.client, bucket);
}
