import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Alias } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface MonitoringProps {
  /** An address subscribed to the alarm topic. @default none */
  alarmEmail?: string;
  stream: IStream;
  lakeWriter: IFunction;
  /** The lake writer's event source mapping (UUID), for its event counts. */
  lakeWriterMapping: string;
  /** Every function, by name in the pipeline's words. */
  functions: Record<string, IFunction>;
}

/**
 * Alarms on what loses or delays data: the lake writer falling behind (iterator age), events
 * sent to the on-failure bucket or dropped, failures to reach that bucket, function errors and
 * throttles; every alarm and its recovery go to
 * one SNS topic (TLS-only, encrypted), with an optional email subscription; and one dashboard.
 */
export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Alarms', {
      displayName: 'Tally alarms',
      enforceSSL: true,
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);
    const alarm = (name: string, metric: IMetric, threshold: number, description: string) => {
      const a = new Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };
    const iteratorAge = props.lakeWriter.metric('IteratorAge', {
      statistic: 'Maximum',
      period: Duration.minutes(5),
    });
    alarm(
      'IteratorAge',
      iteratorAge,
      15 * 60 * 1000,
      'The lake writer is more than 15 minutes behind the stream',
    );
    // Event source mapping metrics (MetricsConfig EventCount), by mapping UUID.
    const mappingMetric = (metricName: string) =>
      new Metric({
        namespace: 'AWS/Lambda',
        metricName,
        dimensionsMap: { EventSourceMappingUUID: props.lakeWriterMapping },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    const failed = mappingMetric('OnFailureDestinationDeliveredEventCount');
    alarm(
      'FailedBatches',
      failed,
      0,
      'The lake writer gave up on events and kept them in the FailedBatchesBucket: fix the cause, then npm run replay',
    );
    alarm(
      'DroppedEvents',
      mappingMetric('DroppedEventCount'),
      0,
      'The lake writer event source mapping dropped events (past the record age or the retention)',
    );
    alarm(
      'FailedBatchDeliveryFailures',
      props.lakeWriter.metric('DestinationDeliveryFailures', {
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      0,
      'A batch given up could not be written to the FailedBatchesBucket: its events are lost once the stream drops them',
    );
    const widgets: GraphWidget[] = [
      new GraphWidget({ title: 'Lake writer iterator age (ms)', left: [iteratorAge] }),
      new GraphWidget({ title: 'Events sent to the on-failure bucket', left: [failed] }),
      new GraphWidget({ title: 'Records put on the stream', left: [props.stream.metricIncomingRecords()] }),
    ];
    for (const [name, fn] of Object.entries(props.functions)) {
      const errors = fn.metricErrors({ period: Duration.minutes(5) });
      const throttles = fn.metricThrottles({ period: Duration.minutes(5) });
      alarm(`${name}Errors`, errors, 0, `The ${name} function failed`);
      alarm(`${name}Throttles`, throttles, 0, `The ${name} function was throttled`);
      widgets.push(
        new GraphWidget({
          title: `${name}: invocations, errors, throttles`,
          left: [fn.metricInvocations(), errors, throttles],
        }),
      );
    }
    new Dashboard(this, 'Dashboard', { widgets: [widgets] });
  }
}
