/**
 * `npm run model -- --events-per-second 1000000 [--events-per-request 20] [--projects 1] ...`:
 * every input of `ModelInputs` is a flag (kebab-case). Bytes per event are measured here at
 * start, from the benchmark's ~800-byte analytics.js events, through Tally's own encoders.
 */
import { ACCESS_LOG_FORMAT } from '../cdk/constructs/ingest-api.js';
import { createCollectHandler } from '../lambdas/collect/handler.js';
import { lambdaLogger } from '../lambdas/logger.js';
import { LambdaMetrics } from '../lambdas/metrics-emf.js';
import { hashKey, writeKeyRing } from '../lib/ingest/auth.js';
import { eventsToParquet } from '../lib/lake/parquet.js';
import { encodeRecords } from '../lib/stream/codec.js';
import { lakeEvent, seeded, segmentEvent } from './data.js';
import { DEFAULT_INPUTS, formatPlan, type ModelInputs, planFor } from './model.js';

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function parse(argv: string[]): Partial<ModelInputs> {
  const out: Record<string, number> = {};
  const known = new Map(Object.keys(DEFAULT_INPUTS).map((k) => [kebab(k), k]));
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const key = known.get(flag.replace(/^--/, ''));
    const value = Number(argv[i + 1]);
    if (!flag.startsWith('--') || key === undefined) {
      throw new Error(
        `unknown flag ${JSON.stringify(flag)}; known: ${[...known.keys()].map((k) => `--${k}`).join(' ')}`,
      );
    }
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`${flag} takes a positive number, got ${JSON.stringify(argv[i + 1])}`);
    out[key] = value;
    i++;
  }
  return out as Partial<ModelInputs>;
}

/**
 * Bytes per event in a stream record of `perRecord` events, in a Parquet file of 50,000, and of
 * JSON in a request body of `perRecord` analytics.js events.
 */
function measureBytes(perRecord: number): { record: number; parquet: number; request: number } {
  const random = seeded(7);
  const now = Date.parse('2026-11-22T12:00:00Z');
  const events = Array.from({ length: 50_000 }, (_, i) => lakeEvent(i, random, now));
  let recordBytes = 0;
  for (let i = 0; i < 10_000; i += perRecord) {
    for (const r of encodeRecords(
      events.slice(i, i + perRecord).map((event) => ({ kind: 'event' as const, event })),
    ))
      recordBytes += r.length;
  }
  const request = JSON.stringify({
    batch: Array.from({ length: 1000 }, (_, i) => segmentEvent(i, random, now)),
  }).length;
  return {
    record: recordBytes / 10_000,
    parquet: eventsToParquet(events).length / events.length,
    request: request / 1000,
  };
}

/**
 * What the Lambda tier logs for one accepted 20-event request: the collect handler's own output
 * (run here: its metric document; a line only for a refused request), the access-log line of the
 * API's format with typical values. Lambda's START/END/REPORT lines are off (system logs at WARN).
 */
async function measureLogBytes(): Promise<number> {
  const writeKey = 'model-write-key';
  const deps = {
    writeKeys: writeKeyRing([{ project: 'shop', writeKeySha256: hashKey(writeKey) }]),
    hashKey: { version: 1, secret: Buffer.alloc(32, 1) },
    stream: { putRecords: async (entries: readonly unknown[]) => entries.map(() => ({})) },
  };
  const metrics = new LambdaMetrics('collect');
  const handler = createCollectHandler(deps, lambdaLogger('collect'), (c) => metrics.collected(c));
  const random = seeded(3);
  const now = Date.now();
  const body = JSON.stringify({ batch: Array.from({ length: 20 }, (_, i) => segmentEvent(i, random, now)) });
  let bytes = 0;
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    return true;
  }) as typeof process.stdout.write;
  try {
    await handler({
      version: '2.0',
      routeKey: 'POST /v1/batch',
      rawPath: '/v1/batch',
      rawQueryString: '',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      },
      requestContext: { http: { method: 'POST', path: '/v1/batch' }, timeEpoch: now },
      body,
      isBase64Encoded: false,
    } as never);
  } finally {
    process.stdout.write = write;
  }
  const access = JSON.stringify(
    Object.fromEntries(Object.keys(ACCESS_LOG_FORMAT).map((k) => [k, TYPICAL_ACCESS_LOG[k] ?? '-'])),
  );
  return bytes + Buffer.byteLength(access) + 1;
}

/** Typical values of the access log's fields (an IPv4 address). */
const TYPICAL_ACCESS_LOG: Record<string, string> = {
  requestId: 'd2xLkgnQIAMEbJg=',
  route: 'POST /v1/batch',
  status: '200',
  latency: '18',
  ip: '203.0.113.7',
};

try {
  const given = parse(process.argv.slice(2));
  const inputs: ModelInputs = { ...DEFAULT_INPUTS, ...given };
  const measured = measureBytes(inputs.eventsPerRequest);
  inputs.recordBytesPerEvent = given.recordBytesPerEvent ?? measured.record;
  inputs.parquetBytesPerEvent = given.parquetBytesPerEvent ?? measured.parquet;
  inputs.requestBytesPerEvent = given.requestBytesPerEvent ?? measured.request;
  inputs.lambdaLogBytesPerRequest = given.lambdaLogBytesPerRequest ?? (await measureLogBytes());
  console.log(formatPlan(inputs, planFor(inputs)));
} catch (error) {
  console.error(`model: ${(error as Error).message}`);
  process.exit(2);
}
