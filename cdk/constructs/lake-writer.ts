import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { DlqDestinationConfig, IEventSourceDlq, IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  EventSourceMapping,
  MetricType,
  SourceAccessConfigurationType,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { type KafkaStream, LAKE_WRITER_GROUP } from './kafka-stream.js';
import { grantLakeAccess } from './lake.js';
import { PipelineFunction } from './pipeline-function.js';

export interface LakeWriterProps {
  /** The Kinesis stream it reads, or the Kafka topic. */
  stream?: IStream;
  kafka?: KafkaStream;
  bucket: IBucket;
  batchSize: number;
  batchingWindowSeconds: number;
  retryAttempts: number;
  maxRecordAgeHours: number;
  /** Days a failed batch is kept in the on-failure bucket. */
  failedBatchRetentionDays: number;
  accessLogs: Bucket;
  logRetention: RetentionDays;
}

/**
 * An S3 on-failure destination with least privilege: CDK's S3OnFailureDestination grants the
 * function read, write and delete on the bucket; Lambda needs only s3:PutObject and
 * s3:ListBucket on it (AWS: "Retain discarded batch records").
 */
class FailedBatchBucket implements IEventSourceDlq {
  constructor(private readonly bucket: Bucket) {}
  bind(_mapping: unknown, fn: IFunction): DlqDestinationConfig {
    this.bucket.grantPut(fn);
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    return { destination: this.bucket.bucketArn };
  }
}

/**
 * Stream to lake: the lake-writer function on an event source mapping with partial batch
 * responses, bisection on error, bounded retries and record age, one batch per shard at a time,
 * and an S3 on-failure destination: a batch given up is kept with its records (an SQS or SNS
 * destination would get metadata only, and the records would live on only for the stream's
 * retention), ready for `npm run replay`.
 * It may only put objects: `grantPut`, not `grantWrite`, which would add delete; it reads the
 * erasure records.
 */
export class LakeWriter extends Construct {
  readonly function: PipelineFunction;
  readonly failures: Bucket;
  /** The event source mapping, for its metrics. */
  readonly mappingId: string;

  constructor(scope: Construct, id: string, props: LakeWriterProps) {
    super(scope, id);
    this.function = new PipelineFunction(this, 'Function', {
      entry: 'lake-writer/handler.ts',
      service: 'lake-writer',
      memorySize: 2048,
      timeout: Duration.minutes(5),
      logRetention: props.logRetention,
      environment: { TALLY_LAKE_BUCKET: props.bucket.bucketName },
      copyFiles: ['node_modules/parquet-wasm/node/parquet_wasm_bg.wasm'],
    });
    // What it writes, and nowhere else (not erasures/ or compactions/); erasure records it reads:
    // rows of erased people received before the erasure are kept out of the lake.
    grantLakeAccess(props.bucket, this.function, {
      put: ['events/*', 'bad/*', 'manifests/*'],
      get: ['erasures/*'],
    });
    this.failures = new Bucket(this, 'FailedBatches', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'failed-batches/',
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          expiration: Duration.days(props.failedBatchRetentionDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    const onFailure = new FailedBatchBucket(this.failures);
    if (props.kafka) {
      this.mappingId = this.readKafka(props.kafka, props, onFailure);
      return;
    }
    const source = new KinesisEventSource(props.stream!, {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize,
      maxBatchingWindow: Duration.seconds(props.batchingWindowSeconds),
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: props.retryAttempts,
      maxRecordAge: Duration.hours(props.maxRecordAgeHours),
      parallelizationFactor: 1,
      onFailure,
      // Counts of events delivered, dropped and sent to the on-failure destination.
      metricsConfig: { metrics: [MetricType.EVENT_COUNT] },
    });
    this.function.addEventSource(source);
    this.mappingId = source.eventSourceMappingId;
  }

  /**
   * The Kafka event source mapping: the same batch, retry, record-age and S3 on-failure settings
   * as Kinesis' (Kafka mappings take them in provisioned mode only, so one poller at least runs),
   * a named consumer group (IAM names it), no partial batch responses: a delivery fails or
   * succeeds whole, and its offsets are committed only then (the function fails a delivery whose
   * partitions it could not all write).
   */
  private readKafka(kafka: KafkaStream, props: LakeWriterProps, onFailure: FailedBatchBucket): string {
    kafka.grantConsume(this.function);
    const network = kafka.network;
    const mapping = new EventSourceMapping(this, 'KafkaMapping', {
      target: this.function,
      kafkaTopic: kafka.topic,
      kafkaConsumerGroupId: LAKE_WRITER_GROUP,
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize,
      maxBatchingWindow: Duration.seconds(props.batchingWindowSeconds),
      bisectBatchOnError: true,
      retryAttempts: props.retryAttempts,
      maxRecordAge: Duration.hours(props.maxRecordAgeHours),
      provisionedPollerConfig: { minimumPollers: 1, maximumPollers: Math.max(2, kafka.settings.partitions) },
      onFailure,
      metricsConfig: { metrics: [MetricType.EVENT_COUNT, MetricType.ERROR_COUNT, MetricType.KAFKA_METRICS] },
      ...(kafka.clusterArn
        ? { eventSourceArn: kafka.clusterArn }
        : {
            kafkaBootstrapServers: kafka.bootstrapServers!,
            sourceAccessConfigurations: [
              { type: SourceAccessConfigurationType.SASL_SCRAM_512_AUTH, uri: kafka.secret!.secretArn },
              ...(network
                ? [
                    ...network.vpcSubnets.subnets.map((s) => ({
                      type: SourceAccessConfigurationType.VPC_SUBNET,
                      uri: `subnet:${s.subnetId}`,
                    })),
                    ...network.securityGroups.map((g) => ({
                      type: SourceAccessConfigurationType.VPC_SECURITY_GROUP,
                      uri: `security_group:${g.securityGroupId}`,
                    })),
                  ]
                : []),
            ],
          }),
    });
    mapping.node.addDependency(kafka);
    return mapping.eventSourceMappingId;
  }
}
