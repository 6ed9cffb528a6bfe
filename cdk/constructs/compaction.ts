import { Duration } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { grantLakeAccess } from './lake.js';
import { PipelineFunction } from './pipeline-function.js';
import { runOnSchedule } from './schedule.js';

/**
 * Parquet bytes per compacted file for a function of `memoryMb`: a group of files expands many
 * times over in memory while it is rewritten, so 1/80 of the memory, in whole MiB (128 MiB at
 * 10,240 MB, 37 MiB at the 3,008 MB a new account allows).
 */
export function compactionTargetBytes(memoryMb: number): number {
  return Math.floor(memoryMb / 80) * 1024 * 1024;
}

export interface CompactionProps {
  bucket: IBucket;
  logRetention: RetentionDays;
  /** @default 60 */
  everyMinutes?: number;
  /** Memory of the function, MB. */
  memoryMb: number;
}

/**
 * The compactor on an EventBridge schedule: rewrites each closed day's small lake files into few
 * large ones, then deletes the replaced files after a grace period. It is the only function with
 * a delete right on the lake (`events/*`, and its own pending records, which move to `done/`
 * once their inputs are gone); the lake writer and erasure can only put.
 */
export class Compaction extends Construct {
  readonly function: PipelineFunction;
  readonly missedTicks: Queue;
  readonly everyMinutes: number;

  constructor(scope: Construct, id: string, props: CompactionProps) {
    super(scope, id);
    this.everyMinutes = props.everyMinutes ?? 60;
    this.function = new PipelineFunction(this, 'Function', {
      entry: 'compact/handler.ts',
      service: 'compact',
      memorySize: props.memoryMb,
      timeout: Duration.minutes(15),
      logRetention: props.logRetention,
      environment: {
        TALLY_LAKE_BUCKET: props.bucket.bucketName,
        TALLY_COMPACTION_TARGET_BYTES: String(compactionTargetBytes(props.memoryMb)),
      },
      copyFiles: ['node_modules/parquet-wasm/node/parquet_wasm_bg.wasm'],
    });
    // Pending records move to compactions/done/ (records of the earlier layout, project=..., too).
    grantLakeAccess(props.bucket, this.function, {
      get: ['events/*', 'compactions/*', 'erasures/*'],
      put: ['events/*', 'compactions/*'],
      delete: ['events/*', 'compactions/pending/*', 'compactions/project=*'],
    });
    // One run at a time (the schedule's FIFO group): two compactors would each compact the
    // other's outputs.
    this.missedTicks = runOnSchedule(this, this.function, {
      everyMinutes: this.everyMinutes,
      description: 'Tally: compact the lake',
      job: 'compaction',
      timeout: this.function.timeout!,
    }).missedTicks;
  }
}
