import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stackName } from '../../cdk/config.js';
import { MALLOC_TUNABLES } from '../../cdk/constructs/malloc-tunables.js';
import { synth, WITH_STARROCKS } from '../helpers/cdk.js';

type Synth = ReturnType<typeof synth>;

/** The warehouse jobs in a VPC with two private subnets. */
const IN_VPC = {
  ...WITH_STARROCKS,
  'tally:vpcId': 'vpc-0123456789abcdef0',
  'tally:subnetIds': 'subnet-aaa,subnet-bbb',
  'tally:availabilityZones': 'eu-west-1a,eu-west-1b',
  'tally:routeTableIds': 'rtb-aaa,rtb-bbb',
};

/** What every data bucket of the stack sets: no public access, SSE-S3, owner-enforced objects. */
const PRIVATE_BUCKET = {
  PublicAccessBlockConfiguration: {
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  },
  BucketEncryption: {
    ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
  },
  OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
};
let withWarehouse: Synth;
let ingestOnly: Synth;
const CERTIFICATE = 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012';

beforeAll(async () => {
  withWarehouse = synth({ ...WITH_STARROCKS, 'tally:allowedOrigins': 'https://app.example.com' });
  await yieldToEventLoop();
  ingestOnly = synth();
});

/**
 * Synthesis is synchronous and takes seconds; back-to-back synchronous tests never let the worker
 * read vitest's own messages, and after 60 s vitest reports a timeout of its RPC although every
 * test passed. Letting the event loop turn between tests reads them.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
beforeEach(yieldToEventLoop);

/** Every IAM policy statement of the role of the function whose logical id starts with `prefix`. */
function statementsOf(
  s: Synth,
  prefix: string,
): Array<{ Action: string | string[]; Effect: string; Resource: unknown }> {
  const policies = s.template.findResources('AWS::IAM::Policy');
  return Object.entries(policies)
    .filter(([id]) => id.startsWith(prefix))
    .flatMap(
      ([, p]) =>
        (p as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement,
    );
}

/**
 * The scheduled job under `scope` runs one at a time on any account: EventBridge puts its ticks
 * in one group of a FIFO queue that the function reads (Lambda takes a group one batch at a
 * time), ticks that fail three times move to the missed-ticks queue, a tick stays hidden twice
 * the run's timeout, and the function reserves no concurrency.
 */
function expectOneAtATime(s: Synth, scope: string, rate: string, group: string, timeoutSeconds: number) {
  const queues = s.template.findResources('AWS::SQS::Queue');
  const ticksId = Object.keys(queues).find((id) => id.startsWith(`${scope}Ticks`))!;
  const missedId = Object.keys(queues).find((id) => id.startsWith(`${scope}MissedTicks`))!;
  expect(queues[ticksId]!.Properties).toMatchObject({
    FifoQueue: true,
    ContentBasedDeduplication: true,
    VisibilityTimeout: 2 * timeoutSeconds,
    RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [missedId, 'Arn'] }, maxReceiveCount: 3 },
  });
  expect(queues[missedId]!.Properties).toMatchObject({ FifoQueue: true });
  s.template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: rate,
    Targets: [
      Match.objectLike({
        Arn: { 'Fn::GetAtt': [ticksId, 'Arn'] },
        SqsParameters: { MessageGroupId: group },
      }),
    ],
  });
  const mappings = Object.values(s.template.findResources('AWS::Lambda::EventSourceMapping')).filter((m) =>
    JSON.stringify(m).includes(ticksId),
  ) as Array<{ Properties: { FunctionName: { Ref: string }; BatchSize: number } }>;
  expect(mappings).toHaveLength(1);
  expect(mappings[0]!.Properties.BatchSize).toBe(10);
  const fn = s.template.findResources('AWS::Lambda::Function')[mappings[0]!.Properties.FunctionName.Ref] as {
    Properties: { Timeout: number };
  };
  expect(fn.Properties.Timeout).toBe(timeoutSeconds);
  expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
}

/** The properties of the first function whose environment sets `variable`. */
function functionWith(
  s: Synth,
  variable: string,
): { MemorySize: number; Environment: { Variables: Record<string, string> } } {
  const fns = Object.values(s.template.findResources('AWS::Lambda::Function')) as Array<{
    Properties: { MemorySize: number; Environment: { Variables: Record<string, string> } };
  }>;
  const fn = fns.find((f) => variable in f.Properties.Environment.Variables);
  if (!fn) throw new Error(`no function sets ${variable}`);
  return fn.Properties;
}

function actionsOf(s: Synth, prefix: string): string[] {
  return statementsOf(s, prefix).flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action]));
}

describe('the lake writer', () => {
  it('reads the stream with bounded retries, bisection, partial batch responses and an S3 on-failure destination', () => {
    withWarehouse.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10000,
      MaximumBatchingWindowInSeconds: 60,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 21600,
      ParallelizationFactor: 1,
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: {
        OnFailure: {
          Destination: Match.objectLike({
            'Fn::GetAtt': [Match.stringLikeRegexp('^LakeWriterFailedBatches'), 'Arn'],
          }),
        },
      },
      MetricsConfig: { Metrics: ['EventCount'] },
    });
    // The tick queues of the rollup and compaction schedules and their dead-letter queues only.
    withWarehouse.template.resourceCountIs('AWS::SQS::Queue', 4);
  });

  it('keeps failed batches with their records in a private, TLS-only, encrypted bucket that expires them', () => {
    const buckets = withWarehouse.template.findResources('AWS::S3::Bucket');
    const [id, bucket] = Object.entries(buckets).find(([k]) => k.startsWith('LakeWriterFailedBatches'))!;
    expect(bucket).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        ...PRIVATE_BUCKET,
        LifecycleConfiguration: {
          Rules: [expect.objectContaining({ ExpirationInDays: 30, Status: 'Enabled' })],
        },
      },
    });
    withWarehouse.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const days = synth({ 'tally:failedBatchRetentionDays': '90' }).template.findResources('AWS::S3::Bucket');
    expect(
      JSON.stringify(Object.entries(days).find(([k]) => k.startsWith('LakeWriterFailedBatches'))),
    ).toContain('"ExpirationInDays":90');
  });

  it('may write failed batches to their bucket, and list it, but never read or delete there', () => {
    const statements = statementsOf(withWarehouse, 'LakeWriterFunctionServiceRoleDefaultPolicy').filter(
      (st) => JSON.stringify(st.Resource).includes('LakeWriterFailedBatches'),
    );
    const actions = statements.flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action])).sort();
    expect(actions).toEqual(expect.arrayContaining(['s3:ListBucket', 's3:PutObject']));
    expect(actions.filter((a) => /^s3:(Delete|Get)/.test(a) || a === 's3:*')).toEqual([]);
  });

  it('takes its batch settings from context', () => {
    const s = synth({ 'tally:batchSize': '500', 'tally:batchingWindowSeconds': '5' });
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 5,
    });
  });

  it('may put objects but never delete them', () => {
    const actions = actionsOf(withWarehouse, 'LakeWriterFunctionServiceRoleDefaultPolicy');
    expect(actions).toEqual(expect.arrayContaining(['s3:PutObject']));
    expect(actions.filter((a) => /^s3:Delete/.test(a) || a === 's3:*')).toEqual([]);
  });
});

describe('least privilege on the lake', () => {
  const s3Statements = (s: Synth) =>
    Object.entries(s.template.findResources('AWS::IAM::Policy')).flatMap(([id, p]) =>
      (
        p as {
          Properties: {
            PolicyDocument: { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
          };
        }
      ).Properties.PolicyDocument.Statement.map((st) => ({
        id,
        actions: [st.Action].flat(),
        resource: JSON.stringify(st.Resource),
      })).filter((st) => st.actions.some((a) => a.startsWith('s3:')) && st.resource.includes('LakeBucket')),
    );

  it('grants no bucket-wide wildcards, no versions and no permanent deletes to anyone', () => {
    for (const st of s3Statements(withWarehouse)) {
      for (const action of st.actions) {
        expect(
          ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject', 's3:ListBucket'],
          `${st.id}: ${action}`,
        ).toContain(action);
      }
    }
    expect(JSON.stringify(withWarehouse.template.toJSON())).not.toMatch(
      /s3:(GetBucket\*|List\*|GetObject\*|DeleteObject\*|DeleteObjectVersion)/,
    );
  });

  it('lets the lake writer put only where it writes: not erasures/ or compactions/', () => {
    const puts = s3Statements(withWarehouse)
      .filter((st) => st.id.startsWith('LakeWriterFunction') && st.actions.includes('s3:PutObject'))
      .map((st) => st.resource)
      .join();
    for (const prefix of ['events', 'bad', 'manifests']) expect(puts).toContain(`/${prefix}/*`);
    expect(puts).not.toMatch(/erasures|compactions|"\/\*"/);
  });
});

describe('compaction', () => {
  it('is the only function that may delete from the lake, and only data files and its pending records', () => {
    const deleting = Object.entries(withWarehouse.template.findResources('AWS::IAM::Policy'))
      .filter(([, p]) => JSON.stringify(p).includes('s3:DeleteObject'))
      .map(([id]) => id);
    const deletes = statementsOf(withWarehouse, 'CompactionFunctionServiceRoleDefaultPolicy').filter((st) =>
      JSON.stringify(st.Action).includes('s3:Delete'),
    );

    expect(deleting).toHaveLength(1);
    expect(deleting[0]).toMatch(/^CompactionFunction/);
    const resources = JSON.stringify(deletes.map((st) => st.Resource));
    expect(resources).toContain('/events/*');
    expect(resources).toContain('/compactions/pending/*');
    expect(resources).not.toMatch(/\/(manifests|bad|erasures|compactions\/done)\//);
  });

  it('runs hourly, one run at a time through a FIFO group (no reserved concurrency), with missed ticks kept', () => {
    expectOneAtATime(withWarehouse, 'Compaction', 'rate(1 hour)', 'compaction', 15 * 60);
  });

  it('fits a new account (3,008 MB) unless given more memory, its files sized to it', () => {
    const target = (s: Synth) => functionWith(s, 'TALLY_COMPACTION_TARGET_BYTES');
    expect(target(withWarehouse).MemorySize).toBe(3008);
    expect(target(withWarehouse).Environment.Variables.TALLY_COMPACTION_TARGET_BYTES).toBe(
      String(37 * 1024 * 1024),
    );
    const big = target(synth({ 'tally:compactionMemoryMb': '10240' }));
    expect(big.MemorySize).toBe(10240);
    expect(big.Environment.Variables.TALLY_COMPACTION_TARGET_BYTES).toBe(String(128 * 1024 * 1024));
    expect(() => synth({ 'tally:compactionMemoryMb': '20000' })).toThrow(
      /tally:compactionMemoryMb must be an integer from 1024 to 10240, got "20000"/,
    );
  });

  it('asks for no reserved concurrency anywhere (a new account has none to give)', () => {
    for (const s of [withWarehouse, ingestOnly]) {
      for (const fn of Object.values(s.template.findResources('AWS::Lambda::Function'))) {
        expect((fn as { Properties: object }).Properties).not.toHaveProperty('ReservedConcurrentExecutions');
      }
    }
  });
});

describe('collect', () => {
  it('may only put records on the stream (and read its secrets, and trace)', () => {
    const actions = actionsOf(withWarehouse, 'CollectServiceRoleDefaultPolicy');
    expect(actions.filter((a) => a.startsWith('kinesis:')).sort()).toEqual([
      'kinesis:PutRecord',
      'kinesis:PutRecords',
    ]);
    expect(
      actions.filter(
        (a) =>
          !/^(kinesis:PutRecords?|dynamodb:UpdateItem|secretsmanager:(GetSecretValue|DescribeSecret)|xray:.*)$/.test(
            a,
          ),
      ),
    ).toEqual([]);
  });

  it('counts per-project quotas in a table of its own: UpdateItem on it only, counts expiring by TTL', () => {
    const tables = withWarehouse.template.findResources('AWS::DynamoDB::Table');
    const [tableId, table] = Object.entries(tables)[0] as [
      string,
      { Properties: object; DeletionPolicy: string },
    ];
    expect(Object.keys(tables)).toEqual([tableId]);
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties).toMatchObject({
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    const dynamo = statementsOf(withWarehouse, 'CollectServiceRoleDefaultPolicy').filter((st) =>
      JSON.stringify(st.Action).includes('dynamodb:'),
    );
    expect(dynamo).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:UpdateItem',
        Resource: { 'Fn::GetAtt': [tableId, 'Arn'] },
      }),
    ]);
    // No other role names the table.
    for (const [id, policy] of Object.entries(withWarehouse.template.findResources('AWS::IAM::Policy'))) {
      if (!id.startsWith('CollectServiceRoleDefaultPolicy'))
        expect(JSON.stringify(policy)).not.toContain(tableId);
    }
    const variables = functionWith(withWarehouse, 'TALLY_QUOTA_TABLE').Environment.Variables;
    expect(variables.TALLY_QUOTA_TABLE).toEqual({ Ref: tableId });
    expect(variables).not.toHaveProperty('TALLY_PROJECT_REQUESTS_PER_SECOND');
    const withDefault = synth({ 'tally:projectRequestsPerSecond': '250' });
    expect(
      functionWith(withDefault, 'TALLY_QUOTA_TABLE').Environment.Variables.TALLY_PROJECT_REQUESTS_PER_SECOND,
    ).toBe('250');
    expect(() => synth({ 'tally:projectRequestsPerSecond': '0' })).toThrow(
      'context tally:projectRequestsPerSecond must be an integer from 1 to 1000000, got "0"',
    );
  });

  it("gets no key in its environment, only the secrets' ARNs", () => {
    const fns = withWarehouse.template.findResources('AWS::Lambda::Function');
    const collect = Object.entries(fns).find(([id]) => id.startsWith('Collect'))![1] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    const variables = collect.Properties.Environment.Variables;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(['TALLY_HMAC_SECRET_ARN', 'TALLY_PROJECTS_SECRET_ARN', 'TALLY_STREAM_ARN']),
    );
    expect(Object.keys(variables).filter((k) => k === 'TALLY_HMAC_KEY' || k === 'TALLY_PROJECTS')).toEqual(
      [],
    );
  });
});

describe('every function', () => {
  it('runs Node.js 24 on arm64 with tracing: active, but pass-through on collect unless asked', () => {
    const fns = Object.values(withWarehouse.template.findResources('AWS::Lambda::Function')) as Array<{
      Properties: { Environment: { Variables: Record<string, string> } };
    }>;
    expect(fns).toHaveLength(6);
    for (const fn of fns) {
      const collect = fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'collect';
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: collect ? 'PassThrough' : 'Active' },
      });
    }
    // Lambda's own lines only for what went wrong; the functions' lines by their level.
    for (const fn of fns) {
      expect((fn.Properties as { LoggingConfig?: object }).LoggingConfig).toEqual({
        LogFormat: 'JSON',
        SystemLogLevel: 'WARN',
        ApplicationLogLevel: 'INFO',
        LogGroup: expect.anything(),
      });
    }
    synth({ 'tally:collectTracing': 'active' }).template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'collect' }) },
      TracingConfig: { Mode: 'Active' },
    });
  });
});

describe('the erase function', () => {
  it('rewrites events, bad rows and erasure records by put, never delete, and reads the HMAC keys', () => {
    const actions = actionsOf(ingestOnly, 'ErasureFunctionServiceRoleDefaultPolicy');
    expect(actions).toEqual(expect.arrayContaining(['s3:PutObject', 'secretsmanager:GetSecretValue']));
    expect(actions.filter((a) => /^s3:Delete/.test(a) || a === 's3:*')).toEqual([]);
    const resources = JSON.stringify(statementsOf(ingestOnly, 'ErasureFunctionServiceRoleDefaultPolicy'));
    for (const prefix of ['events/*', 'bad/*', 'erasures/*', 'manifests/*'])
      expect(resources).toContain(prefix);
  });

  it('lets the lake writer register the partitions it writes in the Glue table', () => {
    expect(actionsOf(ingestOnly, 'LakeWriterFunctionServiceRoleDefaultPolicy')).toEqual(
      expect.arrayContaining(['glue:BatchCreatePartition']),
    );
    ingestOnly.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'lake-writer',
          TALLY_GLUE_DATABASE: 'tally_lake',
          TALLY_GLUE_TABLE: 'events',
        }),
      },
    });
  });

  it('runs every pipeline function with glibc keeping the memory it frees (record compression)', () => {
    const functions = Object.values(ingestOnly.template.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME !== undefined,
    );
    expect(functions.length).toBeGreaterThanOrEqual(4);
    for (const f of functions)
      expect(f.Properties.Environment.Variables.GLIBC_TUNABLES).toBe(MALLOC_TUNABLES);
  });

  it('lets the lake writer read the erasure records it applies', () => {
    const resources = JSON.stringify(statementsOf(ingestOnly, 'LakeWriterFunctionServiceRoleDefaultPolicy'));
    expect(resources).toContain('erasures/*');
    expect(actionsOf(ingestOnly, 'LakeWriterFunctionServiceRoleDefaultPolicy')).toEqual(
      expect.arrayContaining(['s3:GetObject']),
    );
  });
});

describe('alarm actions', () => {
  it('send every alarm and its recovery to one TLS-only, encrypted topic', () => {
    const alarms = Object.values(withWarehouse.template.findResources('AWS::CloudWatch::Alarm')) as Array<{
      Properties: { AlarmActions: unknown[]; OKActions: unknown[] };
    }>;
    expect(alarms.length).toBeGreaterThan(0);
    for (const a of alarms) {
      expect(JSON.stringify(a.Properties.AlarmActions)).toContain('MonitoringAlarms');
      expect(JSON.stringify(a.Properties.OKActions)).toContain('MonitoringAlarms');
    }
    withWarehouse.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    withWarehouse.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    withWarehouse.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('subscribe tally:alarmEmail, and refuse one that is not an address', () => {
    synth({ 'tally:alarmEmail': 'oncall@example.com' }).template.hasResourceProperties(
      'AWS::SNS::Subscription',
      {
        Protocol: 'email',
        Endpoint: 'oncall@example.com',
      },
    );
    expect(() => synth({ 'tally:alarmEmail': 'oncall' })).toThrow(
      /tally:alarmEmail is not an email address: "oncall"/,
    );
  });
});

describe('house rules', () => {
  it('accept every function of the app', () => {
    expect(withWarehouse.annotations.findError('*', Match.stringLikeRegexp('Tally-House'))).toEqual([]);
  });

  it('reject a Lambda not made as a PipelineFunction', () => {
    const { annotations } = synth(
      {},
      {
        extend: (stack) =>
          new LambdaFunction(stack, 'Stray', {
            runtime: Runtime.NODEJS_20_X,
            handler: 'i.h',
            code: Code.fromInline('x'),
          }),
      },
    );
    expect(
      annotations.findError('/Tally/Stray/Resource', Match.stringLikeRegexp('Tally-House.*nodejs20.x')),
    ).not.toEqual([]);
  });
});

describe('the lake bucket', () => {
  it('is private, TLS-only, encrypted, owner-enforced, versioned, with lifecycle rules', () => {
    withWarehouse.template.hasResourceProperties('AWS::S3::Bucket', {
      ...PRIVATE_BUCKET,
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'lake/' }),
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
          }),
          Match.objectLike({ Prefix: 'bad/', ExpirationInDays: 90 }),
        ]),
      },
    });
  });

  it('refuses requests without TLS', () => {
    withWarehouse.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('has a Glue table partitioned by project and dt', () => {
    withWarehouse.template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'events',
        PartitionKeys: [
          { Name: 'project', Type: 'string' },
          { Name: 'dt', Type: 'string' },
        ],
      }),
    });
  });
});

describe('the stream and the API', () => {
  it('is an encrypted on-demand stream that keeps records 7 days unless told otherwise', () => {
    withWarehouse.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      RetentionPeriodHours: 168,
    });
    synth({ 'tally:streamRetentionHours': '48' }).template.hasResourceProperties('AWS::Kinesis::Stream', {
      RetentionPeriodHours: 48,
    });
  });

  it('refuses a record age the stream does not keep, naming both settings', () => {
    expect(() => synth({ 'tally:streamRetentionHours': '24', 'tally:maxRecordAgeHours': '48' })).toThrow(
      /tally:maxRecordAgeHours \(48\) must not exceed tally:streamRetentionHours \(24\)/,
    );
  });

  it('routes every SDK path with an OPTIONS route beside it, and the active-users path, throttled', () => {
    const routes = Object.values(withWarehouse.template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => (r as { Properties: { RouteKey: string } }).Properties.RouteKey,
    );
    const posts = [
      ...['alias', 'batch', 'group', 'identify', 'import', 'page', 'screen', 'track', 'm'],
      ...['t', 'i', 'p', 's', 'g', 'a', 'b'],
    ].map((r) => `/v1/${r}`);
    const paths = [...posts, '/beacon/v1/batch'];
    expect(routes.sort()).toEqual(
      [
        'GET /v1/projects/{project}/active-users',
        'GET /v1/projects/{project}/health',
        'GET /dashboard',
        'GET /dashboard/{file}',
        'GET /sourceConfig',
        'OPTIONS /sourceConfig',
        '$default',
        'GET /v1/projects/{project}/settings',
        'OPTIONS /v1/projects/{project}/settings',
        ...paths.map((p) => `POST ${p}`),
        ...paths.map((p) => `OPTIONS ${p}`),
      ].sort(),
    );
    withWarehouse.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
    });
  });

  it('creates the stage after every route its settings name (API Gateway refuses settings of a missing route)', () => {
    const resources = withWarehouse.template.toJSON().Resources as Record<
      string,
      { Type: string; DependsOn?: string[]; Properties: { RouteKey?: string; RouteSettings?: object } }
    >;
    const [, stage] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    const routeIds = new Map(
      Object.entries(resources)
        .filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Route')
        .map(([id, r]) => [r.Properties.RouteKey!, id]),
    );
    const named = Object.keys(stage.Properties.RouteSettings ?? {});
    expect(named).toHaveLength(4);
    for (const key of named) expect(stage.DependsOn ?? [], key).toContain(routeIds.get(key));
  });

  it('gives each read route its own throttle budget, apart from the collection routes', () => {
    const own = { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 };
    withWarehouse.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: {
        'GET /v1/projects/{project}/active-users': own,
        'GET /v1/projects/{project}/health': own,
        'GET /dashboard': own,
        'GET /dashboard/{file}': own,
      },
    });
    synth({
      ...WITH_STARROCKS,
      'tally:readThrottleRate': '7',
      'tally:readThrottleBurst': '9',
    }).template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: Match.objectLike({
        'GET /dashboard': { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 },
      }),
    });
  });

  it('lets the API invoke each function with one permission, far from the 20 KB resource policy limit', () => {
    const permissions = Object.values(withWarehouse.template.findResources('AWS::Lambda::Permission')).map(
      (p) => (p as { Properties: { Principal: string; SourceArn: unknown } }).Properties,
    );
    const api = permissions.filter((p) => p.Principal === 'apigateway.amazonaws.com');
    expect(api).toHaveLength(2);
    for (const p of api) expect(JSON.stringify(p.SourceArn)).toMatch(/\/\*\/\*"/);
    expect(JSON.stringify(permissions).length).toBeLessThan(5_000);
  });

  it('logs who called (source IP), lean, and never the path, which may hold a write key', () => {
    const stage = Object.values(withWarehouse.template.findResources('AWS::ApiGatewayV2::Stage'))[0] as {
      Properties: { AccessLogSettings: { Format: string } };
    };
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format) as Record<string, string>;
    expect(format).toMatchObject({ ip: '$context.identity.sourceIp', status: '$context.status' });
    expect(JSON.stringify(format)).not.toMatch(/path|routeKey.*\{/i);
    // Paid by the byte at a line a request: no user agent, no time (CloudWatch stamps each line).
    expect(Object.keys(format).sort()).toEqual(['error', 'ip', 'latency', 'requestId', 'route', 'status']);
  });

  it("leaves CORS to the collect function, so the API's setting does not open the read-key route", () => {
    for (const s of [withWarehouse, ingestOnly]) {
      s.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
    }
    withWarehouse.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TALLY_ALLOWED_ORIGINS: 'https://app.example.com' }) },
    });
    ingestOnly.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TALLY_ALLOWED_ORIGINS: '*' }) },
    });
  });

  it('refuses an allow-list entry that is not an origin', () => {
    expect(() => synth({ 'tally:allowedOrigins': 'https://ok.example.com,not an origin' })).toThrow(
      /tally:allowedOrigins.*not an origin/,
    );
  });
});

describe('warehouse jobs', () => {
  it('exist only with a StarRocks endpoint, on a 5-minute schedule', () => {
    withWarehouse.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
    });
    // Without StarRocks: collect, lake writer, erase and compaction, and compaction's schedule only.
    ingestOnly.template.resourceCountIs('AWS::Events::Rule', 1);
    ingestOnly.template.resourceCountIs('AWS::Lambda::Function', 4);
  });

  it('give no function a duplicate window, and refuse one still set', () => {
    const variables = Object.values(withWarehouse.template.findResources('AWS::Lambda::Function')).flatMap(
      (f) =>
        Object.keys(
          (f as { Properties: { Environment?: { Variables?: Record<string, string> } } }).Properties
            .Environment?.Variables ?? {},
        ),
    );
    expect(variables).toContain('TALLY_STARROCKS_HOST');
    expect(variables).not.toContain('TALLY_DEDUP_WINDOW_HOURS');
    expect(() => synth({ ...WITH_STARROCKS, 'tally:dedupWindowHours': '48' })).toThrow(
      /context tally:dedupWindowHours is no longer read \(got "48"\): copies of an event count once per event day/,
    );
  });

  it('give the rollup no write to the lake', () => {
    const actions = actionsOf(withWarehouse, 'WarehouseRollupServiceRoleDefaultPolicy');
    expect(actions.filter((a) => /^s3:(Put|Delete|Abort)/.test(a) || a === 's3:*')).toEqual([]);
    expect(actions).toEqual(expect.arrayContaining(['glue:BatchCreatePartition']));
  });

  it("give the rollup the projects' settings (countBots): the projects secret's ARN and a read of it", () => {
    const functions = withWarehouse.template.findResources('AWS::Lambda::Function');
    const [rollup] = Object.entries(functions).filter(([id]) => id.startsWith('WarehouseRollup'));
    const variables = (rollup![1] as { Properties: { Environment: { Variables: Record<string, unknown> } } })
      .Properties.Environment.Variables;
    const secrets = Object.keys(withWarehouse.template.findResources('AWS::SecretsManager::Secret'));
    const projects = secrets.find((id) => id.includes('Projects'))!;
    expect(variables.TALLY_PROJECTS_SECRET_ARN).toEqual({ Ref: projects });
    const [, policy] = Object.entries(withWarehouse.template.findResources('AWS::IAM::Policy')).find(([id]) =>
      id.startsWith('WarehouseRollupServiceRoleDefaultPolicy'),
    )!;
    expect(JSON.stringify(policy)).toContain(`"Ref":"${projects}"`);
  });

  it('run in the VPC when one is given, with the endpoints they need to reach AWS without a NAT', () => {
    const s = synth({ ...IN_VPC, 'tally:securityGroupId': 'sg-0123456789abcdef0' });
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SubnetIds: ['subnet-aaa', 'subnet-bbb'], SecurityGroupIds: ['sg-0123456789abcdef0'] },
    });
    s.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      VpcId: 'vpc-0123456789abcdef0',
      RouteTableIds: ['rtb-aaa', 'rtb-bbb'],
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
    });
    const interfaces = Object.values(s.template.findResources('AWS::EC2::VPCEndpoint'))
      .map(
        (r) =>
          (
            r as {
              Properties: {
                VpcEndpointType?: string;
                ServiceName: string;
                PrivateDnsEnabled?: boolean;
                SubnetIds?: string[];
              };
            }
          ).Properties,
      )
      .filter((p) => p.VpcEndpointType === 'Interface');
    expect(interfaces.map((p) => p.ServiceName).sort()).toEqual([
      'com.amazonaws.eu-west-1.glue',
      'com.amazonaws.eu-west-1.secretsmanager',
      'com.amazonaws.eu-west-1.xray',
    ]);
    for (const p of interfaces)
      expect(p).toMatchObject({ PrivateDnsEnabled: true, SubnetIds: ['subnet-aaa', 'subnet-bbb'] });
    // The endpoints admit HTTPS from the functions' security group, and nothing else.
    s.template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: 'sg-0123456789abcdef0',
    });

    const nat = synth({ ...IN_VPC, 'tally:vpcEgress': 'nat', 'tally:routeTableIds': '' });
    nat.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    // StarRocks must let the jobs in: their security groups are outputs.
    s.template.hasOutput('RollupSecurityGroups', { Value: 'sg-0123456789abcdef0' });
    s.template.hasOutput('MetricsSecurityGroups', { Value: 'sg-0123456789abcdef0' });
  });

  it('create only the endpoints the VPC lacks, so a second stage or an existing S3 route deploys', () => {
    const some = synth({ ...IN_VPC, 'tally:vpcEndpoints': 'glue,xray', 'tally:routeTableIds': '' });
    const services = Object.values(some.template.findResources('AWS::EC2::VPCEndpoint')).map((r) =>
      JSON.stringify((r as { Properties: { ServiceName: unknown } }).Properties.ServiceName),
    );
    expect(services).toHaveLength(2);
    expect(services.join()).toMatch(/glue/);
    expect(services.join()).toMatch(/xray/);
    synth({ ...IN_VPC, 'tally:vpcEndpoints': 'none' }).template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    expect(() => synth({ ...IN_VPC, 'tally:vpcEndpoints': 's3,sqs' })).toThrow(
      /tally:vpcEndpoints takes s3, glue, secretsmanager, xray, dynamodb, lambda, sts, kafka or none, got "sqs"/,
    );
    expect(() => synth({ ...IN_VPC, 'tally:vpcEndpoints': 's3', 'tally:routeTableIds': '' })).toThrow(
      /tally:routeTableIds is required/,
    );
    // Security groups are outputs without a given one too (the functions' own).
    some.template.hasOutput('RollupSecurityGroups', { Value: Match.anyValue() });
  });

  it('may decrypt a StarRocks secret under a customer key, through Secrets Manager only', () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const s = synth({ ...WITH_STARROCKS, 'tally:starrocksSecretKeyArn': key });
    for (const prefix of ['WarehouseRollupServiceRole', 'WarehouseMetricsServiceRole']) {
      expect(statementsOf(s, prefix)).toContainEqual(
        expect.objectContaining({
          Action: 'kms:Decrypt',
          Resource: key,
          Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
        }),
      );
    }
    expect(JSON.stringify(statementsOf(withWarehouse, 'WarehouseRollupServiceRole'))).not.toContain('kms:');
    expect(() => synth({ ...WITH_STARROCKS, 'tally:starrocksSecretKeyArn': 'alias/mine' })).toThrow(
      /tally:starrocksSecretKeyArn is not such an ARN/,
    );
  });

  it('give each stage its own StarRocks database unless one is named', () => {
    const database = (s: Synth) =>
      functionWith(s, 'TALLY_STARROCKS_DATABASE').Environment.Variables.TALLY_STARROCKS_DATABASE;
    expect(database(withWarehouse)).toBe('tally');
    expect(database(synth({ ...WITH_STARROCKS, 'tally:stage': 'eu-prod' }))).toBe('tally_eu_prod');
    expect(
      database(synth({ ...WITH_STARROCKS, 'tally:stage': 'eu-prod', 'tally:starrocksDatabase': 'events' })),
    ).toBe('events');
    expect(() => synth({ ...WITH_STARROCKS, 'tally:starrocksDatabase': 'a;drop' })).toThrow(
      /tally:starrocksDatabase must be a StarRocks database name.*"a;drop"/,
    );
  });

  it('refuse a VPC without subnets, zones that do not match them, or no way out, naming the key', () => {
    const vpc = { ...WITH_STARROCKS, 'tally:vpcId': 'vpc-0123456789abcdef0' };
    expect(() => synth(vpc)).toThrow(/tally:subnetIds is required with tally:vpcId/);
    expect(() => synth({ ...vpc, 'tally:subnetIds': 'subnet-a,subnet-b' })).toThrow(
      /tally:availabilityZones needs one zone per subnet.*got 0 zone\(s\) for 2 subnet\(s\)/,
    );
    expect(() => synth({ ...IN_VPC, 'tally:routeTableIds': '' })).toThrow(
      /tally:routeTableIds is required with tally:vpcId.*or set tally:vpcEgress=nat/,
    );
    expect(() => synth({ ...IN_VPC, 'tally:vpcEgress': 'internet' })).toThrow(
      /tally:vpcEgress must be "endpoints" or "nat", got "internet"/,
    );
  });

  it('run the rollup one at a time through a FIFO group, keeping ticks that keep failing', () => {
    expectOneAtATime(withWarehouse, 'Warehouse', 'rate(5 minutes)', 'rollup', 10 * 60);
  });

  it('give the metrics function the read keys but not the HMAC key', () => {
    const resources = JSON.stringify(statementsOf(withWarehouse, 'WarehouseMetricsServiceRoleDefaultPolicy'));
    expect(resources).toContain('SecretsProjects');
    expect(resources).not.toContain('SecretsHmacKey');
  });

  it('refuses a StarRocks host without its secret, naming the context key', () => {
    expect(() => synth({ 'tally:starrocksHost': 'x' })).toThrow(/tally:starrocksSecretArn/);
    expect(() => synth({ 'tally:batchSize': '20000' })).toThrow(
      /tally:batchSize must be an integer from 1 to 10000, got "20000"/,
    );
  });
});

/** An existing Kafka cluster, reached with SASL/SCRAM. */
const ON_KAFKA_CLUSTER = {
  'tally:stream': 'kafka',
  'tally:kafkaBootstrapServers': 'b-1.example.com:9096,b-2.example.com:9096',
  'tally:kafkaSecretArn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_tally-AbCdEf',
};

/** The resources of one type, by logical id, with their properties. */
function resourcesOf(s: Synth, type: string): Array<[string, Record<string, unknown>]> {
  return Object.entries(s.template.findResources(type)).map(([id, r]) => [
    id,
    (r as { Properties: Record<string, unknown> }).Properties,
  ]);
}

describe('the stream on Kafka', () => {
  let msk: Synth;
  let existing: Synth;
  beforeAll(async () => {
    msk = synth({ ...IN_VPC, 'tally:stream': 'kafka', 'tally:kafkaPartitions': '24' });
    await yieldToEventLoop();
    existing = synth({ ...ON_KAFKA_CLUSTER, 'tally:kafkaTopic': 'events' });
  });
  beforeEach(yieldToEventLoop);

  it('creates an MSK Serverless cluster in the VPC, IAM authentication only, and no Kinesis stream', () => {
    msk.template.resourceCountIs('AWS::Kinesis::Stream', 0);
    msk.template.hasResourceProperties('AWS::MSK::ServerlessCluster', {
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
      VpcConfigs: [{ SubnetIds: ['subnet-aaa', 'subnet-bbb'], SecurityGroups: Match.anyValue() }],
    });
    // Its topic, made at deploy with the partitions and the stream's retention.
    msk.template.hasResourceProperties('Custom::KafkaTopic', {
      Topic: 'tally-events',
      Partitions: 24,
      RetentionHours: 168,
      ClusterArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^KafkaCluster'), 'Arn'] },
    });
    // Only the clients' and the pollers' groups reach the brokers, on the IAM port.
    const ingress = resourcesOf(msk, 'AWS::EC2::SecurityGroupIngress').filter(([, p]) => p.FromPort === 9098);
    expect(ingress).toHaveLength(2);
    for (const [, p] of ingress) expect(p).toMatchObject({ ToPort: 9098, IpProtocol: 'tcp' });
    expect(JSON.stringify(msk.template.findResources('AWS::EC2::SecurityGroup'))).not.toContain('9098');
  });

  it('runs the collector in the VPC with the brokers the topic resource answers, signing in with IAM', () => {
    msk.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: Match.anyValue(),
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'collect',
          TALLY_STREAM: 'kafka',
          TALLY_KAFKA_TOPIC: 'tally-events',
          TALLY_KAFKA_AUTH: 'iam',
          TALLY_KAFKA_BROKERS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^KafkaTopic'), 'Brokers'] },
        }),
      },
      VpcConfig: { SubnetIds: ['subnet-aaa', 'subnet-bbb'], SecurityGroupIds: Match.anyValue() },
    });
    const collect = resourcesOf(msk, 'AWS::Lambda::Function').find(
      ([, p]) =>
        (p.Environment as { Variables: Record<string, unknown> }).Variables.POWERTOOLS_SERVICE_NAME ===
        'collect',
    )!;
    expect(JSON.stringify(collect[1])).not.toContain('TALLY_STREAM_ARN');
  });

  it('grants the Kafka actions on the cluster, the topic and the lake writer group only', () => {
    const kafkaStatements = resourcesOf(msk, 'AWS::IAM::Policy').flatMap(([id, p]) =>
      (
        p.PolicyDocument as { Statement: Array<{ Action: string | string[]; Resource: unknown }> }
      ).Statement.filter((st) => JSON.stringify(st.Action).includes('kafka')).map((st) => ({
        id,
        actions: [st.Action].flat(),
        resource: JSON.stringify(st.Resource),
      })),
    );
    const of = (prefix: string) => kafkaStatements.filter((st) => st.id.startsWith(prefix));
    expect(
      of('Collect')
        .flatMap((st) => st.actions)
        .sort(),
    ).toEqual([
      'kafka-cluster:Connect',
      'kafka-cluster:DescribeClusterDynamicConfiguration',
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:WriteData',
    ]);
    expect(
      of('LakeWriter')
        .flatMap((st) => st.actions)
        .sort(),
    ).toEqual([
      'kafka-cluster:AlterGroup',
      'kafka-cluster:Connect',
      'kafka-cluster:DescribeClusterDynamicConfiguration',
      'kafka-cluster:DescribeGroup',
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:ReadData',
      'kafka:DescribeClusterV2',
      'kafka:GetBootstrapBrokers',
    ]);
    for (const st of kafkaStatements) {
      expect(st.actions.join()).not.toMatch(/\*/);
      expect(st.resource).not.toBe('"*"');
      const kind = st.actions.some((a) => /Topic|Data/.test(a))
        ? ':topic/'
        : st.actions.some((a) => /Group/.test(a))
          ? ':group/'
          : 'KafkaCluster';
      expect(st.resource).toContain(kind);
    }
    expect(of('LakeWriter').find((st) => st.resource.includes(':group/'))!.resource).toContain(
      '/tally-lake-writer',
    );
    expect(of('Collect').find((st) => st.resource.includes(':topic/'))!.resource).toContain('/tally-events');
    // Nobody writes with a wildcard topic or reads as any group.
    expect(JSON.stringify(kafkaStatements)).not.toMatch(/topic\/[^"]*\*|group\/[^"]*\*/);
  });

  it('feeds the lake writer through a Kafka event source mapping with the Kinesis settings and an S3 on-failure bucket', () => {
    msk.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^KafkaCluster'), 'Arn'] },
      Topics: ['tally-events'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'tally-lake-writer' },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 10000,
      MaximumBatchingWindowInSeconds: 60,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 21600,
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 24 },
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeWriterFailedBatches'), 'Arn'] },
        },
      },
    });
    // A delivery succeeds or fails whole (the handler fails it when a partition was not written).
    const mapping = resourcesOf(msk, 'AWS::Lambda::EventSourceMapping').find(([, p]) => p.Topics)!;
    expect(mapping[1].FunctionResponseTypes).toBeUndefined();
  });

  it('reaches AWS from the VPC through the endpoints the warehouse jobs do not already make', () => {
    const services = resourcesOf(msk, 'AWS::EC2::VPCEndpoint').map(([, p]) => JSON.stringify(p.ServiceName));
    for (const service of ['.s3', 'secretsmanager', 'glue', 'xray', 'dynamodb', 'lambda', 'sts', 'kafka']) {
      expect(
        services.filter((s) => s.includes(service)),
        service,
      ).toHaveLength(1);
    }
    // The warehouse's Secrets Manager endpoint lets the collector in (it reads its keys there).
    const clients = resourcesOf(msk, 'AWS::EC2::SecurityGroup').find(([, p]) =>
      String(p.GroupDescription).includes('clients of the Kafka cluster'),
    )![0];
    const secretsEndpoint = resourcesOf(msk, 'AWS::EC2::VPCEndpoint').find(([id]) =>
      id.startsWith('WarehouseSecretsManagerEndpoint'),
    )!;
    const groupOf = JSON.stringify(secretsEndpoint[1].SecurityGroupIds);
    const ingress = resourcesOf(msk, 'AWS::EC2::SecurityGroupIngress').filter(
      ([, p]) =>
        JSON.stringify(p.GroupId) === groupOf.slice(1, -1) &&
        JSON.stringify(p.SourceSecurityGroupId).includes(clients),
    );
    expect(ingress.length).toBeGreaterThan(0);
  });

  it('pages on the lake writer group lag, on broker-side throttling and on silence, with no Kinesis alarm left', () => {
    msk.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Tally-LakeWriterBehind',
      Namespace: 'AWS/Lambda',
      MetricName: 'OffsetLag',
      Statistic: 'Maximum',
      Threshold: 1_000_000,
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
    });
    msk.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Tally-StreamSilent',
      MetricName: 'EventsAccepted',
    });
    // Broker-side throttling, as the collector hears it in produce responses.
    msk.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Tally-StreamThrottling',
      Namespace: 'Tally',
      MetricName: 'StreamThrottled',
      Dimensions: [{ Name: 'service', Value: 'collect' }],
      Statistic: 'Sum',
      Threshold: 0,
      EvaluationPeriods: 3,
    });
    expect(JSON.stringify(msk.template.findResources('AWS::CloudWatch::Alarm'))).not.toContain('AWS/Kinesis');
  });

  it('uses an existing cluster with SASL/SCRAM: its brokers and secret, no cluster, no VPC', () => {
    existing.template.resourceCountIs('AWS::MSK::ServerlessCluster', 0);
    existing.template.resourceCountIs('AWS::Kinesis::Stream', 0);
    const secret = ON_KAFKA_CLUSTER['tally:kafkaSecretArn'];
    existing.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: ['events'],
      SelfManagedEventSource: {
        Endpoints: { KafkaBootstrapServers: ['b-1.example.com:9096', 'b-2.example.com:9096'] },
      },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'tally-lake-writer' },
      SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: secret }],
    });
    existing.template.hasResourceProperties('Custom::KafkaTopic', {
      Topic: 'events',
      Partitions: 12,
      Brokers: 'b-1.example.com:9096,b-2.example.com:9096',
    });
    existing.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'collect',
          TALLY_KAFKA_AUTH: 'scram',
          TALLY_KAFKA_SECRET_ARN: secret,
        }),
      },
    });
    for (const [, p] of resourcesOf(existing, 'AWS::Lambda::Function')) expect(p.VpcConfig).toBeUndefined();
    // The collector, the lake writer and the topic function read the secret, and nothing else does.
    const readers = resourcesOf(existing, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p).includes(secret))
      .map(([id]) => id.replace(/ServiceRole.*$/, '').replace(/Function$/, ''));
    expect(readers.sort()).toEqual(['Collect', 'KafkaTopic', 'LakeWriter']);
  });

  it("puts the cluster in the container tier's VPC with that tier: its tasks and the collect function write to it", () => {
    const s = synth({ 'tally:stream': 'kafka', 'tally:ingest': 'containers', 'tally:allowHttp': 'true' });
    const isolated = { Ref: Match.stringLikeRegexp('^IngestContainersVpctasksSubnet') };
    s.template.hasResourceProperties('AWS::MSK::ServerlessCluster', {
      VpcConfigs: [{ SubnetIds: [isolated, isolated], SecurityGroups: Match.anyValue() }],
    });
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: 'TALLY_STREAM', Value: 'kafka' },
            { Name: 'TALLY_KAFKA_AUTH', Value: 'iam' },
            {
              Name: 'TALLY_KAFKA_BROKERS',
              Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^KafkaTopic'), 'Brokers'] },
            },
            { Name: 'AWS_REGION', Value: 'eu-west-1' },
          ]),
        }),
      ],
    });
    // The tasks may reach the brokers (and nothing new besides), and write to the topic only.
    s.template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestContainersTasksSecurityGroup'), 'GroupId'] },
      DestinationSecurityGroupId: {
        'Fn::GetAtt': [Match.stringLikeRegexp('^KafkaClusterSecurityGroup'), 'GroupId'],
      },
      FromPort: 9098,
      ToPort: 9098,
    });
    const taskPolicy = resourcesOf(s, 'AWS::IAM::Policy').find(([id]) =>
      id.startsWith('IngestContainersTaskTaskRole'),
    )!;
    expect(JSON.stringify(taskPolicy[1])).toContain('kafka-cluster:WriteData');
    expect(JSON.stringify(taskPolicy[1])).not.toContain('kinesis:');
    // No Kinesis anywhere; the collect function runs in the same subnets.
    s.template.resourceCountIs('AWS::Kinesis::Stream', 0);
    expect(JSON.stringify(s.template.findResources('AWS::EC2::VPCEndpoint'))).not.toContain('kinesis');
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'collect', TALLY_STREAM: 'kafka' }),
      },
      VpcConfig: { SubnetIds: [isolated, isolated], SecurityGroupIds: Match.anyValue() },
    });
  });

  it('refuses a Kafka stream it cannot build, naming the context key', () => {
    expect(() => synth({ 'tally:stream': 'kafka' })).toThrow(
      /MSK Serverless cluster, which needs tally:vpcId/,
    );
    expect(() =>
      synth({
        ...IN_VPC,
        'tally:stream': 'kafka',
        'tally:subnetIds': 'subnet-aaa',
        'tally:availabilityZones': 'eu-west-1a',
      }),
    ).toThrow(/two availability zones/);
    expect(() => synth({ ...ON_KAFKA_CLUSTER, 'tally:kafkaSecretArn': '' })).toThrow(
      /tally:kafkaSecretArn is required with tally:kafkaBootstrapServers/,
    );
    expect(() =>
      synth({ ...ON_KAFKA_CLUSTER, 'tally:kafkaBootstrapServers': 'b-1:9096,http://b-2' }),
    ).toThrow(/tally:kafkaBootstrapServers: not a Kafka broker address \(host:port\): "http:\/\/b-2"/);
    expect(() => synth({ ...ON_KAFKA_CLUSTER, 'tally:kafkaTopic': 'my topic' })).toThrow(/"my topic"/);
    expect(() => synth({ ...ON_KAFKA_CLUSTER, 'tally:kafkaPartitions': '0' })).toThrow(
      /tally:kafkaPartitions must be an integer from 1 to 2000, got "0"/,
    );
    expect(() =>
      synth({ ...ON_KAFKA_CLUSTER, 'tally:ingest': 'containers', 'tally:allowHttp': 'true' }),
    ).toThrow(
      /tally:ingest=containers with tally:stream=kafka takes the MSK Serverless cluster the stack makes/,
    );
    expect(() => synth({ 'tally:stream': 'pulsar' })).toThrow(
      /tally:stream must be "kinesis" or "kafka", got "pulsar"/,
    );
  });
});

describe('monitoring', () => {
  type AlarmProps = {
    AlarmName: string;
    Namespace?: string;
    MetricName?: string;
    Statistic?: string;
    Dimensions?: Array<{ Name: string; Value: unknown }>;
    Metrics?: Array<{ Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string } } }>;
    Threshold: number;
    ComparisonOperator: string;
    TreatMissingData: string;
    EvaluationPeriods: number;
    DatapointsToAlarm: number;
    Period?: number;
  };
  const alarms = (s: Synth) =>
    new Map(
      Object.values(s.template.findResources('AWS::CloudWatch::Alarm')).map((r) => {
        const p = (r as { Properties: AlarmProps }).Properties;
        return [p.AlarmName.replace(/^Tally-/, ''), p] as const;
      }),
    );
  const GT = 'GreaterThanThreshold';

  it('wires every alarm to its metric, statistic, threshold, periods and missing-data rule', () => {
    const all = alarms(withWarehouse);
    // [name, namespace, metric, statistic, threshold, comparison, periods, breaching, missing]
    const expected: Array<[string, string, string, string, number, string, number, number, string]> = [
      [
        'LakeWriterBehind',
        'AWS/Kinesis',
        'GetRecords.IteratorAgeMilliseconds',
        'Maximum',
        900000,
        GT,
        1,
        1,
        'breaching',
      ],
      ['StreamRefusing', 'Tally', 'StreamUnavailable', 'Sum', 0, GT, 2, 2, 'notBreaching'],
      ['StreamThrottling', 'AWS/Kinesis', 'PutRecords.ThrottledRecords', 'Sum', 0, GT, 3, 3, 'notBreaching'],
      ['StreamSilent', 'AWS/Kinesis', 'IncomingRecords', 'Sum', 1, 'LessThanThreshold', 6, 6, 'breaching'],
      [
        'FailedBatches',
        'AWS/Lambda',
        'OnFailureDestinationDeliveredEventCount',
        'Sum',
        0,
        GT,
        1,
        1,
        'notBreaching',
      ],
      ['DroppedEvents', 'AWS/Lambda', 'DroppedEventCount', 'Sum', 0, GT, 1, 1, 'notBreaching'],
      [
        'FailedBatchDeliveryFailures',
        'AWS/Lambda',
        'DestinationDeliveryFailures',
        'Sum',
        0,
        GT,
        1,
        1,
        'notBreaching',
      ],
      [
        'CompactionMissedTicks',
        'AWS/SQS',
        'ApproximateNumberOfMessagesVisible',
        'Maximum',
        0,
        GT,
        1,
        1,
        'notBreaching',
      ],
      [
        'RollupMissedTicks',
        'AWS/SQS',
        'ApproximateNumberOfMessagesVisible',
        'Maximum',
        0,
        GT,
        1,
        1,
        'notBreaching',
      ],
      ['CompactionSilent', 'Tally', 'RunsSucceeded', 'Sum', 1, 'LessThanThreshold', 3, 3, 'breaching'],
      ['RollupSilent', 'Tally', 'RunsSucceeded', 'Sum', 1, 'LessThanThreshold', 3, 3, 'breaching'],
      ...['collect', 'lakeWriter', 'erase', 'compact', 'rollup', 'metrics'].flatMap(
        (fn): Array<[string, string, string, string, number, string, number, number, string]> => [
          [`${fn}Throttles`, 'AWS/Lambda', 'Throttles', 'Sum', 0, GT, 3, 3, 'notBreaching'],
        ],
      ),
      ...['collect', 'lakeWriter', 'erase', 'metrics'].map(
        (fn): [string, string, string, string, number, string, number, number, string] => [
          `${fn}Errors`,
          'AWS/Lambda',
          'Errors',
          'Sum',
          0,
          GT,
          3,
          3,
          'notBreaching',
        ],
      ),
      // A scheduled job's failed tick is tried again only after twice its timeout (10 and 15
      // minutes): two failures within that delay plus a run page.
      ['rollupErrors', 'AWS/Lambda', 'Errors', 'Sum', 0, GT, 7, 2, 'notBreaching'],
      ['compactErrors', 'AWS/Lambda', 'Errors', 'Sum', 0, GT, 10, 2, 'notBreaching'],
    ];
    for (const [
      name,
      namespace,
      metric,
      statistic,
      threshold,
      comparison,
      periods,
      breaching,
      missing,
    ] of expected) {
      const a = all.get(name);
      expect(a, name).toBeDefined();
      expect(a, name).toMatchObject({
        Namespace: namespace,
        MetricName: metric,
        Statistic: statistic,
        Threshold: threshold,
        ComparisonOperator: comparison,
        EvaluationPeriods: periods,
        DatapointsToAlarm: breaching,
        TreatMissingData: missing,
      });
    }
    // The heartbeats and the collector's counts are the metrics the functions publish.
    expect(all.get('RollupSilent')!.Dimensions).toEqual([{ Name: 'service', Value: 'rollup' }]);
    expect(all.get('CompactionSilent')!.Dimensions).toEqual([{ Name: 'service', Value: 'compact' }]);
    expect(all.get('CompactionSilent')!.Period).toBe(3600);
    expect(all.get('StreamRefusing')!.Dimensions).toEqual([{ Name: 'service', Value: 'collect' }]);
    // The API's error rates: a share of its requests, once there are some.
    for (const [name, metric, threshold, periods] of [
      ['Api5xx', '5xx', 1, 2],
      ['Api4xx', '4xx', 25, 3],
    ] as const) {
      const a = all.get(name)!;
      expect(a).toMatchObject({
        Threshold: threshold,
        EvaluationPeriods: periods,
        TreatMissingData: 'notBreaching',
      });
      const expression = a.Metrics!.find((m) => m.Expression)!.Expression!;
      expect(expression).toMatch(/100 \* failed \/ requests/);
      expect(
        a
          .Metrics!.map((m) => m.MetricStat?.Metric.MetricName)
          .filter(Boolean)
          .sort(),
      ).toEqual(['Count', metric].sort());
    }
    expect(all.size).toBe(expected.length + 2);
    // Without a warehouse there is no rollup to wait for.
    expect([...alarms(ingestOnly).keys()].filter((n) => /^Rollup|^rollup|^metrics/.test(n))).toEqual([]);
    withWarehouse.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    // Each project's counts a minute, by the dimension set the collector publishes them under.
    const dashboard = Object.values(
      withWarehouse.template.findResources('AWS::CloudWatch::Dashboard'),
    )[0] as {
      Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } };
    };
    const body = JSON.parse(
      dashboard.Properties.DashboardBody['Fn::Join'][1]
        .map((p) => (typeof p === 'string' ? p : 'X'))
        .join(''),
    ) as { widgets: Array<{ properties: { metrics: unknown[][] } }> };
    const expressions = body.widgets.flatMap((w) =>
      w.properties.metrics.flat().flatMap((m) => (m as { expression?: string }).expression ?? []),
    );
    expect(expressions).toEqual(
      ['EventsAccepted', 'RequestsRefused', 'RequestsOverQuota'].map(
        (metric) => `SEARCH('{Tally,project,service} MetricName="${metric}" service="collect"', 'Sum', 60)`,
      ),
    );
  });

  it('pages when no record reaches the stream for tally:silentMinutes, and not at all with 0', () => {
    const quiet = (minutes: string) =>
      alarms(synth({ 'tally:silentMinutes': minutes })).get('StreamSilent') as AlarmProps | undefined;
    expect(quiet('60')).toMatchObject({ EvaluationPeriods: 12, DatapointsToAlarm: 12, Period: 300 });
    expect(quiet('0')).toBeUndefined();
    expect(() => quiet('-5')).toThrow(/tally:silentMinutes must be an integer from 0 to 1440, got "-5"/);
  });

  it("publishes through a customer key whose policy lets CloudWatch use it (an AWS-managed key's would not)", () => {
    const topic = Object.values(withWarehouse.template.findResources('AWS::SNS::Topic'))[0] as {
      Properties: { KmsMasterKeyId: { 'Fn::GetAtt': [string, string] } };
    };
    const keyId = topic.Properties.KmsMasterKeyId['Fn::GetAtt'][0];
    const key = withWarehouse.template.findResources('AWS::KMS::Key')[keyId] as {
      Properties: { EnableKeyRotation: boolean; KeyPolicy: { Statement: Array<Record<string, unknown>> } };
    };
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
    expect(JSON.stringify(withWarehouse.template.toJSON())).not.toContain('alias/aws/sns');
  });

  it('has every alarm explained in docs/operations.md', () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const headings = new Set([...doc.matchAll(/^### (\S+)/gm)].map((m) => m[1]!.toLowerCase()));
    for (const name of alarms(withWarehouse).keys()) {
      const generic = name
        .replace(/^(collect|lakeWriter|erase|compact|rollup|metrics)(Errors|Throttles)$/, 'Function$2')
        .replace(/^(Rollup|Compaction)(MissedTicks|Silent)$/, 'Job$2');
      expect(headings, name).toContain(generic.toLowerCase());
    }
    for (const a of alarms(withWarehouse).values()) {
      expect((a as unknown as { AlarmDescription: string }).AlarmDescription).toMatch(
        /docs\/operations\.md#/,
      );
    }
  });
});

// Each case synthesizes the app and runs cfn-guard's rules: 18-31 s on an idle 2-core machine,
// over 60 s beside other suites.
/**
 * Every context setting the docs name, each in at least one variant (a test checks): each
 * variant must synthesize with cfn-guard's and cdk-nag's findings all fixed or acknowledged.
 */
const VARIANTS: Array<[string, Record<string, string>]> = [
  ['ingest only', {}],
  [
    'with the warehouse, alarms mailed and every number set',
    {
      ...WITH_STARROCKS,
      'tally:alarmEmail': 'oncall@example.com',
      'tally:allowedOrigins': 'https://app.example.com,https://www.example.com',
      'tally:throttleRate': '500',
      'tally:throttleBurst': '800',
      'tally:readThrottleRate': '20',
      'tally:readThrottleBurst': '40',
      'tally:batchSize': '5000',
      'tally:batchingWindowSeconds': '30',
      'tally:retryAttempts': '5',
      'tally:maxRecordAgeHours': '12',
      'tally:streamRetentionHours': '48',
      'tally:failedBatchRetentionDays': '14',
      'tally:badRowRetentionDays': '30',
      'tally:noncurrentVersionDays': '7',
      'tally:logRetentionDays': '14',
      'tally:rollupEveryMinutes': '10',
      'tally:silentMinutes': '45',
      'tally:compactionMemoryMb': '10240',
      'tally:projectRequestsPerSecond': '200',
      'tally:collectTracing': 'active',
      'tally:starrocksPort': '9031',
      'tally:starrocksReplicas': '1',
      'tally:starrocksDatabase': 'analytics',
      'tally:starrocksSecretKeyArn':
        'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    },
  ],
  [
    'with the warehouse in a VPC, endpoints created',
    { ...IN_VPC, 'tally:securityGroupId': 'sg-0123456789abcdef0' },
  ],
  [
    'a second stage in the same VPC, one endpoint created',
    { ...IN_VPC, 'tally:stage': 'staging', 'tally:vpcEndpoints': 'glue', 'tally:routeTableIds': '' },
  ],
  [
    // One synthesis for the tier's gates: HTTPS and the plain HTTP listener (the one with an
    // accepted finding) together; the redirect-only listener is asserted below.
    'the container tier, HTTPS and plain HTTP, its own task limits',
    {
      'tally:ingest': 'containers',
      'tally:certificateArn': CERTIFICATE,
      'tally:allowHttp': 'true',
      'tally:containerMinTasks': '3',
      'tally:containerMaxTasks': '12',
      'tally:containerRequestsPerTaskMinute': '30000',
    },
  ],
  [
    'the container tier behind a WAF, its load balancer access logs on',
    {
      'tally:ingest': 'containers',
      'tally:certificateArn': CERTIFICATE,
      'tally:albAccessLogs': 'true',
      'tally:wafRequestsPerIpMinute': '600',
      'tally:wafRequestsPerKeyMinute': '60000',
    },
  ],
  ['in a VPC through a NAT gateway', { ...IN_VPC, 'tally:vpcEgress': 'nat', 'tally:routeTableIds': '' }],
  [
    'the stream on MSK Serverless, the warehouse in the same VPC',
    { ...IN_VPC, 'tally:stream': 'kafka', 'tally:kafkaPartitions': '24' },
  ],
  [
    'the stream on an existing Kafka cluster with SASL/SCRAM',
    { ...ON_KAFKA_CLUSTER, 'tally:kafkaTopic': 'events' },
  ],
  [
    'the container tier on MSK Serverless in its own VPC',
    { 'tally:stream': 'kafka', 'tally:ingest': 'containers', 'tally:certificateArn': CERTIFICATE },
  ],
  [
    'a second stage with its own StarRocks role, a kept HMAC key, projects and lake',
    {
      ...WITH_STARROCKS,
      'tally:stage': 'staging',
      'tally:starrocksTrust': 'arn:aws:iam::123456789012:role/starrocks-nodes',
      'tally:hmacSecretArn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tally-hmac-AbCdEf',
      'tally:projectsSecretArn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tally-projects-AbCdEf',
      'tally:lakeBucketName': 'tally-lakebucket-0a1b2c3d4e5f',
    },
  ],
];

/** Where each variant's cloud assembly is kept for cfn-lint (removed when the file ends). */
const lintRoot = mkdtempSync(join(tmpdir(), 'tally-variants-'));
afterAll(() => rmSync(lintRoot, { recursive: true, force: true }));

/** cfn-lint's warnings these templates have, each with why it stays. */
const CFN_LINT_ACCEPTED: Record<string, string> = {
  W3005:
    "CDK's own DependsOn from each function to its role and the role's policy, beside the GetAtt of the role: redundant for the role, needed for the policy (a function must not run before its permissions exist).",
  W3010:
    "The container tier's VPC names its two availability zones, as CDK resolves them at synthesis for the account and region (cdk.context.json); in these tests, its placeholders.",
};

/** The cdk-nag findings (AwsSolutions, Serverless) of a synthesis that nobody suppressed. */
function nagFindings(s: Synth): string[] {
  return ['AwsSolutions-.*', 'Serverless-.*'].flatMap((pack) =>
    [
      ...s.annotations.findError('*', Match.stringLikeRegexp(pack)),
      ...s.annotations.findWarning('*', Match.stringLikeRegexp(pack)),
    ].map((f) => `${f.id}: ${String(f.entry.data).slice(0, 120)}`),
  );
}

// Each case synthesizes the app and runs cfn-guard's rules: 8-31 s each.
describe('every documented setting, through cfn-guard (Control Tower rules) and cdk-nag', {
  timeout: 180_000,
}, () => {
  it.each(VARIANTS)('finds nothing unacknowledged (%s)', (name, context) => {
    let s: Synth | undefined;
    expect(() => {
      s = synth(context, {
        guard: true,
        outdir: join(lintRoot, String(VARIANTS.findIndex(([n]) => n === name))),
      });
    }).not.toThrow();
    expect(nagFindings(s!)).toEqual([]);
  });

  // The templates of every variant above, through cfn-lint (on the machine image; CI requires it).
  it('pass cfn-lint with no error, and only the warnings listed with their reasons', (ctx) => {
    const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (cfnLint.error) {
      if (process.env.TALLY_REQUIRE_CFN_LINT)
        throw new Error(`cfn-lint is required here: ${cfnLint.error.message}`);
      console.warn('cfn-lint is not installed: the templates were not linted');
      ctx.skip();
      return;
    }
    const templates = VARIANTS.map((_, i) => join(lintRoot, String(i), 'Tally.template.json'));
    expect(templates.filter((t) => existsSync(t))).toHaveLength(VARIANTS.length);
    const run = spawnSync(
      'cfn-lint',
      ['--format', 'json', '--regions', 'eu-west-1', '--non-zero-exit-code', 'none', ...templates],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    const findings = JSON.parse(run.stdout) as Array<{
      Rule: { Id: string };
      Level: string;
      Message: string;
      Filename: string;
    }>;
    const unexplained = findings
      .filter((f) => !(f.Level === 'Warning' && f.Rule.Id in CFN_LINT_ACCEPTED))
      .map((f) => `${f.Rule.Id} ${f.Level} ${f.Filename}: ${f.Message.slice(0, 160)}`);
    expect(unexplained).toEqual([]);
    // It read the templates: CDK's redundant DependsOn is in every one.
    expect(new Set(findings.filter((f) => f.Rule.Id === 'W3005').map((f) => f.Filename)).size).toBe(
      VARIANTS.length,
    );
  });

  it('has each context key the docs name in a variant, and each read by the app', () => {
    const docs = [
      readFileSync(new URL('../../README.md', import.meta.url), 'utf8'),
      ...readdirSync(new URL('../../docs/', import.meta.url))
        .filter((f) => f.endsWith('.md'))
        .map((f) => readFileSync(new URL(`../../docs/${f}`, import.meta.url), 'utf8')),
    ].join('\n');
    const config = readFileSync(new URL('../../cdk/config.ts', import.meta.url), 'utf8');
    const documented = new Set([...docs.matchAll(/tally:([a-zA-Z]+)/g)].map((m) => m[1]!));
    const covered = new Set(VARIANTS.flatMap(([, c]) => Object.keys(c)).map((k) => k.replace(/^tally:/, '')));
    expect(documented.size).toBeGreaterThan(25);
    for (const key of documented) {
      expect(covered, key).toContain(key);
      expect(config, key).toContain(`'${key}'`);
    }
  });

  it('find nothing unacknowledged in an environment-agnostic synth (npm run synth without credentials)', () => {
    const s = synth(WITH_STARROCKS, { guard: true, agnostic: true });
    const permission = Object.values(s.template.findResources('AWS::Lambda::Permission'))[0] as {
      Properties: { SourceAccount: unknown };
    };
    expect(permission.Properties.SourceAccount).toEqual({ Ref: 'AWS::AccountId' });
  });

  it('do run: a finding nobody acknowledged stops synthesis', () => {
    expect(() => synth({}, { guard: true, extend: (stack) => new Queue(stack, 'NoDeadLetters') })).toThrow(
      /CT\.SQS\.PR\.1/,
    );
  });

  it('are met where they can be: no bucket ACL, access logs by bucket policy, account-scoped Lambda permissions', () => {
    for (const bucket of Object.values(withWarehouse.template.findResources('AWS::S3::Bucket'))) {
      expect((bucket as { Properties: Record<string, unknown> }).Properties.AccessControl).toBeUndefined();
    }
    withWarehouse.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': '123456789012' } }),
          }),
        ]),
      },
    });
    const permissions = Object.values(withWarehouse.template.findResources('AWS::Lambda::Permission'));
    expect(permissions.length).toBeGreaterThanOrEqual(2);
    for (const p of permissions) {
      expect((p as { Properties: { SourceAccount?: string } }).Properties.SourceAccount).toBe('123456789012');
    }
  });
});

describe('cdk-nag AwsSolutions and Serverless', () => {
  it.each([
    ['with the warehouse', () => withWarehouse],
    ['ingest only', () => ingestOnly],
  ])('finds nothing unsuppressed (%s)', (_, get) => {
    const { annotations } = get();
    for (const pack of ['AwsSolutions-.*', 'Serverless-.*']) {
      expect(annotations.findError('*', Match.stringLikeRegexp(pack))).toEqual([]);
      expect(annotations.findWarning('*', Match.stringLikeRegexp(pack))).toEqual([]);
    }
  });

  it('reports a finding that is not suppressed (the checks do run)', () => {
    const { annotations } = synth(
      {},
      { extend: (stack) => new Bucket(stack, 'Unlogged') && new Queue(stack, 'NoDeadLetters') },
    );
    expect(
      annotations.findError('/Tally/Unlogged/Resource', Match.stringLikeRegexp('AwsSolutions-S1')),
    ).not.toEqual([]);
    expect(
      annotations.findError(
        '/Tally/NoDeadLetters/Resource',
        Match.stringLikeRegexp('Serverless-SQSRedrivePolicy'),
      ),
    ).not.toEqual([]);
  });
});

describe('stages, what outlives the stack, and StarRocks access', () => {
  it('names the stack and the Glue database after tally:stage, so stages coexist in one account', () => {
    expect(stackName({})).toBe('Tally');
    expect(stackName({ stage: 'staging' })).toBe('Tally-staging');
    const staged = synth({ 'tally:stage': 'eu-prod' });
    staged.template.hasResourceProperties('AWS::Glue::Database', {
      DatabaseInput: { Name: 'tally_lake_eu_prod' },
    });
    staged.template.hasResourceProperties('AWS::Glue::Table', { DatabaseName: 'tally_lake_eu_prod' });
    staged.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TALLY_GLUE_DATABASE: 'tally_lake_eu_prod' }) },
    });
    expect(() => synth({ 'tally:stage': 'Prod_1' })).toThrow(
      /tally:stage must be 1-20 lower-case letters.*"Prod_1"/,
    );
  });

  it('keeps the lake and the keys when the stack is destroyed; drops the catalog, the stream and the logs, so a new deploy succeeds and nothing bills', () => {
    const kept = (type: string) =>
      Object.values(withWarehouse.template.findResources(type)).map(
        (r) => (r as { DeletionPolicy?: string }).DeletionPolicy,
      );
    // A kept Glue database of the same name would fail the next deploy; npm run partitions
    // registers the kept lake again.
    expect(kept('AWS::Glue::Database')).toEqual(['Delete']);
    expect(kept('AWS::Glue::Table')).toEqual(['Delete']);
    expect(kept('AWS::Kinesis::Stream')).toEqual(['Delete']);
    expect(new Set(kept('AWS::Logs::LogGroup'))).toEqual(new Set(['Delete']));
    expect(kept('AWS::SecretsManager::Secret')).toEqual(['Retain', 'Retain']);
    expect(new Set(kept('AWS::S3::Bucket'))).toEqual(new Set(['Retain']));
  });

  it('uses an existing HMAC key secret when given one, so a new stack keeps every user_hash', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tally-hmac-AbCdEf';
    const s = synth({ 'tally:hmacSecretArn': arn });
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TALLY_HMAC_SECRET_ARN: arn }) },
    });
    expect(() => synth({ 'tally:hmacSecretArn': 'tally-hmac' })).toThrow(
      /tally:hmacSecretArn is not such an ARN/,
    );
  });

  it('adopts a kept lake bucket and projects secret by name, so a new stack reads the old lake and keys', () => {
    // Arrange
    const bucket = 'tally-lakebucket-0a1b2c3d4e5f';
    const projects = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tally-projects-AbCdEf';

    // Act
    const s = synth({
      ...WITH_STARROCKS,
      'tally:lakeBucketName': bucket,
      'tally:projectsSecretArn': projects,
    });

    // Assert: neither is created; every function that reads them is pointed at them, the
    // policies and the Glue table name the kept bucket.
    expect(s.template.toJSON().Resources.LakeBucketD47E3D23).toBeUndefined();
    expect(
      Object.keys(s.template.findResources('AWS::S3::Bucket')).some((id) => /^LakeBucket/.test(id)),
    ).toBe(false);
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const fns = Object.values(s.template.findResources('AWS::Lambda::Function')) as Array<{
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }>;
    const lakeReaders = fns.filter((f) => 'TALLY_LAKE_BUCKET' in f.Properties.Environment.Variables);
    expect(lakeReaders.length).toBeGreaterThanOrEqual(4);
    for (const f of lakeReaders) expect(f.Properties.Environment.Variables.TALLY_LAKE_BUCKET).toBe(bucket);
    const projectReaders = fns.filter(
      (f) => 'TALLY_PROJECTS_SECRET_ARN' in f.Properties.Environment.Variables,
    );
    expect(projectReaders.length).toBeGreaterThanOrEqual(2);
    for (const f of projectReaders)
      expect(f.Properties.Environment.Variables.TALLY_PROJECTS_SECRET_ARN).toBe(projects);
    const policies = JSON.stringify(s.template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(`:s3:::${bucket}/events/*`);
    expect(policies).toContain(projects);
    s.template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        StorageDescriptor: Match.objectLike({ Location: `s3://${bucket}/events/` }),
      }),
    });
    expect(s.template.findOutputs('LakeBucket').LakeBucket!.Value).toBe(bucket);
    expect(() => synth({ 'tally:lakeBucketName': 'Tally_Lake' })).toThrow(
      /tally:lakeBucketName is not an S3 bucket name .*"Tally_Lake"/,
    );
  });

  it('gives StarRocks a read-only role on events/* and the Glue table, as an instance profile or for a principal to assume', () => {
    const outputs = withWarehouse.template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['StarRocksRoleArn', 'StarRocksInstanceProfileArn', 'StarRocksCatalogSql']),
    );
    withWarehouse.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })],
      },
    });
    const actions = actionsOf(withWarehouse, 'StarRocksRoleDefaultPolicy');
    expect(actions.filter((a) => !/^(s3:(GetObject|GetBucket|List)|glue:(Get|BatchGet))/.test(a))).toEqual(
      [],
    );
    expect(JSON.stringify(statementsOf(withWarehouse, 'StarRocksRoleDefaultPolicy'))).toContain('/events/*');
    expect(JSON.stringify(outputs.StarRocksCatalogSql)).toContain(
      '\\"aws.glue.use_instance_profile\\" = \\"true\\"',
    );

    const assumed = synth({
      ...WITH_STARROCKS,
      'tally:starrocksTrust': 'arn:aws:iam::123456789012:role/starrocks-nodes',
    });
    assumed.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({ Principal: { AWS: 'arn:aws:iam::123456789012:role/starrocks-nodes' } }),
        ],
      },
    });
    assumed.template.resourceCountIs('AWS::IAM::InstanceProfile', 0);
    expect(JSON.stringify(assumed.template.findOutputs('StarRocksCatalogSql'))).toMatch(
      /aws\.s3\.iam_role_arn.*StarRocksRole/,
    );
    ingestOnly.template.resourceCountIs('AWS::IAM::InstanceProfile', 0);
    expect(() => synth({ 'tally:starrocksTrust': 'starrocks' })).toThrow(
      /tally:starrocksTrust must be "ec2" or the ARN/,
    );
  });
});

describe('the container tier (tally:ingest=containers)', () => {
  let https: Synth;
  let http: Synth;
  beforeAll(async () => {
    https = synth({ 'tally:ingest': 'containers', 'tally:certificateArn': CERTIFICATE });
    await yieldToEventLoop();
    http = synth({
      'tally:ingest': 'containers',
      'tally:allowHttp': 'true',
      'tally:containerMinTasks': '3',
      'tally:containerMaxTasks': '12',
      'tally:containerRequestsPerTaskMinute': '30000',
    });
  }, 120_000);

  it('is not there by default: the Lambda front door alone', () => {
    ingestOnly.template.resourceCountIs('AWS::ECS::Service', 0);
    ingestOnly.template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 0);
  });

  it('puts an internet-facing ALB in front: HTTPS with the certificate, HTTP redirected; plain HTTP only when allowed', () => {
    https.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'idle_timeout.timeout_seconds', Value: '60' },
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'routing.http.desync_mitigation_mode', Value: 'defensive' },
      ]),
    });
    const listeners = (s: Synth) =>
      Object.values(s.template.findResources('AWS::ElasticLoadBalancingV2::Listener')).map(
        (l) => (l as { Properties: Record<string, unknown> }).Properties,
      );
    expect(listeners(https)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Port: 443,
          Protocol: 'HTTPS',
          Certificates: [{ CertificateArn: CERTIFICATE }],
          SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
          DefaultActions: [expect.objectContaining({ Type: 'forward' })],
        }),
        expect.objectContaining({
          Port: 80,
          Protocol: 'HTTP',
          DefaultActions: [
            expect.objectContaining({
              Type: 'redirect',
              RedirectConfig: expect.objectContaining({ Protocol: 'HTTPS', Port: '443' }),
            }),
          ],
        }),
      ]),
    );
    expect(listeners(https)).toHaveLength(2);
    expect(listeners(http)).toEqual([
      expect.objectContaining({
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [expect.objectContaining({ Type: 'forward' })],
      }),
    ]);
    expect(() => synth({ 'tally:ingest': 'containers' })).toThrow(
      'tally:ingest=containers needs context tally:certificateArn (an ACM certificate for the HTTPS listener), or tally:allowHttp=true to serve plain HTTP',
    );
    expect(() =>
      synth({ 'tally:ingest': 'containers', 'tally:allowHttp': 'true' }, { agnostic: true }),
    ).toThrow('tally:ingest=containers needs the region at synthesis');
  });

  it('writes no load balancer access log (whole URLs, write keys in them) unless tally:albAccessLogs=true, then keeps them 30 days', () => {
    const attributes = (s: Synth) =>
      JSON.stringify(s.template.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'));
    expect(attributes(https)).not.toContain('access_logs.s3.enabled');
    expect(JSON.stringify(https.template.toJSON())).not.toContain('collector-alb');
    const logged = synth({
      'tally:ingest': 'containers',
      'tally:certificateArn': CERTIFICATE,
      'tally:albAccessLogs': 'true',
    });
    expect(attributes(logged)).toMatch(/"Key":"access_logs\.s3\.enabled","Value":"true"/);
    logged.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'collector-alb/', ExpirationInDays: 30, Status: 'Enabled' }),
        ]),
      },
    });
  });

  it('checks the tasks at /ping and gives a leaving task 30 s before it is stopped', () => {
    https.template.resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 1);
    https.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080,
      Protocol: 'HTTP',
      TargetType: 'ip',
      HealthCheckPath: '/ping',
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
    });
  });

  it('runs arm64 Fargate tasks without public addresses, rolling back a failing deployment', () => {
    https.template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      PlatformVersion: 'LATEST',
      // CloudFormation would reset the service to it at every update, under load included.
      DesiredCount: Match.absent(),
      DeploymentConfiguration: Match.objectLike({
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
      }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
    });
    const task = Object.values(https.template.findResources('AWS::ECS::TaskDefinition'))[0] as {
      Properties: {
        Cpu: string;
        Memory: string;
        RuntimePlatform: unknown;
        ContainerDefinitions: Array<{
          ReadonlyRootFilesystem: boolean;
          User: string;
          StopTimeout: number;
          LogConfiguration: { LogDriver: string };
          Environment: Array<{ Name: string; Value: unknown }>;
        }>;
      };
    };
    expect(task.Properties).toMatchObject({
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
    const [container] = task.Properties.ContainerDefinitions;
    expect(container).toMatchObject({
      ReadonlyRootFilesystem: true,
      User: 'node',
      StopTimeout: 30,
      LogConfiguration: { LogDriver: 'awslogs' },
    });
    const names = container!.Environment.map((e) => e.Name).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'TALLY_STREAM_ARN',
        'TALLY_HMAC_SECRET_ARN',
        'TALLY_PROJECTS_SECRET_ARN',
        'TALLY_QUOTA_TABLE',
        'TALLY_ALLOWED_ORIGINS',
      ]),
    );
    expect(names.filter((n) => n === 'TALLY_HMAC_KEY' || n === 'TALLY_PROJECTS')).toEqual([]);
  });

  it('scales on CPU and on requests per target, between the tasks it is given', () => {
    const policies = (s: Synth) =>
      Object.values(s.template.findResources('AWS::ApplicationAutoScaling::ScalingPolicy')).map(
        (p) =>
          (
            p as {
              Properties: {
                TargetTrackingScalingPolicyConfiguration: {
                  TargetValue: number;
                  PredefinedMetricSpecification: { PredefinedMetricType: string };
                };
              };
            }
          ).Properties.TargetTrackingScalingPolicyConfiguration,
      );
    expect(
      policies(http)
        .map((p) => [p.PredefinedMetricSpecification.PredefinedMetricType, p.TargetValue])
        .sort(),
    ).toEqual([
      ['ALBRequestCountPerTarget', 30_000],
      ['ECSServiceAverageCPUUtilization', 50],
    ]);
    http.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 3,
      MaxCapacity: 12,
    });
    https.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 50,
    });
  });

  it("creates its cluster only once ECS's service-linked role exists (a new account has none), never deleting it", () => {
    const resources = https.template.toJSON().Resources as Record<
      string,
      { Type: string; DependsOn?: string[]; Properties: Record<string, unknown> }
    >;
    const [roleId, role] = Object.entries(resources).find(([, r]) => r.Type === 'Custom::ServiceLinkedRole')!;
    expect(role.Properties).toMatchObject({
      AWSServiceName: 'ecs.amazonaws.com',
      RoleName: 'AWSServiceRoleForECS',
    });
    const [, cluster] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ECS::Cluster')!;
    expect(cluster.DependsOn ?? []).toContain(roleId);
    const statements = JSON.stringify(statementsOf(https, 'IngestContainersEcsRoleFunction'));
    expect(statements).toContain('"Action":"iam:CreateServiceLinkedRole"');
    expect(statements).toContain('"Condition":{"StringEquals":{"iam:AWSServiceName":"ecs.amazonaws.com"}}');
    expect(statements).toContain('aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS');
    expect(statements).not.toContain('iam:DeleteServiceLinkedRole');
    expect(
      Object.values(ingestOnly.template.toJSON().Resources).map((r) => (r as { Type: string }).Type),
    ).not.toContain('Custom::ServiceLinkedRole');
  });

  it('starts the service only once every VPC endpoint its tasks reach AWS through exists', () => {
    const resources = https.template.toJSON().Resources as Record<
      string,
      { Type: string; DependsOn?: string[] }
    >;
    const endpoints = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::EC2::VPCEndpoint')
      .map(([id]) => id);
    const [, service] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ECS::Service')!;
    expect(endpoints).toHaveLength(7);
    for (const id of endpoints) expect(service.DependsOn ?? [], id).toContain(id);
  });

  it('puts rate rules per address and per write key in a WAF on the load balancer when asked, answering 429', () => {
    expect(Object.keys(https.template.findResources('AWS::WAFv2::WebACL'))).toHaveLength(0);
    const guarded = synth({
      'tally:ingest': 'containers',
      'tally:certificateArn': CERTIFICATE,
      'tally:wafRequestsPerIpMinute': '600',
      'tally:wafRequestsPerKeyMinute': '60000',
    });
    const acl = Object.values(guarded.template.findResources('AWS::WAFv2::WebACL'))[0] as {
      Properties: {
        Scope: string;
        DefaultAction: object;
        Rules: Array<{
          Name: string;
          Action: { Block: { CustomResponse: { ResponseCode: number } } };
          Statement: {
            RateBasedStatement: {
              Limit: number;
              EvaluationWindowSec: number;
              AggregateKeyType: string;
              CustomKeys?: object[];
            };
          };
        }>;
      };
    };
    expect(acl.Properties).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
    expect(
      acl.Properties.Rules.map((r) => [
        r.Name,
        r.Statement.RateBasedStatement.AggregateKeyType,
        r.Statement.RateBasedStatement.CustomKeys ?? null,
        r.Statement.RateBasedStatement.Limit,
        r.Statement.RateBasedStatement.EvaluationWindowSec,
        r.Action.Block.CustomResponse.ResponseCode,
      ]),
    ).toEqual([
      ['RequestsPerIp', 'IP', null, 600, 60, 429],
      [
        'RequestsPerKeyHeader',
        'CUSTOM_KEYS',
        [{ Header: { Name: 'authorization', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } }],
        60000,
        60,
        429,
      ],
      [
        'RequestsPerKeyQuery',
        'CUSTOM_KEYS',
        [{ QueryArgument: { Name: 'writeKey', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } }],
        60000,
        60,
        429,
      ],
    ]);
    guarded.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { Ref: Match.stringLikeRegexp('^IngestContainersLoadBalancer') },
    });
    expect(() =>
      synth({ 'tally:ingest': 'containers', 'tally:allowHttp': 'true', 'tally:wafRequestsPerIpMinute': '5' }),
    ).toThrow(/tally:wafRequestsPerIpMinute must be an integer from 10 to 2000000000, got "5"/);
  });

  it('lets the task put records on the stream, read the two secrets and count quotas, nothing else', () => {
    const task = Object.values(https.template.findResources('AWS::ECS::TaskDefinition'))[0] as {
      Properties: { TaskRoleArn: { 'Fn::GetAtt': [string, string] } };
    };
    const role = task.Properties.TaskRoleArn['Fn::GetAtt'][0];
    // The policy's logical id is the role's without its hash, then DefaultPolicy and its own hash.
    const statements = statementsOf(https, `${role.slice(0, -8)}DefaultPolicy`);
    const actions = statements.flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action])).sort();
    expect(actions).toEqual([
      'dynamodb:UpdateItem',
      'kinesis:PutRecord',
      'kinesis:PutRecords',
      'secretsmanager:DescribeSecret',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:GetSecretValue',
    ]);
    const resources = JSON.stringify(statements.map((st) => st.Resource));
    expect(resources).not.toContain('"*"');
    expect(resources).toContain('Stream');
    expect(resources).toContain('QuotasTable');
  });

  it('pages when its requests fail or its tasks are missing', () => {
    const alarms = Object.values(https.template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => (a as { Properties: Record<string, unknown> }).Properties,
    );
    const byName = (name: string) =>
      alarms.find((a) => JSON.stringify(a.AlarmName).includes(`-${name}`)) as {
        Threshold: number;
        ComparisonOperator: string;
        EvaluationPeriods: number;
        TreatMissingData: string;
        Metrics?: Array<{
          Expression?: string;
          MetricStat?: { Metric: { MetricName: string; Namespace: string } };
        }>;
        MetricName?: string;
        Namespace?: string;
        Statistic?: string;
      };
    const errors = byName('Collector5xx');
    expect(errors).toMatchObject({
      Threshold: 1,
      EvaluationPeriods: 2,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    // The expression evaluated on a 5-minute period, a metric with no data point as undefined.
    const expression = errors.Metrics!.find((m) => m.Expression)!.Expression!;
    const rate = (values: { requests?: number; alb?: number; tasks?: number }) =>
      new Function(
        'requests',
        'alb',
        'tasks',
        `const IF = (c, a, b) => (c ? a : b); return ${expression.replace(/FILL\((\w+), 0\)/g, '($1 ?? 0)')};`,
      )(values.requests, values.alb, values.tasks) as number;
    // No healthy task: the load balancer answers 503 itself, and RequestCount does not count them.
    expect(rate({ alb: 600 })).toBe(100);
    // Tasks failing: the load balancer's own 5xx count does not exist when it is zero.
    expect(rate({ requests: 1000, tasks: 50 })).toBe(5);
    expect(rate({ requests: 1000 })).toBe(0);
    expect(rate({ requests: 10, tasks: 10 })).toBe(0);
    expect(
      errors.Metrics!.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : [])).sort(),
    ).toEqual(['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount']);
    expect(byName('CollectorTasksMissing')).toMatchObject({
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HealthyHostCount',
      Statistic: 'Minimum',
      Threshold: 2,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
    });
    expect(alarms.filter((a) => JSON.stringify(a.AlarmName).includes('-Collector'))).toHaveLength(2);
    expect(
      Object.values(ingestOnly.template.findResources('AWS::CloudWatch::Alarm')).map((a) =>
        JSON.stringify(a),
      ),
    ).not.toContainEqual(expect.stringContaining('-Collector'));
  });

  it('builds its image from the Dockerfile in the repository', () => {
    const dockerfile = readFileSync(new URL('../../container/Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toMatch(/^FROM public\.ecr\.aws\/docker\/library\/node:24/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain('CMD ["node", "collector.cjs"]');
    const task = JSON.stringify(https.template.findResources('AWS::ECS::TaskDefinition'));
    expect(task).toMatch(/cdk-hnb659fds-container-assets/);
  });
});
