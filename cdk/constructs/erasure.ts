import { Duration } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { grantLakeAccess } from './lake.js';
import { PipelineFunction } from './pipeline-function.js';
import type { PipelineSecrets } from './secrets.js';

export interface ErasureProps {
  bucket: IBucket;
  secrets: PipelineSecrets;
  logRetention: RetentionDays;
}

/**
 * The erase function, invoked by an operator with `{"project", "userIds", "anonymousIds"}`: it
 * rewrites the events and bad-row files holding those people's rows (a put over the same key:
 * no delete right), records the erasure under `erasures/` and writes a manifest so the next
 * rollup recomputes the days. It reads the HMAC keys to hash the ids it is given.
 */
export class Erasure extends Construct {
  readonly function: PipelineFunction;

  constructor(scope: Construct, id: string, props: ErasureProps) {
    super(scope, id);
    this.function = new PipelineFunction(this, 'Function', {
      entry: 'erase/handler.ts',
      service: 'erase',
      memorySize: 2048,
      timeout: Duration.minutes(15),
      logRetention: props.logRetention,
      environment: { TALLY_LAKE_BUCKET: props.bucket.bucketName },
      copyFiles: ['node_modules/parquet-wasm/node/parquet_wasm_bg.wasm'],
    });
    grantLakeAccess(props.bucket, this.function, {
      get: ['events/*', 'bad/*', 'erasures/*'],
      put: ['events/*', 'bad/*', 'erasures/*', 'manifests/*'],
    });
    props.secrets.bind(this.function);
  }
}
