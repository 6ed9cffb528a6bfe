import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';
import type { PipelineFunction } from './pipeline-function.js';

/** Receives of one tick before it is kept in the missed-ticks queue. */
export const TICK_RECEIVES = 3;

/** How long a tick in flight hides its group (twice the run's timeout): a failed tick's retry delay. */
export function tickRetryDelay(timeout: Duration): Duration {
  return timeout.plus(timeout);
}

/**
 * Runs `fn` every `everyMinutes`, one run at a time, on any account: EventBridge puts a tick on a
 * FIFO queue (children `Ticks`, `MissedTicks` and `Schedule` of `scope`) whose messages all share
 * one group, and Lambda reads a FIFO group one batch at a time, so two runs never overlap. No
 * reserved concurrency is needed (new accounts, with a concurrency quota of 10, cannot reserve
 * any). Ticks that pile up while a run is busy are taken together by the next run (up to 10 in one
 * invocation), which catches up on all the work anyway; a tick that failed `TICK_RECEIVES` times
 * is kept in the missed-ticks queue, where an alarm sees it.
 */
export function runOnSchedule(
  scope: Construct,
  fn: PipelineFunction,
  props: { everyMinutes: number; description: string; job: string; timeout: Duration },
): { ticks: Queue; missedTicks: Queue } {
  const missedTicks = new Queue(scope, 'MissedTicks', {
    fifo: true,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    // Marked as a dead-letter queue (Control Tower CT.SQS.PR.1): it has none of its own.
    redriveAllowPolicy: { redrivePermission: RedrivePermission.ALLOW_ALL },
  });
  NagSuppressions.addResourceSuppressions(missedTicks, [
    {
      id: 'Serverless-SQSRedrivePolicy',
      reason: `This queue is the dead-letter queue of the ${props.job} ticks; a dead-letter queue of a dead-letter queue would only move the same messages.`,
    },
    {
      id: 'AwsSolutions-SQS3',
      reason: `This queue is the dead-letter queue of the ${props.job} ticks.`,
    },
  ]);
  const ticks = new Queue(scope, 'Ticks', {
    fifo: true,
    // Each scheduled event has its own id and time: content-based deduplication keeps every tick.
    contentBasedDeduplication: true,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    // A tick in flight hides its group: twice the run's timeout, then it is tried again.
    visibilityTimeout: tickRetryDelay(props.timeout),
    retentionPeriod: Duration.days(1),
    deadLetterQueue: { queue: missedTicks, maxReceiveCount: TICK_RECEIVES },
  });
  const rule = new Rule(scope, 'Schedule', {
    description: props.description,
    schedule: Schedule.rate(Duration.minutes(props.everyMinutes)),
    targets: [new SqsQueue(ticks, { messageGroupId: props.job })],
  });
  NagSuppressions.addResourceSuppressions(rule, [
    {
      id: 'Serverless-EventBusDLQ',
      reason: `The target is the ${props.job} ticks queue; a tick EventBridge could not put there is superseded by the next, which does the same work, and the ${props.job}'s Silent alarm sees a job that gets no ticks.`,
    },
  ]);
  fn.addEventSource(new SqsEventSource(ticks, { batchSize: 10 }));
  NagSuppressions.addResourceSuppressions(
    fn,
    [
      {
        id: 'Serverless-LambdaEventSourceMappingDestination',
        reason: `An SQS event source keeps failed messages through the queue's own redrive policy (the ${props.job} missed-ticks queue), not a mapping destination.`,
      },
    ],
    true,
  );
  return { ticks, missedTicks };
}
