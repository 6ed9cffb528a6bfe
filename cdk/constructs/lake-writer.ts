import { Duration } from 'aws-cdk-lib';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { PipelineFunction } from './pipeline-function.js';

export interface LakeWriterProps {
  stream: IStream;
  bucket: Bucket;
  batchSize: number;
  batchingWindowSeconds: number;
  retryAttempts: number;
  maxRecordAgeHours: number;
  logRetention: RetentionDays;
}

/**
 * Stream to lake: the lake-writer function on an event source mapping with partial batch
 * responses, bisection on error, bounded retries and record age, one batch per shard at a time,
 * and an SQS on-failure destination (so nothing is silently discarded, unlike CDK's defaults).
 * It may only put objects: `grantPut`, not `grantWrite`, which would add delete; it reads the
 * erasure records.
 */
export class LakeWriter extends Construct {
  readonly function: PipelineFunction;
  readonly failures: Queue;

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
    props.bucket.grantPut(this.function);
    // Erasures: rows of erased people received before the erasure are kept out of the lake.
    props.bucket.grantRead(this.function, 'erasures/*');
    this.failures = new Queue(this, 'Failures', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.failures, [
      {
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is the on-failure destination of the lake writer itself; it needs no dead-letter queue.',
      },
    ]);
    this.function.addEventSource(
      new KinesisEventSource(props.stream, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: props.batchSize,
        maxBatchingWindow: Duration.seconds(props.batchingWindowSeconds),
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: props.retryAttempts,
        maxRecordAge: Duration.hours(props.maxRecordAgeHours),
        parallelizationFactor: 1,
        onFailure: new SqsDlq(this.failures),
      }),
    );
  }
}
