import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';
import type { PipelineFunction } from './pipeline-function.js';

/**
 * Runs `fn` every `everyMinutes` from EventBridge (children `MissedTicks` and `Schedule` of
 * `scope`). A tick that cannot be delivered (the one allowed run is busy past the retries) is kept
 * in the returned queue, not dropped; the next tick catches up anyway, as each run picks up all
 * the work not done yet.
 */
export function runOnSchedule(
  scope: Construct,
  fn: PipelineFunction,
  props: { everyMinutes: number; description: string; job: string },
): Queue {
  const missedTicks = new Queue(scope, 'MissedTicks', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    // Marked as a dead-letter queue (Control Tower CT.SQS.PR.1): it has none of its own.
    redriveAllowPolicy: { redrivePermission: RedrivePermission.ALLOW_ALL },
  });
  NagSuppressions.addResourceSuppressions(missedTicks, [
    {
      id: 'Serverless-SQSRedrivePolicy',
      reason: `This queue is the dead-letter queue of the ${props.job} schedule itself; a dead-letter queue of a dead-letter queue would only move the same messages.`,
    },
    {
      id: 'AwsSolutions-SQS3',
      reason: `This queue is the dead-letter queue of the ${props.job} schedule itself.`,
    },
  ]);
  new Rule(scope, 'Schedule', {
    description: props.description,
    schedule: Schedule.rate(Duration.minutes(props.everyMinutes)),
    targets: [
      new LambdaFunction(fn, {
        retryAttempts: 2,
        maxEventAge: Duration.minutes(props.everyMinutes),
        deadLetterQueue: missedTicks,
      }),
    ],
  });
  return missedTicks;
}
