import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import {
  HttpCodeElb,
  HttpCodeTarget,
  type IApplicationLoadBalancer,
  type IApplicationTargetGroup,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { AnyPrincipal, Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { type IQueue, Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, METRICS } from '../../lib/metrics.js';
import { TICK_RECEIVES, tickRetryDelay } from './schedule.js';

export interface MonitoringProps {
  /** An address subscribed to the alarm topic. @default none */
  alarmEmail?: string;
  api: IHttpApi;
  /** The Kinesis stream; none when the stream is a Kafka topic (its lag is the lake writer's). */
  stream?: IStream;
  /** The lake writer's event source mapping (UUID), for its event counts. */
  lakeWriterMapping: string;
  /** Every function, by name in the pipeline's words. */
  functions: Record<string, IFunction>;
  /** Each scheduled job, by job name: its missed-ticks queue, interval, service and function. */
  jobs: Record<
    string,
    { missedTicks: IQueue; everyMinutes: number; service: string; function: LambdaFunction }
  >;
  /**
   * Minutes without a record put on the stream before `StreamSilent` pages (a front door down
   * whole answers nothing, so no error rate sees it); 0: no such alarm, for a stage that is quiet.
   * @default 30
   */
  silentMinutes?: number;
  /** The container tier, when there is one: its load balancer, target group and fewest tasks. */
  containers?: {
    loadBalancer: IApplicationLoadBalancer;
    targetGroup: IApplicationTargetGroup;
    minTasks: number;
  };
}

/** One row of docs/operations.md: every alarm is made from one of these. */
interface AlarmSpec {
  name: string;
  metric: IMetric;
  threshold: number;
  comparison?: ComparisonOperator;
  /** Periods evaluated. @default 1 */
  periods?: number;
  /** Of those, how many must breach. @default all of them (in a row) */
  datapoints?: number;
  /** What no data means. @default not breaching (no traffic is not a failure) */
  missing?: TreatMissingData;
  description: string;
  /** Its section in docs/operations.md. @default the name */
  doc?: string;
}

const FIVE_MINUTES = Duration.minutes(5);

/** Records of the topic the lake writer may be behind before it pages (Kafka). */
export const KAFKA_LAG_RECORDS = 1_000_000;

/**
 * What pages a person, and why. Every alarm and its recovery go to one SNS topic, encrypted with
 * a customer-managed key whose policy lets CloudWatch publish (an AWS-managed key's policy does
 * not, and alarms to such a topic never arrive), TLS only, with an optional email subscription.
 * Alarms cover what loses data (events given up, dropped or undeliverable, the stream refusing
 * the collector), what stops it (nobody reading the stream, a scheduled job silent or its ticks
 * failing), what users see (API 5xx and 4xx rates) and what persists (function errors and
 * throttles over 15 minutes, not one blip). `docs/operations.md` says what each means and what to
 * do; a test checks that every alarm here is there.
 */
export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly topic: Topic;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.key = new Key(this, 'AlarmKey', {
      description: 'Tally: encrypts the alarm topic; CloudWatch may use it to publish alarms',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch publishes to an encrypted topic only with a key its policy names it in.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    // Grants only for AWS services acting for the account (Control Tower CT.KMS.PR.3).
    this.key.addToResourcePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
        },
      }),
    );
    this.topic = new Topic(this, 'Alarms', {
      displayName: 'Tally alarms',
      enforceSSL: true,
      masterKey: this.key,
    });
    if (props.alarmEmail) {
      this.topic.addSubscription(
        new EmailSubscription(props.alarmEmail, { deadLetterQueue: this.undelivered() }),
      );
    }
    const action = new SnsAction(this.topic);
    const add = (spec: AlarmSpec) => {
      const a = new Alarm(this, spec.name, {
        alarmName: `${Stack.of(this).stackName}-${spec.name}`,
        metric: spec.metric,
        threshold: spec.threshold,
        evaluationPeriods: spec.periods ?? 1,
        datapointsToAlarm: spec.datapoints ?? spec.periods ?? 1,
        comparisonOperator: spec.comparison ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: spec.missing ?? TreatMissingData.NOT_BREACHING,
        alarmDescription: `${spec.description} (docs/operations.md#${(spec.doc ?? spec.name).toLowerCase()})`,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };

    // The stream: read by someone, and taking what the collector puts.
    const lakeWriter = props.functions.lakeWriter;
    const readAge = props.stream
      ? props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: FIVE_MINUTES })
      : // Kafka: how many records of the topic the lake writer's group has not committed yet.
        new Metric({
          namespace: 'AWS/Lambda',
          metricName: 'OffsetLag',
          dimensionsMap: { FunctionName: lakeWriter!.functionName },
          statistic: 'Maximum',
          period: FIVE_MINUTES,
        });
    add({
      name: 'LakeWriterBehind',
      metric: readAge,
      threshold: props.stream ? 15 * 60 * 1000 : KAFKA_LAG_RECORDS,
      ...(props.stream ? {} : { periods: 3 }),
      // The event source mapping polls every shard about once a second, events or not (and a
      // Kafka mapping reports its lag as long as it runs): no data means the mapping stopped.
      missing: TreatMissingData.BREACHING,
      description: props.stream
        ? 'The lake writer is more than 15 minutes behind the stream, or nothing reads it'
        : `The lake writer's group is more than ${KAFKA_LAG_RECORDS.toLocaleString('en-US')} records behind the topic for 15 minutes, or nothing reads it`,
    });
    // One line per project: a search over the collector's per-project dimension set.
    const perProject = (metricName: string) =>
      new MathExpression({
        expression: `SEARCH('{${METRIC_NAMESPACE},project,service} MetricName="${metricName}" service="collect"', 'Sum', 60)`,
        label: metricName,
        period: Duration.minutes(1),
      });
    const collector = (name: keyof typeof METRICS) =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName: METRICS[name],
        dimensionsMap: { service: 'collect' },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });
    add({
      name: 'StreamRefusing',
      metric: collector('streamUnavailable'),
      threshold: 0,
      periods: 2,
      description:
        'The collector answered 503 stream_unavailable: the stream refused its records after retries, so clients are holding or losing events',
    });
    add({
      name: 'StreamThrottling',
      // Kafka: the produce responses in which a broker said it throttled the collector.
      metric:
        props.stream?.metricPutRecordsThrottledRecords({ statistic: 'Sum', period: FIVE_MINUTES }) ??
        collector('streamThrottled'),
      threshold: 0,
      periods: 3,
      description: props.stream
        ? 'The stream has throttled records for 15 minutes: traffic is above what it has scaled to'
        : "The Kafka brokers have throttled the collector's writes for 15 minutes: traffic is above a quota (MSK Serverless: 5 MiB/s a partition, 200 MiB/s a cluster)",
    });

    // A front door down whole: no request reaches a function, so no error rate exists to alarm
    // on; what stops is the records put on the stream (by either front door).
    const silentMinutes = props.silentMinutes ?? 30;
    if (silentMinutes > 0) {
      add({
        name: 'StreamSilent',
        metric:
          props.stream?.metricIncomingRecords({ statistic: 'Sum', period: FIVE_MINUTES }) ??
          collector('eventsAccepted'),
        threshold: 1,
        comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
        periods: Math.ceil(silentMinutes / 5),
        // No data: nothing was put at all.
        missing: TreatMissingData.BREACHING,
        description: `No record was put on the stream for ${silentMinutes} minutes: no events are arriving`,
      });
    }

    // Events given up or lost between the stream and the lake (the mapping's event counts).
    const mappingMetric = (metricName: string) =>
      new Metric({
        namespace: 'AWS/Lambda',
        metricName,
        dimensionsMap: { EventSourceMappingUUID: props.lakeWriterMapping },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });
    const failed = mappingMetric('OnFailureDestinationDeliveredEventCount');
    add({
      name: 'FailedBatches',
      metric: failed,
      threshold: 0,
      description:
        'The lake writer gave up on events and kept them in the FailedBatchesBucket: fix the cause, then npm run replay',
    });
    add({
      name: 'DroppedEvents',
      metric: mappingMetric('DroppedEventCount'),
      threshold: 0,
      description:
        'The lake writer event source mapping dropped events (past the record age or the retention)',
    });
    if (lakeWriter) {
      add({
        name: 'FailedBatchDeliveryFailures',
        metric: lakeWriter.metric('DestinationDeliveryFailures', { statistic: 'Sum', period: FIVE_MINUTES }),
        threshold: 0,
        description:
          'A batch given up could not be written to the FailedBatchesBucket: its events are lost once the stream drops them',
      });
    }

    // What the API's users see.
    const apiMetric = (metricName: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.api.apiId, Stage: '$default' },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });
    const rate = (name: string, label: string) =>
      new MathExpression({
        expression: `IF(requests >= 20, 100 * failed / requests, 0)`,
        usingMetrics: { failed: apiMetric(name), requests: apiMetric('Count') },
        label,
        period: FIVE_MINUTES,
      });
    add({
      name: 'Api5xx',
      metric: rate('5xx', 'API 5xx, % of requests'),
      threshold: 1,
      periods: 2,
      description: 'More than 1% of API requests failed with a 5xx for 10 minutes',
    });
    add({
      name: 'Api4xx',
      metric: rate('4xx', 'API 4xx, % of requests'),
      threshold: 25,
      periods: 3,
      description:
        'More than 25% of API requests were refused (4xx: throttled, bad key, bad events) for 15 minutes',
    });

    if (props.containers) {
      // The container tier: what its senders see, and whether its tasks are there.
      const { loadBalancer, targetGroup, minTasks } = props.containers;
      const sum = { statistic: 'Sum', period: FIVE_MINUTES };
      add({
        name: 'Collector5xx',
        metric: new MathExpression({
          // The load balancer's 5xx counts exist only when non-zero (FILL them), and a 503 it
          // answers with no healthy task is not in RequestCount (so it is added to it).
          expression:
            'IF(FILL(requests, 0) + FILL(alb, 0) >= 20, 100 * (FILL(alb, 0) + FILL(tasks, 0)) / (FILL(requests, 0) + FILL(alb, 0)), 0)',
          usingMetrics: {
            alb: loadBalancer.metrics.httpCodeElb(HttpCodeElb.ELB_5XX_COUNT, sum),
            tasks: targetGroup.metrics.httpCodeTarget(HttpCodeTarget.TARGET_5XX_COUNT, sum),
            requests: loadBalancer.metrics.requestCount(sum),
          },
          label: 'Collector 5xx (load balancer and tasks), % of requests',
          period: FIVE_MINUTES,
        }),
        threshold: 1,
        periods: 2,
        description: 'More than 1% of the container tier’s requests failed with a 5xx for 10 minutes',
      });
      add({
        name: 'CollectorTasksMissing',
        metric: targetGroup.metrics.healthyHostCount({ statistic: 'Minimum', period: FIVE_MINUTES }),
        threshold: minTasks,
        comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
        periods: 3,
        // No data: no healthy task reported at all.
        missing: TreatMissingData.BREACHING,
        description: `Fewer than ${minTasks} healthy collector tasks for 15 minutes`,
      });
    }

    // Scheduled jobs: ticks that failed every try, and jobs silent for three intervals.
    for (const [job, { missedTicks, everyMinutes, service }] of Object.entries(props.jobs)) {
      const title = job[0]!.toUpperCase() + job.slice(1);
      add({
        name: `${title}MissedTicks`,
        metric: missedTicks.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: 'Maximum',
        }),
        threshold: 0,
        description: `A ${job} tick failed ${TICK_RECEIVES} times and was set aside: the ${job} is failing`,
        doc: 'JobMissedTicks',
      });
      const period = Duration.minutes(Math.max(5, everyMinutes));
      add({
        name: `${title}Silent`,
        metric: new Metric({
          namespace: METRIC_NAMESPACE,
          metricName: METRICS.runsSucceeded,
          dimensionsMap: { service },
          statistic: 'Sum',
          period,
        }),
        threshold: 1,
        comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
        periods: 3,
        // A heartbeat: no data is a job that did not run.
        missing: TreatMissingData.BREACHING,
        description: `No ${job} run succeeded in 3 intervals of ${period.toMinutes()} minutes`,
        doc: 'JobSilent',
      });
    }

    const widgets: GraphWidget[] = [
      new GraphWidget({
        title: props.stream ? 'Stream read lag (ms)' : 'Topic lag (records)',
        left: [readAge],
      }),
      new GraphWidget({
        title: 'Collector: events accepted, refused; requests refused by the stream',
        left: [collector('eventsAccepted'), collector('eventsRejected'), collector('streamUnavailable')],
      }),
      new GraphWidget({
        title: 'Per project: events accepted a minute',
        left: [perProject(METRICS.eventsAccepted)],
      }),
      new GraphWidget({
        title: 'Per project: requests refused a minute (4xx/5xx), over quota',
        left: [perProject(METRICS.requestsRefused), perProject(METRICS.requestsOverQuota)],
      }),
      new GraphWidget({ title: 'Events sent to the on-failure bucket', left: [failed] }),
      new GraphWidget({
        title: 'Records put on the stream',
        left: [props.stream?.metricIncomingRecords() ?? collector('eventsAccepted')],
      }),
    ];
    const jobs = Object.values(props.jobs);
    for (const [name, fn] of Object.entries(props.functions)) {
      const errors = fn.metricErrors({ period: FIVE_MINUTES });
      const throttles = fn.metricThrottles({ period: FIVE_MINUTES });
      // Persistent, not a blip: three periods in a row. A scheduled job's failed tick comes back
      // only after its retry delay (and a run may take its whole timeout before it fails), so its
      // errors never fill periods in a row: two failures within that span page instead.
      const timeout = jobs.find((j) => j.function === fn)?.function.timeout;
      const retry = timeout && tickRetryDelay(timeout);
      const span = timeout && retry ? Math.ceil(retry.plus(timeout).toMinutes() / 5) + 1 : 3;
      add({
        name: `${name}Errors`,
        metric: errors,
        threshold: 0,
        periods: span,
        datapoints: retry ? 2 : 3,
        description: retry
          ? `The ${name} function failed twice in ${span * 5} minutes (a failed tick is tried again after ${retry.toMinutes()} minutes)`
          : `The ${name} function has failed for 15 minutes`,
        doc: 'FunctionErrors',
      });
      add({
        name: `${name}Throttles`,
        metric: throttles,
        threshold: 0,
        periods: 3,
        description: `The ${name} function has been throttled for 15 minutes (account concurrency)`,
        doc: 'FunctionThrottles',
      });
      widgets.push(
        new GraphWidget({
          title: `${name}: invocations, errors, throttles`,
          left: [fn.metricInvocations(), errors, throttles],
        }),
      );
    }
    new Dashboard(this, 'Dashboard', { widgets: [widgets] });
  }

  /** Where alarm mails that could not be delivered wait (14 days), so a bounce is visible. */
  private undelivered(): Queue {
    const queue = new Queue(this, 'UndeliveredAlarms', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Marked as a dead-letter queue (Control Tower CT.SQS.PR.1): it has none of its own.
      redriveAllowPolicy: { redrivePermission: RedrivePermission.ALLOW_ALL },
    });
    NagSuppressions.addResourceSuppressions(queue, [
      {
        id: 'Serverless-SQSRedrivePolicy',
        reason: 'This queue is the dead-letter queue of the alarm email subscription itself.',
      },
      {
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is the dead-letter queue of the alarm email subscription.',
      },
    ]);
    return queue;
  }
}
