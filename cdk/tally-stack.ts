import { Aspects, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';
import { COUNTRY_DB_FILE, COUNTRY_DB_PACKAGE_PATH } from '../lib/enrich/country.js';
import type { TallySettings } from './config.js';
import { Compaction } from './constructs/compaction.js';
import { Erasure } from './constructs/erasure.js';
import { IngestApi } from './constructs/ingest-api.js';
import { IngestContainers } from './constructs/ingest-containers.js';
import { KafkaStream } from './constructs/kafka-stream.js';
import { Lake } from './constructs/lake.js';
import { LakeWriter } from './constructs/lake-writer.js';
import { Monitoring, type MonitoringProps } from './constructs/monitoring.js';
import { PipelineFunction } from './constructs/pipeline-function.js';
import { QuotaTable } from './constructs/quotas.js';
import { PipelineSecrets } from './constructs/secrets.js';
import { StarRocksAccess } from './constructs/starrocks-access.js';
import { WAREHOUSE_ENDPOINTS, WarehouseJobs } from './constructs/warehouse-jobs.js';
import { PermissionSourceAccount, suppressWithReasons } from './nag.js';

export interface TallyStackProps extends StackProps {
  settings: TallySettings;
}

/** Log retention in days as CDK's enum (which only has fixed values). */
function retention(days: number): RetentionDays {
  const allowed = Object.values(RetentionDays)
    .filter((v): v is number => typeof v === 'number' && v > 0)
    .sort((a, b) => a - b);
  return (allowed.find((v) => v >= days) ?? RetentionDays.TEN_YEARS) as RetentionDays;
}

/** The whole pipeline: collect -> stream -> lake writer -> lake (+ Glue) -> warehouse jobs -> metrics. */
export class TallyStack extends Stack {
  constructor(scope: Construct, id: string, props: TallyStackProps) {
    super(scope, id, props);
    const s = props.settings;
    const logRetention = retention(s.logRetentionDays);
    const secrets = new PipelineSecrets(this, 'Secrets', {
      hmacSecretArn: s.hmacSecretArn,
      projectsSecretArn: s.projectsSecretArn,
    });
    const quotas = new QuotaTable(this, 'Quotas');
    // The stream: Kinesis, or a topic on Kafka (below).
    const stream = s.kafka
      ? undefined
      : new Stream(this, 'Stream', {
          streamMode: StreamMode.ON_DEMAND,
          encryption: StreamEncryption.MANAGED,
          retentionPeriod: Duration.hours(s.streamRetentionHours),
          // Destroying the stack stops its bill; what the stream still held is in the lake already
          // unless the lake writer was failing (then its FailedBatchesBucket, which stays, holds it).
          removalPolicy: RemovalPolicy.DESTROY,
        });
    const lake = new Lake(this, 'Lake', {
      stage: s.stage,
      badRowRetentionDays: s.badRowRetentionDays,
      noncurrentVersionDays: s.noncurrentVersionDays,
      bucketName: s.lakeBucketName,
    });
    const containers = !s.containers
      ? undefined
      : new IngestContainers(this, 'IngestContainers', {
          settings: s.containers,
          ...(stream ? { stream } : {}),
          secrets,
          quotas,
          defaultRequestsPerSecond: s.projectRequestsPerSecond,
          environment: { TALLY_ALLOWED_ORIGINS: s.allowedOrigins.join(',') || '*' },
          accessLogs: lake.accessLogs,
          logRetention,
        });
    // A Kafka topic: an MSK Serverless cluster, or an existing cluster's.
    const kafka = s.kafka
      ? new KafkaStream(this, 'Kafka', {
          settings: s.kafka,
          // With the container tier, the cluster and its clients are in the tier's VPC.
          vpc: s.containers ? null : s.vpc,
          ...(containers ? { ownVpc: { vpc: containers.vpc, subnets: containers.isolatedSubnets } } : {}),
          retentionHours: s.streamRetentionHours,
          endpointsMadeElsewhere:
            s.starRocks && s.vpc ? s.vpc.endpoints.filter((n) => WAREHOUSE_ENDPOINTS.includes(n)) : [],
          stage: s.stage,
          logRetention,
        })
      : undefined;

    const collect = new PipelineFunction(this, 'Collect', {
      entry: 'collect/handler.ts',
      service: 'collect',
      memorySize: 1024,
      timeout: Duration.seconds(30),
      logRetention,
      tracing: s.collectTracing,
      // The country database ships beside the bundle (`/var/task`, the function's directory).
      environment: {
        ...(kafka ? kafka.collectorEnvironment() : { TALLY_STREAM_ARN: stream!.streamArn }),
        TALLY_COUNTRY_DB: `/var/task/${COUNTRY_DB_FILE}`,
      },
      copyFiles: [COUNTRY_DB_PACKAGE_PATH],
      // In the cluster's VPC when the stream is a topic there.
      ...(kafka?.network ?? {}),
    });
    if (kafka) {
      kafka.grantProduce(collect);
      if (containers) {
        containers.writeToKafka(kafka.target());
        // The collect function in the tier's VPC reads its secrets through the tier's endpoint.
        for (const group of kafka.network!.securityGroups) containers.allowEndpointsFrom(group);
      }
    } else {
      // Only PutRecord(s): grantWrite would add ListShards and DescribeStreamSummary too.
      collect.addToRolePolicy(
        new PolicyStatement({
          actions: ['kinesis:PutRecord', 'kinesis:PutRecords'],
          resources: [stream!.streamArn],
        }),
      );
    }
    secrets.bind(collect);
    quotas.bind(collect, s.projectRequestsPerSecond);
    if (s.collectTracing === 'passthrough') {
      NagSuppressions.addResourceSuppressions(collect, [
        {
          id: 'Serverless-LambdaTracing',
          reason:
            'Lambda samples active tracing at a rate nobody can lower (1 request a second and 5% of the rest: ~$22 a day at 1,000 requests a second) on the function that takes every request; tally:collectTracing=active turns it on.',
        },
      ]);
    }

    const ingest = new IngestApi(this, 'Ingest', {
      collect,
      allowedOrigins: s.allowedOrigins,
      throttleRate: s.throttleRate,
      throttleBurst: s.throttleBurst,
      readThrottleRate: s.readThrottleRate,
      readThrottleBurst: s.readThrottleBurst,
      logRetention,
    });
    const lakeWriter = new LakeWriter(this, 'LakeWriter', {
      ...(kafka ? { kafka } : { stream: stream! }),
      bucket: lake.bucket,
      batchSize: s.batchSize,
      batchingWindowSeconds: s.batchingWindowSeconds,
      retryAttempts: s.retryAttempts,
      maxRecordAgeHours: s.maxRecordAgeHours,
      failedBatchRetentionDays: s.failedBatchRetentionDays,
      accessLogs: lake.accessLogs,
      logRetention,
    });
    lake.grantRegisterPartitions(lakeWriter.function);
    const erasure = new Erasure(this, 'Erasure', { bucket: lake.bucket, secrets, logRetention });
    const compaction = new Compaction(this, 'Compaction', {
      bucket: lake.bucket,
      logRetention,
      memoryMb: s.compactionMemoryMb,
    });
    const jobs: MonitoringProps['jobs'] = {
      compaction: {
        missedTicks: compaction.missedTicks,
        everyMinutes: compaction.everyMinutes,
        service: 'compact',
        function: compaction.function,
      },
    };
    const functions: Record<string, PipelineFunction> = {
      collect,
      lakeWriter: lakeWriter.function,
      erase: erasure.function,
      compact: compaction.function,
    };
    if (s.starRocks) {
      const warehouse = new WarehouseJobs(this, 'Warehouse', {
        starRocks: s.starRocks,
        vpc: s.vpc,
        bucket: lake.bucket,
        glue: lake,
        secrets,
        rollupEveryMinutes: s.rollupEveryMinutes,
        logRetention,
      });
      ingest.addMetrics(warehouse.metrics);
      // The Kafka clients reach AWS through the endpoints the warehouse jobs made in the same VPC.
      if (kafka && !containers) for (const endpoint of warehouse.interfaceEndpoints) kafka.allowTo(endpoint);
      functions.rollup = warehouse.rollup;
      functions.metrics = warehouse.metrics;
      jobs.rollup = {
        missedTicks: warehouse.missedTicks,
        everyMinutes: s.rollupEveryMinutes,
        service: 'rollup',
        function: warehouse.rollup,
      };
    }
    const monitoring = new Monitoring(this, 'Monitoring', {
      alarmEmail: s.alarmEmail,
      api: ingest.api,
      ...(stream ? { stream } : {}),
      lakeWriterMapping: lakeWriter.mappingId,
      functions,
      jobs,
      silentMinutes: s.silentMinutes,
      ...(containers ? { containers } : {}),
    });

    new CfnOutput(this, 'ApiUrl', {
      value: ingest.api.apiEndpoint,
      description: 'Send events to <ApiUrl>/v1/batch',
    });
    new CfnOutput(this, 'LakeBucket', { value: lake.bucket.bucketName });
    if (stream) new CfnOutput(this, 'StreamName', { value: stream.streamName });
    if (kafka) {
      new CfnOutput(this, 'KafkaTopic', { value: kafka.topic, description: 'The events topic' });
      new CfnOutput(this, 'KafkaBrokers', { value: kafka.brokers, description: 'Its bootstrap brokers' });
    }
    new CfnOutput(this, 'ProjectsSecret', {
      value: secrets.projects.secretArn,
      description: 'Add projects here (see docs/deploy.md, Projects and keys)',
    });
    new CfnOutput(this, 'FailedBatchesBucket', {
      value: lakeWriter.failures.bucketName,
      description: 'Batches the lake writer gave up, records included: npm run replay -- --bucket <this>',
    });
    new CfnOutput(this, 'AlarmTopic', {
      value: monitoring.topic.topicArn,
      description: 'Every alarm goes here: subscribe an email, chat or pager (or set tally:alarmEmail)',
    });
    new CfnOutput(this, 'EraseFunction', {
      value: erasure.function.functionName,
      description:
        'Erase people: aws lambda invoke with {"project", "userIds", "anonymousIds"} (see docs/privacy.md)',
    });
    if (s.starRocksTrust) {
      const access = new StarRocksAccess(this, 'StarRocks', { lake, trust: s.starRocksTrust });
      // The rollup's FILES() reads of the lake go as that role, like the catalog's.
      if (s.starRocksTrust !== 'ec2')
        functions.rollup?.addEnvironment('TALLY_STARROCKS_S3_ROLE_ARN', access.role.roleArn);
    }
    suppressWithReasons(this, { lakeBucketName: s.lakeBucketName });
    Aspects.of(this).add(new PermissionSourceAccount());
  }
}
