import { ConfigError } from './errors.js';
import { type ProjectKey, parseCountBots } from './ingest/auth.js';
import { type CorsPolicy, parseCorsPolicy } from './ingest/cors.js';
import type { HashKey } from './ingest/pseudonymize.js';
import { MAX_REQUESTS_PER_SECOND, parseRequestsPerSecond } from './ingest/quota.js';
import { KAFKA_TOPIC_NAME, type KafkaConnection, parseBrokers } from './stream/kafka-connection.js';
import type { StreamRef } from './stream/kinesis.js';
import { dedupWindowGone } from './warehouse/people.js';

/** The environment, as a plain map: lib/ never reads process.env itself. */
export type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new ConfigError(name, 'is required but not set');
  return value.trim();
}

/** An integer variable from `min` to `max`, or `fallback` when unset; ConfigError naming the value otherwise. */
export function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      name,
      `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw).slice(0, 40)}`,
    );
  }
  return value;
}

/** Reads `TALLY_HMAC_KEY` (base64, at least 32 bytes) and `TALLY_HMAC_KEY_VERSION` (default 1). */
export function readHashKey(env: Env): HashKey {
  const raw = required(env, 'TALLY_HMAC_KEY');
  const secret = Buffer.from(raw, 'base64');
  if (secret.length < 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) {
    throw new ConfigError(
      'TALLY_HMAC_KEY',
      `must be base64 of at least 32 bytes, got ${secret.length} byte(s)`,
    );
  }
  return { secret, version: intVar(env, 'TALLY_HMAC_KEY_VERSION', 1, 1, 2 ** 31 - 1) };
}

/**
 * Reads `TALLY_HMAC_PREVIOUS_KEYS`: a JSON array of `{"hmacKey", "hmacKeyVersion"}` the
 * pipeline used before the current key (rows keep their `key_version`); erasure hashes with each.
 */
export function readPreviousHashKeys(env: Env): HashKey[] {
  const raw = env.TALLY_HMAC_PREVIOUS_KEYS?.trim();
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('TALLY_HMAC_PREVIOUS_KEYS', 'is not JSON');
  }
  if (!Array.isArray(parsed)) throw new ConfigError('TALLY_HMAC_PREVIOUS_KEYS', 'must be a JSON array');
  return parsed.map((k, i) =>
    readHashKey({
      TALLY_HMAC_KEY: typeof k?.hmacKey === 'string' ? k.hmacKey : `(entry ${i} has no hmacKey)`,
      TALLY_HMAC_KEY_VERSION: String(k?.hmacKeyVersion ?? ''),
    }),
  );
}

/**
 * Reads `TALLY_PROJECTS`: a JSON array of `{"project", "writeKeySha256", "readKeySha256"?,
 * "requestsPerSecond"?, "countBots"?}` (SHA-256 in hex of each key; the keys themselves are never configured).
 */
export function readProjects(env: Env): ProjectKey[] {
  const raw = required(env, 'TALLY_PROJECTS');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('TALLY_PROJECTS', `is not JSON: ${raw.slice(0, 40)}...`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new ConfigError('TALLY_PROJECTS', 'must be a non-empty JSON array of {project, writeKeySha256}');
  }
  return parsed.map((p, i) => {
    if (typeof p?.project !== 'string' || typeof p?.writeKeySha256 !== 'string') {
      throw new ConfigError('TALLY_PROJECTS', `entry ${i} needs string "project" and "writeKeySha256"`);
    }
    if (p.readKeySha256 !== undefined && typeof p.readKeySha256 !== 'string') {
      throw new ConfigError('TALLY_PROJECTS', `entry ${i}: "readKeySha256" must be a string`);
    }
    const requestsPerSecond = parseRequestsPerSecond(p.requestsPerSecond, `TALLY_PROJECTS entry ${i}`);
    const countBots = parseCountBots(p.countBots, `TALLY_PROJECTS entry ${i}`);
    return {
      project: p.project,
      writeKeySha256: p.writeKeySha256,
      ...(p.readKeySha256 ? { readKeySha256: p.readKeySha256 } : {}),
      ...(requestsPerSecond === undefined ? {} : { requestsPerSecond }),
      ...(countBots === undefined ? {} : { countBots }),
    };
  });
}

/** `TALLY_PROJECT_REQUESTS_PER_SECOND`: the quota of projects that set none (null: no quota). */
export function readDefaultQuota(env: Env): number | null {
  if (!env.TALLY_PROJECT_REQUESTS_PER_SECOND?.trim()) return null;
  return intVar(env, 'TALLY_PROJECT_REQUESTS_PER_SECOND', 0, 1, MAX_REQUESTS_PER_SECOND);
}

/**
 * Where the collectors on AWS count per-project quotas: `TALLY_QUOTA_TABLE` (a DynamoDB table),
 * and the default quota. Null when no table is set: no project has a quota then.
 */
export function readQuotaSettings(env: Env): { table: string; fallback: number | null } | null {
  const table = env.TALLY_QUOTA_TABLE?.trim();
  if (!table) return null;
  return { table, fallback: readDefaultQuota(env) };
}

/** `TALLY_STREAM_ARN` (what CDK sets) or `TALLY_STREAM_NAME` (emulators). */
export function readStreamRef(env: Env): StreamRef {
  const arn = env.TALLY_STREAM_ARN?.trim();
  if (arn) {
    if (!/^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]+$/.test(arn)) {
      throw new ConfigError('TALLY_STREAM_ARN', `is not a Kinesis stream ARN: ${arn.slice(0, 80)}`);
    }
    return { streamArn: arn };
  }
  const name = env.TALLY_STREAM_NAME?.trim();
  if (!name)
    throw new ConfigError('TALLY_STREAM_ARN', 'is required (or TALLY_STREAM_NAME) but neither is set');
  return { streamName: name };
}

/** Which stream the collector writes: `TALLY_STREAM`, `kinesis` (the default) or `kafka`. */
export function readStreamKind(env: Env): 'kinesis' | 'kafka' {
  const kind = env.TALLY_STREAM?.trim() || 'kinesis';
  if (kind !== 'kinesis' && kind !== 'kafka')
    throw new ConfigError(
      'TALLY_STREAM',
      `must be kinesis or kafka, got ${JSON.stringify(kind).slice(0, 40)}`,
    );
  return kind;
}

/** The events topic's name: `TALLY_KAFKA_TOPIC`, `tally-events` when unset. */
export function readKafkaTopic(env: Env): string {
  const topic = env.TALLY_KAFKA_TOPIC?.trim() || 'tally-events';
  if (!KAFKA_TOPIC_NAME.test(topic))
    throw new ConfigError(
      'TALLY_KAFKA_TOPIC',
      `is not a Kafka topic name: ${JSON.stringify(topic).slice(0, 80)}`,
    );
  return topic;
}

/**
 * The cluster of `TALLY_KAFKA_BROKERS`, authenticated as `TALLY_KAFKA_AUTH` says: `none` (the
 * default: a local broker, plain text), `scram` (SASL/SCRAM-SHA-512 over TLS with
 * `TALLY_KAFKA_USERNAME` and `TALLY_KAFKA_PASSWORD`, which the Lambdas read from the secret of
 * `TALLY_KAFKA_SECRET_ARN`) or `iam` (MSK's IAM authentication over TLS: `iamToken` makes the
 * token of each connection).
 */
export function readKafkaConnection(env: Env, iamToken?: () => Promise<string>): KafkaConnection {
  let brokers: string[];
  try {
    brokers = parseBrokers(required(env, 'TALLY_KAFKA_BROKERS'));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('TALLY_KAFKA_BROKERS', (error as Error).message);
  }
  const auth = env.TALLY_KAFKA_AUTH?.trim() || 'none';
  if (auth === 'none') return { brokers };
  if (auth === 'scram') {
    return {
      brokers,
      tls: env.TALLY_KAFKA_TLS?.trim() !== 'false',
      sasl: {
        mechanism: 'SCRAM-SHA-512',
        username: required(env, 'TALLY_KAFKA_USERNAME'),
        password: required(env, 'TALLY_KAFKA_PASSWORD'),
      },
    };
  }
  if (auth === 'iam') {
    if (!iamToken) throw new ConfigError('TALLY_KAFKA_AUTH', 'iam needs AWS credentials to sign its tokens');
    return { brokers, tls: true, sasl: { mechanism: 'OAUTHBEARER', token: iamToken } };
  }
  throw new ConfigError(
    'TALLY_KAFKA_AUTH',
    `must be none, scram or iam, got ${JSON.stringify(auth).slice(0, 40)}`,
  );
}

/**
 * `TALLY_COMPACTION_TARGET_BYTES` and `TALLY_COMPACTION_GRACE_MS`; `defaults` when unset (passed in,
 * so this module does not load the compactor and its Parquet code into every function).
 */
export function readCompactionSettings(
  env: Env,
  defaults: { targetBytes: number; graceMs: number },
): { targetBytes: number; graceMs: number } {
  const max = Number.MAX_SAFE_INTEGER;
  return {
    targetBytes: intVar(env, 'TALLY_COMPACTION_TARGET_BYTES', defaults.targetBytes, 1, max),
    graceMs: intVar(env, 'TALLY_COMPACTION_GRACE_MS', defaults.graceMs, 0, max),
  };
}

/** `TALLY_LAKE_BUCKET`: the lake's S3 bucket. */
export function readLakeBucket(env: Env): string {
  const bucket = required(env, 'TALLY_LAKE_BUCKET');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError('TALLY_LAKE_BUCKET', `is not a valid bucket name: ${bucket.slice(0, 70)}`);
  }
  return bucket;
}

/**
 * `TALLY_ALLOWED_ORIGINS`: the browser origins allowed on the collection routes, comma-separated
 * (`https://app.example.com,https://www.example.com`); unset or `*`: any origin.
 */
export function readCorsPolicy(env: Env): CorsPolicy {
  try {
    return parseCorsPolicy(env.TALLY_ALLOWED_ORIGINS);
  } catch (error) {
    throw new ConfigError('TALLY_ALLOWED_ORIGINS', (error as Error).message);
  }
}

/** `TALLY_GLUE_DATABASE` (default tally_lake) and `TALLY_GLUE_TABLE` (default events). */
export function readGlueNames(env: Env): { database: string; table: string } {
  const database = env.TALLY_GLUE_DATABASE?.trim() || 'tally_lake';
  const table = env.TALLY_GLUE_TABLE?.trim() || 'events';
  for (const [name, value] of [
    ['TALLY_GLUE_DATABASE', database],
    ['TALLY_GLUE_TABLE', table],
  ] as const) {
    if (!/^[a-z0-9_]{1,255}$/.test(value))
      throw new ConfigError(name, `is not a Glue name: ${value.slice(0, 60)}`);
  }
  return { database, table };
}

/** The services Tally's own clients call, by the suffix of the SDK's per-service endpoint variable. */
export type EndpointService = 'KINESIS' | 'DYNAMODB' | 'S3';

/**
 * The endpoint override of one service: `AWS_ENDPOINT_URL_<SERVICE>` (the AWS SDKs' own
 * per-service variable: `AWS_ENDPOINT_URL_KINESIS`, `_DYNAMODB`, `_S3`), else `AWS_ENDPOINT_URL`
 * for every service. Set only against emulators (fauxqs, kinesis-local, dynalite, LocalStack).
 */
export function readEndpoint(env: Env, service: EndpointService): string | undefined {
  for (const name of [`AWS_ENDPOINT_URL_${service}`, 'AWS_ENDPOINT_URL']) {
    const url = env[name]?.trim();
    if (!url) continue;
    if (!/^https?:\/\/[^\s]+$/.test(url))
      throw new ConfigError(name, `is not an http(s) URL: ${url.slice(0, 80)}`);
    return url;
  }
  return undefined;
}

/**
 * Refuses `TALLY_DEDUP_WINDOW_HOURS`, the duplicate window of an earlier rule 1: copies now count
 * once per event day (lib/warehouse/people.ts), and a window set on purpose should not be
 * silently ignored.
 */
export function refuseDedupWindow(env: Env): void {
  const value = env.TALLY_DEDUP_WINDOW_HOURS;
  if (value !== undefined) throw new ConfigError('TALLY_DEDUP_WINDOW_HOURS', dedupWindowGone(value));
}
