import { Match } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
    // The dead-letter queues of the rollup and compaction schedules only.
    withWarehouse.template.resourceCountIs('AWS::SQS::Queue', 2);
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

  it('runs hourly, one run at a time, with missed ticks kept', () => {
    withWarehouse.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CompactionFunction'), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CompactionMissedTicks'), 'Arn'] },
          },
        }),
      ],
    });
    withWarehouse.template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      ReservedConcurrentExecutions: 1,
      MemorySize: 10240,
      Environment: {
        Variables: Match.objectLike({ TALLY_COMPACTION_TARGET_BYTES: String(128 * 1024 * 1024) }),
      },
    });
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
        (a) => !/^(kinesis:PutRecords?|secretsmanager:(GetSecretValue|DescribeSecret)|xray:.*)$/.test(a),
      ),
    ).toEqual([]);
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
  it('runs Node.js 24 on arm64 with tracing', () => {
    const fns = Object.values(withWarehouse.template.findResources('AWS::Lambda::Function')) as Array<{
      Properties: Record<string, unknown>;
    }>;
    expect(fns).toHaveLength(6);
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
      });
    }
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
      expect.arrayContaining(['s3:GetObject*']),
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

  it('give the rollup and the metrics function the duplicate window, 24 h unless set', () => {
    const functions = (s: Synth) =>
      Object.values(s.template.findResources('AWS::Lambda::Function')).map(
        (f) => (f as { Properties: { Environment?: { Variables?: Record<string, string> } } }).Properties,
      );
    const windows = (s: Synth) =>
      functions(s)
        .map((p) => p.Environment?.Variables?.TALLY_DEDUP_WINDOW_HOURS)
        .filter((w) => w !== undefined);
    expect(windows(withWarehouse)).toEqual(['24', '24']);
    expect(windows(synth({ ...WITH_STARROCKS, 'tally:dedupWindowHours': '48' }))).toEqual(['48', '48']);
    expect(() => synth({ ...WITH_STARROCKS, 'tally:dedupWindowHours': '0' })).toThrow(
      /tally:dedupWindowHours must be an integer from 1 to 720, got "0"/,
    );
  });

  it('give the rollup no write to the lake', () => {
    const actions = actionsOf(withWarehouse, 'WarehouseRollupServiceRoleDefaultPolicy');
    expect(actions.filter((a) => /^s3:(Put|Delete|Abort)/.test(a) || a === 's3:*')).toEqual([]);
    expect(actions).toEqual(expect.arrayContaining(['glue:BatchCreatePartition']));
  });

  it('run in the VPC when one is given, with the endpoints they need to reach AWS without a NAT', () => {
    const s = synth({ ...IN_VPC, 'tally:securityGroupId': 'sg-0123456789abcdef0' }, { guard: true });
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
  }, 180_000); // a synth with cfn-guard: 31 s idle

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

  it('run the rollup one at a time, keeping undeliverable ticks in a dead-letter queue', () => {
    withWarehouse.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'rollup' }) },
      ReservedConcurrentExecutions: 1,
    });
    withWarehouse.template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WarehouseMissedTicks'), 'Arn'] },
          },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
        }),
      ],
    });
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

describe('monitoring', () => {
  it("alarms on iterator age, events given up or dropped, failed-batch delivery, and every function's errors and throttles", () => {
    withWarehouse.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 900000,
    });
    for (const metric of ['OnFailureDestinationDeliveredEventCount', 'DroppedEventCount']) {
      withWarehouse.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'EventSourceMappingUUID', Value: Match.anyValue() }],
        Threshold: 0,
      });
    }
    withWarehouse.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DestinationDeliveryFailures',
      Threshold: 0,
    });
    withWarehouse.template.resourceCountIs('AWS::CloudWatch::Alarm', 4 + 6 * 2);
    withWarehouse.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

// Each case synthesizes the app and runs cfn-guard's rules: 18-31 s on an idle 2-core machine,
// over 60 s beside other suites.
describe('AWS Control Tower proactive rules (cfn-guard)', { timeout: 180_000 }, () => {
  it.each([
    ['with the warehouse', WITH_STARROCKS],
    ['ingest only', {}],
    ['with the warehouse in a VPC', IN_VPC],
    [
      'a second stage with its own StarRocks role',
      {
        ...WITH_STARROCKS,
        'tally:stage': 'staging',
        'tally:starrocksTrust': 'arn:aws:iam::123456789012:role/starrocks-nodes',
      },
    ],
  ])('find nothing unacknowledged (%s)', (_, context) => {
    expect(() => synth(context, { guard: true })).not.toThrow();
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
    expect(permissions.length).toBeGreaterThan(10);
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

  it('keeps the lake, its catalog and the keys when the stack is destroyed', () => {
    const kept = (type: string) =>
      Object.values(withWarehouse.template.findResources(type)).map(
        (r) => (r as { DeletionPolicy?: string }).DeletionPolicy,
      );
    expect(kept('AWS::Glue::Database')).toEqual(['Retain']);
    expect(kept('AWS::Glue::Table')).toEqual(['Retain']);
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
