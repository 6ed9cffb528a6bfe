import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countryReader, packagedCountryDb } from '../../lib/enrich/country.js';
import { encodeRecords } from '../../lib/stream/codec.js';
import { synth } from '../helpers/cdk.js';
import { readLakeStore } from '../helpers/duckdb.js';
import { type S3Emulator, startS3 } from '../helpers/emulators.js';
import { lakeEvent } from '../helpers/events.js';
import { eventIdsOnTopic, useKafkaBroker } from '../helpers/kafka.js';
import { node24 } from '../helpers/node24.js';

const outdir = mkdtempSync(join(tmpdir(), 'tally-cdk-'));
let lakeWriterDir: string;
let collect: { dir: string; env: Record<string, string> };
let s3: S3Emulator;

beforeAll(async () => {
  const { template, assembly } = synth({}, { bundle: true, outdir });
  const functions = Object.entries(template.findResources('AWS::Lambda::Function')) as Array<
    [string, { Properties: { Code: { S3Key: string }; Environment: { Variables: Record<string, string> } } }]
  >;
  const assetOf = (prefix: string) => {
    const [, fn] = functions.find(([id]) => id.startsWith(prefix))!;
    return { dir: join(assembly.directory, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`), fn };
  };
  lakeWriterDir = assetOf('LakeWriterFunction').dir;
  const { dir, fn } = assetOf('Collect');
  collect = { dir, env: fn.Properties.Environment.Variables };
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.stop();
  rmSync(outdir, { recursive: true, force: true });
});

describe('bundling, for real (esbuild, no Docker)', () => {
  it("puts the Parquet writer's WASM beside the lake writer's bundle", () => {
    const files = readdirSync(lakeWriterDir).sort();
    const wasm = join(lakeWriterDir, 'parquet_wasm_bg.wasm');

    expect(files).toEqual(expect.arrayContaining(['index.js', 'parquet_wasm_bg.wasm']));
    expect(statSync(wasm).size).toBe(statSync('node_modules/parquet-wasm/node/parquet_wasm_bg.wasm').size);
    expect([...readFileSync(wasm).subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);
    expect(existsSync(join(lakeWriterDir, 'node_modules'))).toBe(false);
  });

  it("puts the country database beside the collector's bundle, where its environment points", () => {
    // The function's code is unpacked in /var/task.
    const path = collect.env.TALLY_COUNTRY_DB!.replace(/^\/var\/task\//, `${collect.dir}/`);

    expect(readdirSync(collect.dir)).toEqual(expect.arrayContaining(['index.js', 'dbip-country.mmdb']));
    expect(statSync(path).size).toBe(statSync(packagedCountryDb()).size);
    expect(countryReader(path)('81.2.69.160')).toBe('GB');
  });

  it.each([
    ['this Node', 'bundle-smoke'],
    ["Lambda's Node 24", 'bundle-smoke-24'],
  ])(
    'runs on %s: the bundled lake writer writes Parquet to S3 that DuckDB reads back',
    async (runtime, bucket) => {
      const node = runtime === 'this Node' ? process.execPath : await node24();
      const store = await s3.bucket(bucket);
      const events = [lakeEvent({ eventId: 'b1' }), lakeEvent({ eventId: 'b2', userHash: 2n ** 62n + 5n })];
      const [data] = encodeRecords(events.map((event) => ({ kind: 'event' as const, event })));
      const sequenceNumber = '49600000000000000000000000000000000000000000000000000001';
      const event = {
        Records: [
          {
            kinesis: {
              kinesisSchemaVersion: '1.0',
              partitionKey: 'p',
              sequenceNumber,
              data: data!.toString('base64'),
              approximateArrivalTimestamp: 1_774_000_000,
            },
            eventSource: 'aws:kinesis',
            eventVersion: '1.0',
            eventID: `shardId-000000000000:${sequenceNumber}`,
            eventName: 'aws:kinesis:record',
            invokeIdentityArn: 'arn:aws:iam::123456789012:role/x',
            awsRegion: 'us-east-1',
            eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/x',
          },
        ],
      };
      const script = `require(${JSON.stringify(join(lakeWriterDir, 'index.js'))}).handler(JSON.parse(process.argv[1]))
      .then((r) => process.stdout.write('RESULT ' + JSON.stringify(r) + '\\n'))`;

      // Asynchronously: the S3 emulator answers from this process's event loop.
      const { stdout: output } = await promisify(execFile)(
        node,
        [
          '-e',
          `${script}.then(() => process.stdout.write('NODE ' + process.version + '\\n'))`,
          JSON.stringify(event),
        ],
        {
          cwd: tmpdir(),
          env: {
            PATH: process.env.PATH,
            TALLY_LAKE_BUCKET: bucket,
            AWS_ENDPOINT_URL: s3.endpoint,
            AWS_REGION: 'us-east-1',
          },
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      const rows = await readLakeStore(store);

      expect(output).toContain('RESULT {"batchItemFailures":[]}');
      expect(output).toMatch(runtime === 'this Node' ? `NODE ${process.version}` : /NODE v24\./);
      expect(rows.map((r) => [r.event_id, r.user_hash])).toEqual([
        ['b1', 123n],
        ['b2', 2n ** 62n + 5n],
      ]);
    },
    300_000,
  );

  describe('the bundled collect function on Kafka (TALLY_STREAM=kafka), against a real broker', () => {
    const kafka = useKafkaBroker('bundle-events');

    it.for<[string, string]>([
      ['this Node', 'k1'],
      ["Lambda's Node 24", 'k2'],
    ])(
      'runs on %s: a batch it answers 200 for is on the topic (the Kafka client, its WASM included, loads from the bundle)',
      { timeout: 120_000 },
      async ([runtime, prefix], ctx) => {
        const broker = kafka();
        if (!broker) return ctx.skip();
        const node = runtime === 'this Node' ? process.execPath : await node24();
        const writeKey = 'bundle-write-key';
        const body = JSON.stringify({
          batch: [0, 1, 2].map((i) => ({
            type: 'track',
            event: 'Bundled',
            userId: `u${i}`,
            messageId: `${prefix}-${i}`,
          })),
        });
        const event = {
          version: '2.0',
          routeKey: 'POST /v1/batch',
          rawPath: '/v1/batch',
          rawQueryString: '',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
          },
          requestContext: {
            http: { method: 'POST', path: '/v1/batch', sourceIp: '81.2.69.160' },
            timeEpoch: Date.now(),
          },
          body,
          isBase64Encoded: false,
        };
        const script = `require(${JSON.stringify(join(collect.dir, 'index.js'))}).handler(JSON.parse(process.argv[1]))
        .then((r) => { process.stdout.write('RESULT ' + JSON.stringify(r) + '\\n'); process.exit(0); })`;
        const { stdout } = await promisify(execFile)(node, ['-e', script, JSON.stringify(event)], {
          cwd: tmpdir(),
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'us-east-1',
            TALLY_STREAM: 'kafka',
            TALLY_KAFKA_BROKERS: broker.brokers.join(','),
            TALLY_KAFKA_TOPIC: 'bundle-events',
            TALLY_HMAC_KEY: Buffer.alloc(32, 7).toString('base64'),
            TALLY_PROJECTS: JSON.stringify([
              { project: 'bundled', writeKeySha256: createHash('sha256').update(writeKey).digest('hex') },
            ]),
            TALLY_COUNTRY_DB: collect.env.TALLY_COUNTRY_DB!.replace(/^\/var\/task\//, `${collect.dir}/`),
          },
          encoding: 'utf8',
          timeout: 60_000,
        });
        const ids = await eventIdsOnTopic(broker.brokers, 'bundle-events');

        expect(stdout).toMatch(/RESULT \{"statusCode":200/);
        expect(ids.filter((id) => id.startsWith(`${prefix}-`)).sort()).toEqual([
          `${prefix}-0`,
          `${prefix}-1`,
          `${prefix}-2`,
        ]);
      },
    );
  });
});
