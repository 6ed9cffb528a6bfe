import type { Node } from 'constructs';
import { parseCorsPolicy } from '../lib/ingest/cors.js';

/** The StarRocks cluster the warehouse jobs drive (the stack does not create one). */
export interface StarRocksSettings {
  host: string;
  /** @default 9030 */
  port: number;
  /** ARN of a Secrets Manager secret holding `{"username", "password"}`. */
  secretArn: string;
  /** @default 'tally' */
  database: string;
  /** Replicas of the native tables. @default 3 */
  replicas: number;
}

/** Where the warehouse jobs run when StarRocks is only reachable inside a VPC. */
export interface VpcSettings {
  vpcId: string;
  subnetIds: string[];
  availabilityZones: string[];
  securityGroupId?: string;
}

/** Everything the app reads from CDK context (`cdk deploy -c key=value` or cdk.json), with defaults. */
export interface TallySettings {
  /** Browser origins allowed on the collection routes. @default [] (any origin: write keys are public in a page) */
  allowedOrigins: string[];
  /** Requests per second and burst of the HTTP API's default route settings. @default 1000 / 2000 */
  throttleRate: number;
  throttleBurst: number;
  /** Lake writer event source mapping. @default 10000 records, 60 s, 10 retries, 6 h */
  batchSize: number;
  batchingWindowSeconds: number;
  retryAttempts: number;
  maxRecordAgeHours: number;
  /** Hours the stream keeps records (what a stopped lake writer can catch up on). @default 168 */
  streamRetentionHours: number;
  /** Days a batch given up stays in the FailedBatchesBucket for `npm run replay`. @default 30 */
  failedBatchRetentionDays: number;
  /** Days kept: bad rows, noncurrent object versions, logs. @default 90 / 30 / 30 */
  badRowRetentionDays: number;
  noncurrentVersionDays: number;
  logRetentionDays: number;
  /** Rollup schedule, in minutes. @default 5 */
  rollupEveryMinutes: number;
  starRocks: StarRocksSettings | null;
  vpc: VpcSettings | null;
  /** Where alarms are mailed (an SNS email subscription). @default none: subscribe to the AlarmTopic output yourself */
  alarmEmail?: string;
}

class SettingsError extends Error {}

function get(node: Node, key: string): unknown {
  return node.tryGetContext(`tally:${key}`);
}

function int(node: Node, key: string, fallback: number, min: number, max: number): number {
  const raw = get(node, key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SettingsError(
      `context tally:${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function list(node: Node, key: string): string[] {
  const raw = get(node, key);
  if (raw === undefined || raw === '') return [];
  if (Array.isArray(raw)) return raw.map(String);
  return String(raw)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `tally:allowedOrigins`, each checked as the collector will read it. */
function origins(node: Node): string[] {
  const value = list(node, 'allowedOrigins');
  try {
    parseCorsPolicy(value.join(','));
  } catch (error) {
    throw new SettingsError(`context tally:allowedOrigins: ${(error as Error).message}`);
  }
  return value;
}

function text(node: Node, key: string): string | undefined {
  const raw = get(node, key);
  return raw === undefined || raw === '' ? undefined : String(raw);
}

/** Reads and checks the settings; an error names the context key and the bad value. */
export function readSettings(node: Node): TallySettings {
  const host = text(node, 'starrocksHost');
  const secretArn = text(node, 'starrocksSecretArn');
  if (host && !secretArn)
    throw new SettingsError('context tally:starrocksSecretArn is required when tally:starrocksHost is set');
  const vpcId = text(node, 'vpcId');
  const streamRetentionHours = int(node, 'streamRetentionHours', 168, 24, 8760);
  const maxRecordAgeHours = int(node, 'maxRecordAgeHours', 6, 1, 168);
  if (maxRecordAgeHours > streamRetentionHours) {
    throw new SettingsError(
      `context tally:maxRecordAgeHours (${maxRecordAgeHours}) must not exceed tally:streamRetentionHours (${streamRetentionHours})`,
    );
  }
  return {
    allowedOrigins: origins(node),
    throttleRate: int(node, 'throttleRate', 1000, 1, 100_000),
    throttleBurst: int(node, 'throttleBurst', 2000, 1, 100_000),
    batchSize: int(node, 'batchSize', 10_000, 1, 10_000),
    batchingWindowSeconds: int(node, 'batchingWindowSeconds', 60, 0, 300),
    retryAttempts: int(node, 'retryAttempts', 10, 0, 10_000),
    maxRecordAgeHours,
    streamRetentionHours,
    failedBatchRetentionDays: int(node, 'failedBatchRetentionDays', 30, 1, 3650),
    badRowRetentionDays: int(node, 'badRowRetentionDays', 90, 1, 3650),
    noncurrentVersionDays: int(node, 'noncurrentVersionDays', 30, 1, 3650),
    logRetentionDays: int(node, 'logRetentionDays', 30, 1, 3653),
    rollupEveryMinutes: int(node, 'rollupEveryMinutes', 5, 1, 1440),
    starRocks:
      host && secretArn
        ? {
            host,
            secretArn,
            port: int(node, 'starrocksPort', 9030, 1, 65535),
            database: text(node, 'starrocksDatabase') ?? 'tally',
            replicas: int(node, 'starrocksReplicas', 3, 1, 9),
          }
        : null,
    vpc: vpcId ? vpcSettings(node, vpcId) : null,
    alarmEmail: email(node),
  };
}

/** The VPC settings, complete: one availability zone per subnet (CDK needs both to import the VPC). */
function vpcSettings(node: Node, vpcId: string): VpcSettings {
  const subnetIds = list(node, 'subnetIds');
  const availabilityZones = list(node, 'availabilityZones');
  if (subnetIds.length === 0) {
    throw new SettingsError(
      'context tally:subnetIds is required with tally:vpcId (the private subnets to run in)',
    );
  }
  if (availabilityZones.length !== subnetIds.length) {
    throw new SettingsError(
      `context tally:availabilityZones needs one zone per subnet of tally:subnetIds: got ${availabilityZones.length} zone(s) for ${subnetIds.length} subnet(s)`,
    );
  }
  return { vpcId, subnetIds, availabilityZones, securityGroupId: text(node, 'securityGroupId') };
}

function email(node: Node): string | undefined {
  const value = text(node, 'alarmEmail');
  if (value !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) {
    throw new SettingsError(
      `context tally:alarmEmail is not an email address: ${JSON.stringify(value).slice(0, 80)}`,
    );
  }
  return value;
}
