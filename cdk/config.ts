import type { Node } from 'constructs';
import { parseCorsPolicy } from '../lib/ingest/cors.js';
import { MAX_REQUESTS_PER_SECOND } from '../lib/ingest/quota.js';
import { KAFKA_TOPIC_NAME, parseBrokers } from '../lib/stream/kafka-connection.js';
import { dedupWindowGone } from '../lib/warehouse/people.js';

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
  /** The customer-managed KMS key the secret is encrypted with, if not AWS's own (the jobs need kms:Decrypt). */
  secretKeyArn?: string;
}

/** Where the warehouse jobs run when StarRocks is only reachable inside a VPC. */
export interface VpcSettings {
  vpcId: string;
  subnetIds: string[];
  availabilityZones: string[];
  securityGroupId?: string;
  /**
   * How the jobs reach AWS from the subnets: `endpoints` (the stack creates VPC endpoints for S3,
   * Glue, Secrets Manager and X-Ray; the S3 gateway endpoint needs `routeTableIds`) or `nat` (the
   * subnets already route to a NAT gateway; nothing is created). @default 'endpoints'
   */
  egress: 'endpoints' | 'nat';
  /**
   * The endpoints the stack creates with `egress: endpoints`: leave out those the VPC already has
   * (a second stage in the same VPC, an S3 gateway route already on the route tables), or a
   * second endpoint with private DNS for the same service fails the deploy. @default all four
   */
  endpoints: VpcEndpointName[];
  routeTableIds: string[];
}

/**
 * The VPC endpoints the functions in the VPC may need, by the names `tally:vpcEndpoints` takes:
 * the warehouse jobs' (S3, Glue, Secrets Manager, X-Ray), and with `tally:stream=kafka` those of
 * the collector, the topic's custom resource and the Kafka event source mapping's pollers
 * (S3, DynamoDB, Secrets Manager, Lambda, STS, the MSK API).
 */
export const VPC_ENDPOINTS = [
  's3',
  'glue',
  'secretsmanager',
  'xray',
  'dynamodb',
  'lambda',
  'sts',
  'kafka',
] as const;
export type VpcEndpointName = (typeof VPC_ENDPOINTS)[number];

/** The stream on Kafka (`tally:stream=kafka`). */
export interface KafkaSettings {
  /**
   * The brokers of an existing cluster (MSK provisioned, Confluent, Redpanda...), which the
   * collector and the event source mapping reach with SASL/SCRAM-SHA-512 over TLS. None: the stack
   * creates an Amazon MSK Serverless cluster, with IAM authentication, in `tally:vpcId` (or in the
   * container tier's VPC with `tally:ingest=containers`).
   */
  bootstrapServers?: string[];
  /** The SCRAM secret (`{"username", "password"}`) of the existing cluster. */
  secretArn?: string;
  /** @default 'tally-events' */
  topic: string;
  /** Partitions of the topic (each takes about 5 MB/s of writes on MSK Serverless). @default 12 */
  partitions: number;
}

/** The container tier's settings (`tally:ingest=containers`). */
export interface ContainerSettings {
  /** ACM certificate of the HTTPS listener (HTTP then only redirects). */
  certificateArn?: string;
  /** Serve plain HTTP on port 80 (no certificate: tests, a TLS proxy in front). */
  allowHttp: boolean;
  /** Tasks at least (one per zone of two) and at most. @default 2, 50 */
  minTasks: number;
  maxTasks: number;
  /** Requests a minute per task the request-count scaling keeps. @default 60000 */
  requestsPerTaskMinute: number;
  /**
   * The load balancer's access logs (30 days in the access-log bucket): a line a request with
   * the client's address and the whole URL, a write key in `/settings` paths or `?writeKey=`
   * included. @default false
   */
  accessLogs: boolean;
  /**
   * WAF rate rules on the load balancer: requests a minute per client address, and per write key.
   * @default none (no web ACL)
   */
  wafRequestsPerIpMinute?: number;
  wafRequestsPerKeyMinute?: number;
}

/** Everything the app reads from CDK context (`cdk deploy -c key=value` or cdk.json), with defaults. */
export interface TallySettings {
  /** Browser origins allowed on the collection routes. @default [] (any origin: write keys are public in a page) */
  allowedOrigins: string[];
  /** Requests per second and burst of each collection route. @default 1000 / 2000 */
  throttleRate: number;
  throttleBurst: number;
  /**
   * Requests per second and burst of each read route (active users, health, dashboard): their own
   * budget, so a flood on the collection routes never leaves them unanswered. @default 50 / 100
   */
  readThrottleRate: number;
  readThrottleBurst: number;
  /**
   * The request quota (a second, across every collector) of projects whose entry in the projects
   * secret sets no `requestsPerSecond`. @default none: only projects that set one have a quota
   */
  projectRequestsPerSecond?: number;
  /**
   * The collection front door: `lambda` (API Gateway + the collect function) or `containers`
   * (an ALB in front of Fargate tasks running the same collector, for the biggest senders).
   * @default lambda
   */
  ingest: 'lambda' | 'containers';
  /** The container tier's listener: HTTPS with this ACM certificate, or plain HTTP when `allowHttp`. */
  containers?: ContainerSettings;
  /** Memory of the compaction function; new accounts may not give a function more than 3008 MB. @default 3008 */
  compactionMemoryMb: number;
  /**
   * X-Ray on the collect function: `passthrough` (traced only when the caller's trace header asks)
   * or `active` (Lambda samples 1 request a second and 5% of the rest, which it does not let
   * anyone lower: ~$22 a day at 1,000 requests a second). @default passthrough
   */
  collectTracing: 'passthrough' | 'active';
  /** The stream: an on-demand Kinesis stream, or a topic on Kafka. @default kinesis */
  stream: 'kinesis' | 'kafka';
  kafka?: KafkaSettings;
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
  /**
   * Minutes without a record put on the stream before the `StreamSilent` alarm pages; 0 turns it
   * off (a stage nobody sends to). @default 30
   */
  silentMinutes: number;
  starRocks: StarRocksSettings | null;
  vpc: VpcSettings | null;
  /** Where alarms are mailed (an SNS email subscription). @default none: subscribe to the AlarmTopic output yourself */
  alarmEmail?: string;
  /** A name that lets stacks coexist in one account: stack `Tally-<stage>`, Glue database `tally_lake_<stage>`. @default none */
  stage?: string;
  /** An existing HMAC key secret to use instead of creating one (e.g. the one a destroyed stack kept). @default a new secret */
  hmacSecretArn?: string;
  /** An existing projects secret to use instead of creating one (the one a destroyed stack kept). @default a new secret */
  projectsSecretArn?: string;
  /** An existing lake bucket to adopt instead of creating one (the one a destroyed stack kept). @default a new bucket */
  lakeBucketName?: string;
  /**
   * Who may read the lake as StarRocks: `ec2` (an instance profile for the StarRocks nodes) or the
   * ARN of a principal that assumes the role. @default `ec2` when tally:starrocksHost is set, else no role
   */
  starRocksTrust?: 'ec2' | string;
}

/** The stack's name for the settings' stage. */
export function stackName(settings: Pick<TallySettings, 'stage'>): string {
  return settings.stage ? `Tally-${settings.stage}` : 'Tally';
}

class SettingsError extends Error {}

/** A Secrets Manager secret's ARN (the kept HMAC key, the kept projects). */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

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
  const window = get(node, 'dedupWindowHours');
  if (window !== undefined)
    throw new SettingsError(`context tally:dedupWindowHours ${dedupWindowGone(String(window))}`);
  const host = text(node, 'starrocksHost');
  const secretArn = text(node, 'starrocksSecretArn');
  if (host && !secretArn)
    throw new SettingsError('context tally:starrocksSecretArn is required when tally:starrocksHost is set');
  const vpcId = text(node, 'vpcId');
  const stageName = stage(node);
  const streamRetentionHours = int(node, 'streamRetentionHours', 168, 24, 8760);
  const maxRecordAgeHours = int(node, 'maxRecordAgeHours', 6, 1, 168);
  if (maxRecordAgeHours > streamRetentionHours) {
    throw new SettingsError(
      `context tally:maxRecordAgeHours (${maxRecordAgeHours}) must not exceed tally:streamRetentionHours (${streamRetentionHours})`,
    );
  }
  const ingest = oneOf(node, 'ingest', ['lambda', 'containers'] as const, 'lambda');
  const stream = oneOf(node, 'stream', ['kinesis', 'kafka'] as const, 'kinesis');
  const vpc = vpcId ? vpcSettings(node, vpcId, stream) : null;
  const kafka = stream === 'kafka' ? kafkaSettings(node, vpc, ingest) : undefined;
  return {
    allowedOrigins: origins(node),
    throttleRate: int(node, 'throttleRate', 1000, 1, 100_000),
    throttleBurst: int(node, 'throttleBurst', 2000, 1, 100_000),
    readThrottleRate: int(node, 'readThrottleRate', 50, 1, 10_000),
    readThrottleBurst: int(node, 'readThrottleBurst', 100, 1, 10_000),
    compactionMemoryMb: int(node, 'compactionMemoryMb', 3008, 1024, 10_240),
    ...(get(node, 'projectRequestsPerSecond') === undefined
      ? {}
      : { projectRequestsPerSecond: int(node, 'projectRequestsPerSecond', 0, 1, MAX_REQUESTS_PER_SECOND) }),
    collectTracing: oneOf(node, 'collectTracing', ['passthrough', 'active'] as const, 'passthrough'),
    ingest,
    ...(ingest === 'containers' ? { containers: containerSettings(node) } : {}),
    stream,
    ...(kafka ? { kafka } : {}),
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
    silentMinutes: int(node, 'silentMinutes', 30, 0, 1440),
    starRocks:
      host && secretArn
        ? {
            host,
            secretArn,
            port: int(node, 'starrocksPort', 9030, 1, 65535),
            // Stages sharing a cluster each get their own database.
            database: starRocksDatabase(node, stageName),
            secretKeyArn: arn(
              node,
              'starrocksSecretKeyArn',
              /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/,
            ),
            replicas: int(node, 'starrocksReplicas', 3, 1, 9),
          }
        : null,
    vpc,
    alarmEmail: email(node),
    stage: stageName,
    hmacSecretArn: arn(node, 'hmacSecretArn', SECRET_ARN),
    projectsSecretArn: arn(node, 'projectsSecretArn', SECRET_ARN),
    lakeBucketName: bucketName(node, 'lakeBucketName'),
    starRocksTrust: starRocksTrust(node, host),
  };
}

/**
 * `tally:stream=kafka`: an existing cluster's brokers with their SCRAM secret, or an MSK
 * Serverless cluster the stack creates in the VPC (two subnets in two zones at least).
 */
function kafkaSettings(node: Node, vpc: VpcSettings | null, ingest: string): KafkaSettings {
  const servers = text(node, 'kafkaBootstrapServers');
  if (ingest === 'containers' && servers !== undefined) {
    throw new SettingsError(
      "tally:ingest=containers with tally:stream=kafka takes the MSK Serverless cluster the stack makes in the tier's own VPC, not tally:kafkaBootstrapServers: the tasks' subnets have no route to another cluster",
    );
  }
  let bootstrapServers: string[] | undefined;
  if (servers !== undefined) {
    try {
      bootstrapServers = parseBrokers(servers);
    } catch (error) {
      throw new SettingsError(`context tally:kafkaBootstrapServers: ${(error as Error).message}`);
    }
  }
  const secretArn = arn(node, 'kafkaSecretArn', SECRET_ARN);
  if (bootstrapServers && !secretArn) {
    throw new SettingsError(
      'context tally:kafkaSecretArn is required with tally:kafkaBootstrapServers: the SASL/SCRAM secret ({"username", "password"}) the collector and the lake writer sign in with',
    );
  }
  if (!bootstrapServers) {
    if (secretArn) {
      throw new SettingsError(
        'context tally:kafkaSecretArn is for an existing cluster (tally:kafkaBootstrapServers); the MSK Serverless cluster the stack creates signs in with IAM',
      );
    }
    if (ingest !== 'containers' && (!vpc || new Set(vpc.availabilityZones).size < 2)) {
      throw new SettingsError(
        'tally:stream=kafka without tally:kafkaBootstrapServers creates an MSK Serverless cluster, which needs tally:vpcId with subnets in two availability zones at least (tally:subnetIds, tally:availabilityZones)',
      );
    }
  }
  const topic = text(node, 'kafkaTopic') ?? 'tally-events';
  if (!KAFKA_TOPIC_NAME.test(topic)) {
    throw new SettingsError(
      `context tally:kafkaTopic is not a Kafka topic name (letters, digits, . _ -): ${JSON.stringify(topic).slice(0, 80)}`,
    );
  }
  return {
    ...(bootstrapServers ? { bootstrapServers } : {}),
    ...(secretArn ? { secretArn } : {}),
    topic,
    partitions: int(node, 'kafkaPartitions', 12, 1, 2000),
  };
}

/** The VPC settings, complete: one availability zone per subnet (CDK needs both to import the VPC). */
function vpcSettings(node: Node, vpcId: string, stream: 'kinesis' | 'kafka'): VpcSettings {
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
  const egress = oneOf(node, 'vpcEgress', ['endpoints', 'nat'] as const, 'endpoints');
  const endpoints = egress === 'nat' ? [] : vpcEndpoints(node, stream);
  const routeTableIds = list(node, 'routeTableIds');
  if (stream === 'kafka' && endpoints.includes('dynamodb') && routeTableIds.length === 0) {
    throw new SettingsError(
      'context tally:routeTableIds is required with tally:vpcId and tally:stream=kafka: the route tables of tally:subnetIds, for the DynamoDB gateway endpoint the collector needs (or leave dynamodb out of tally:vpcEndpoints when the route tables already have one)',
    );
  }
  if (endpoints.includes('s3') && routeTableIds.length === 0) {
    throw new SettingsError(
      'context tally:routeTableIds is required with tally:vpcId: the route tables of tally:subnetIds, for the S3 gateway endpoint the stack creates (or leave s3 out of tally:vpcEndpoints when the route tables already have one, or set tally:vpcEgress=nat when the subnets reach AWS through a NAT gateway)',
    );
  }
  return {
    vpcId,
    subnetIds,
    availabilityZones,
    securityGroupId: text(node, 'securityGroupId'),
    egress,
    endpoints,
    routeTableIds,
  };
}

/**
 * `tally:vpcEndpoints`: a comma-separated subset of VPC_ENDPOINTS, or `none`; unset, the
 * warehouse jobs' four, and the Kafka variant's too with `tally:stream=kafka`.
 */
function vpcEndpoints(node: Node, stream: 'kinesis' | 'kafka'): VpcEndpointName[] {
  if (get(node, 'vpcEndpoints') === undefined)
    return stream === 'kafka' ? [...VPC_ENDPOINTS] : ['s3', 'glue', 'secretsmanager', 'xray'];
  const names = list(node, 'vpcEndpoints');
  if (names.length === 1 && names[0] === 'none') return [];
  for (const name of names) {
    if (!(VPC_ENDPOINTS as readonly string[]).includes(name)) {
      throw new SettingsError(
        `context tally:vpcEndpoints takes ${VPC_ENDPOINTS.join(', ')} or none, got ${JSON.stringify(name).slice(0, 80)}`,
      );
    }
  }
  return [...new Set(names)] as VpcEndpointName[];
}

function oneOf<T extends string>(node: Node, key: string, values: readonly T[], fallback: T): T {
  const value = text(node, key) ?? fallback;
  if (!(values as readonly string[]).includes(value)) {
    throw new SettingsError(
      `context tally:${key} must be ${values.map((v) => `"${v}"`).join(' or ')}, got ${JSON.stringify(value).slice(0, 80)}`,
    );
  }
  return value as T;
}

/** `tally:starrocksDatabase`, or `tally` (`tally_<stage>` for a stage). */
function starRocksDatabase(node: Node, stageName: string | undefined): string {
  const value =
    text(node, 'starrocksDatabase') ?? (stageName ? `tally_${stageName.replaceAll('-', '_')}` : 'tally');
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(value)) {
    throw new SettingsError(
      `context tally:starrocksDatabase must be a StarRocks database name (a letter, then letters, digits or _), got ${JSON.stringify(value).slice(0, 80)}`,
    );
  }
  return value;
}

function stage(node: Node): string | undefined {
  const value = text(node, 'stage');
  if (value !== undefined && !/^[a-z][a-z0-9-]{0,19}$/.test(value)) {
    throw new SettingsError(
      `context tally:stage must be 1-20 lower-case letters, digits or hyphens starting with a letter, got ${JSON.stringify(value).slice(0, 80)}`,
    );
  }
  return value;
}

function arn(node: Node, key: string, pattern: RegExp): string | undefined {
  const value = text(node, key);
  if (value !== undefined && !pattern.test(value)) {
    throw new SettingsError(
      `context tally:${key} is not such an ARN: ${JSON.stringify(value).slice(0, 120)}`,
    );
  }
  return value;
}

/** An S3 bucket name as S3 takes it: 3-63 lower-case letters, digits, dots and hyphens. */
function bucketName(node: Node, key: string): string | undefined {
  const value = text(node, key);
  if (
    value !== undefined &&
    (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value) ||
      value.includes('..') ||
      /^\d+\.\d+\.\d+\.\d+$/.test(value))
  ) {
    throw new SettingsError(
      `context tally:${key} is not an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens): ${JSON.stringify(value).slice(0, 80)}`,
    );
  }
  return value;
}

function containerSettings(node: Node): ContainerSettings {
  const certificateArn = arn(
    node,
    'certificateArn',
    /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/,
  );
  const allowHttp = oneOf(node, 'allowHttp', ['true', 'false'] as const, 'false') === 'true';
  if (!certificateArn && !allowHttp) {
    throw new SettingsError(
      'tally:ingest=containers needs context tally:certificateArn (an ACM certificate for the HTTPS listener), or tally:allowHttp=true to serve plain HTTP',
    );
  }
  const minTasks = int(node, 'containerMinTasks', 2, 1, 1000);
  const maxTasks = int(node, 'containerMaxTasks', 50, 1, 1000);
  if (maxTasks < minTasks) {
    throw new SettingsError(
      `context tally:containerMaxTasks (${maxTasks}) must not be below tally:containerMinTasks (${minTasks})`,
    );
  }
  return {
    ...(certificateArn ? { certificateArn } : {}),
    allowHttp,
    minTasks,
    maxTasks,
    requestsPerTaskMinute: int(node, 'containerRequestsPerTaskMinute', 60_000, 100, 10_000_000),
    accessLogs: oneOf(node, 'albAccessLogs', ['true', 'false'] as const, 'false') === 'true',
    ...(get(node, 'wafRequestsPerIpMinute') === undefined
      ? {}
      : { wafRequestsPerIpMinute: int(node, 'wafRequestsPerIpMinute', 0, 10, 2_000_000_000) }),
    ...(get(node, 'wafRequestsPerKeyMinute') === undefined
      ? {}
      : { wafRequestsPerKeyMinute: int(node, 'wafRequestsPerKeyMinute', 0, 10, 2_000_000_000) }),
  };
}

function starRocksTrust(node: Node, host: string | undefined): string | undefined {
  const value = text(node, 'starrocksTrust') ?? (host ? 'ec2' : undefined);
  if (
    value !== undefined &&
    value !== 'ec2' &&
    !/^arn:aws[a-z-]*:iam::\d{12}:(root|role\/.+|user\/.+)$/.test(value)
  ) {
    throw new SettingsError(
      `context tally:starrocksTrust must be "ec2" or the ARN of an IAM role, user or account root, got ${JSON.stringify(value).slice(0, 120)}`,
    );
  }
  return value;
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
