import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, Stage, Token } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  type ISecurityGroup,
  type ISubnet,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  type ContainerDefinition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargatePlatformVersion,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import {
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ApplicationTargetGroup,
  DesyncMitigationMode,
  ListenerAction,
  ListenerCertificate,
  SslPolicy,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { type IGrantable, type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { HEALTH_PATH } from '../../container/server.js';
import { COUNTRY_DB_FILE, COUNTRY_DB_PACKAGE_PATH } from '../../lib/enrich/country.js';
import type { ContainerSettings } from '../config.js';
import { CollectorWaf } from './collector-waf.js';
import { BUNDLE_ALIASES, BUNDLE_BANNER, BUNDLE_IMPORT_META_URL, PROJECT_ROOT } from './pipeline-function.js';
import type { QuotaTable } from './quotas.js';
import type { PipelineSecrets } from './secrets.js';
import { ServiceLinkedRole } from './service-linked-role.js';

/**
 * Why the load balancer writes no access log unless `tally:albAccessLogs=true` (the reason both
 * cdk-nag's and cfn-guard's findings about it carry).
 */
export const ALB_ACCESS_LOGS_OFF =
  "An ALB access-log line holds the client's address and the whole URL, where browser SDKs put write keys (`/v1/projects/<key>/settings`, `?writeKey=`): off unless tally:albAccessLogs=true. The tasks log what they refuse, and the metrics count every answer.";

/** Where the load balancer's access logs go in the access-log bucket. */
const ALB_LOG_PREFIX = 'collector-alb';
/** The port the collector listens on inside the task. */
const CONTAINER_PORT = 8080;

export interface IngestContainersProps {
  settings: ContainerSettings;
  /** The Kinesis stream the tasks put records on; none when the stream is a Kafka topic (`writeToKafka`). */
  stream?: IStream;
  secrets: PipelineSecrets;
  quotas: QuotaTable;
  /** The quota of projects that set none (`tally:projectRequestsPerSecond`). */
  defaultRequestsPerSecond: number | undefined;
  /** The collector's environment besides the stream, secrets and quotas (CORS). */
  environment: Record<string, string>;
  /** Where the load balancer writes its access logs when they are on (kept 30 days under `collector-alb/`). */
  accessLogs: Bucket;
  logRetention: RetentionDays;
}

/**
 * Bundles the collector container (`container/start.ts`) into `dir/collector.cjs` (and its source
 * map): one CommonJS file for Node 24, every dependency inside.
 */
export function bundleCollector(dir: string): string {
  // esbuild is a dev dependency: only `cdk synth`/`deploy` (and the bundle tests) load it.
  const require = createRequire(import.meta.url);
  const esbuild = require('esbuild') as typeof import('esbuild');
  const outfile = join(dir, 'collector.cjs');
  esbuild.buildSync({
    entryPoints: [join(PROJECT_ROOT, 'container', 'start.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    sourcemap: true,
    logLevel: 'error',
    define: { 'import.meta.url': BUNDLE_IMPORT_META_URL },
    banner: { js: BUNDLE_BANNER },
    alias: BUNDLE_ALIASES,
  });
  return outfile;
}

/**
 * Writes the image's build context: the Dockerfile, the country database and the esbuild bundle of the collector
 * (`container/start.ts`, one CommonJS file for Node 24). Without bundling (tests that synthesize
 * only the template) the bundle is a placeholder.
 */
function imageContext(scope: Construct): string {
  // Beside the cloud assembly being written (cdk.out/ for `cdk synth`, a test's own directory).
  const dir = join(Stage.of(scope)!.outdir, 'collector-image');
  writeImageContext(dir, Stack.of(scope).bundlingRequired);
  return dir;
}

/** Writes the image's files into `dir`; without `bundle`, the bundle is a placeholder. */
export function writeImageContext(dir: string, bundle: boolean): void {
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(PROJECT_ROOT, 'container', 'Dockerfile'), join(dir, 'Dockerfile'));
  copyFileSync(join(PROJECT_ROOT, COUNTRY_DB_PACKAGE_PATH), join(dir, COUNTRY_DB_FILE));
  if (bundle) {
    bundleCollector(dir);
  } else {
    writeFileSync(join(dir, 'collector.cjs'), '// not bundled: synthesized without bundling\n');
    writeFileSync(join(dir, 'collector.cjs.map'), '{}\n');
  }
}

/**
 * The container tier (`tally:ingest=containers`): an internet-facing ALB in front of an ECS
 * service on Fargate (arm64) running the collector of `lib/ingest` in a small Node server, for
 * senders whose request rate makes API Gateway's per-request price the bill. Its own VPC: the ALB
 * in public subnets, the tasks in isolated ones without public addresses, reaching Kinesis,
 * Secrets Manager, DynamoDB, ECR and CloudWatch Logs through VPC endpoints (no NAT). The tasks
 * scale on CPU and on requests per target, roll back a failing deployment, and drain on SIGTERM
 * after the ALB deregistered them.
 */
export class IngestContainers extends Construct {
  readonly loadBalancer: ApplicationLoadBalancer;
  readonly service: FargateService;
  /** The target group the tasks are in, behind every listener. */
  readonly targetGroup: ApplicationTargetGroup;
  /** Tasks the service never goes below (what `CollectorTasksMissing` watches). */
  readonly minTasks: number;
  readonly url: string;
  /** The tier's VPC and its isolated subnets (the tasks'; an MSK cluster of the stack goes there too). */
  readonly vpc: Vpc;
  readonly isolatedSubnets: ISubnet[];
  private readonly tasksSecurityGroup: SecurityGroup;
  private readonly endpointsSecurityGroup: SecurityGroup;
  private readonly container: ContainerDefinition;
  private readonly taskRole: IRole;

  constructor(scope: Construct, id: string, props: IngestContainersProps) {
    super(scope, id);
    if (Token.isUnresolved(Stack.of(this).region)) {
      throw new Error(
        "tally:ingest=containers needs the region at synthesis (the load balancer's access-log policy names the region's Elastic Load Balancing account): run cdk with a profile or AWS_REGION set",
      );
    }
    const s = props.settings;
    this.minTasks = s.minTasks;
    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, mapPublicIpOnLaunch: false, cidrMask: 24 },
        { name: 'tasks', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 22 },
      ],
      flowLogs: { rejected: { destination: FlowLogDestination.toCloudWatchLogs(flowLogs) } },
    });
    const endpoints = new SecurityGroup(this, 'EndpointsSecurityGroup', {
      vpc,
      description: 'Tally collector tasks to the AWS service endpoints',
      allowAllOutbound: false,
    });
    const tasks = new SecurityGroup(this, 'TasksSecurityGroup', {
      vpc,
      description: 'Tally collector tasks: from the load balancer in, to the service endpoints out',
      allowAllOutbound: false,
    });
    endpoints.addIngressRule(tasks, Port.tcp(443), 'HTTPS from the collector tasks');
    this.vpc = vpc;
    this.isolatedSubnets = vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_ISOLATED }).subnets;
    this.tasksSecurityGroup = tasks;
    this.endpointsSecurityGroup = endpoints;
    // HTTPS out to anywhere, which from isolated subnets reaches only the endpoints below (their
    // route tables have no internet route; S3 and DynamoDB are gateway endpoints on them).
    tasks.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to the AWS service endpoints');
    const s3 = vpc.addGatewayEndpoint('S3', { service: GatewayVpcEndpointAwsService.S3 });
    const dynamoDb = vpc.addGatewayEndpoint('DynamoDb', { service: GatewayVpcEndpointAwsService.DYNAMODB });
    const interfaces = {
      ...(props.stream ? { Kinesis: InterfaceVpcEndpointAwsService.KINESIS_STREAMS } : {}),
      SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Ecr: InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    };
    // The tasks pull their image, read their secrets and write their logs through these: the
    // service waits for every one (a task started before them fails, and so does the deploy).
    const reached: Construct[] = [s3, dynamoDb];
    for (const [name, service] of Object.entries(interfaces)) {
      const endpoint = vpc.addInterfaceEndpoint(name, {
        service,
        securityGroups: [endpoints],
        subnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
        open: false,
      });
      reached.push(endpoint);
    }

    const cluster = new Cluster(this, 'Cluster', { vpc, containerInsightsV2: ContainerInsights.ENABLED });
    // A new account has no ECS service-linked role until its first cluster makes one, and the
    // service can fail to assume it right after: the cluster waits until it exists.
    cluster.node.addDependency(
      new ServiceLinkedRole(this, 'EcsRole', {
        service: 'ecs.amazonaws.com',
        logRetention: props.logRetention,
      }),
    );
    const task = new FargateTaskDefinition(this, 'Task', {
      cpu: 1024,
      memoryLimitMiB: 2048,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const container = task.addContainer('collect', {
      image: ContainerImage.fromAsset(imageContext(this), { platform: Platform.LINUX_ARM64 }),
      memoryLimitMiB: 2048,
      readonlyRootFilesystem: true,
      user: 'node',
      logging: LogDrivers.awsLogs({ streamPrefix: 'collect', logGroup }),
      environment: {
        ...props.environment,
        ...(props.stream ? { TALLY_STREAM_ARN: props.stream.streamArn } : {}),
        POWERTOOLS_SERVICE_NAME: 'collect',
        PORT: String(CONTAINER_PORT),
        TALLY_DRAIN_SECONDS: '25',
      },
      portMappings: [{ containerPort: CONTAINER_PORT }],
      // SIGTERM, then 30 s to drain (the server gives requests 25), then SIGKILL.
      stopTimeout: Duration.seconds(30),
    });
    // Only PutRecord(s) on the stream (or the topic's writes: writeToKafka), the two secrets, the quota counts.
    if (props.stream) {
      task.taskRole.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['kinesis:PutRecord', 'kinesis:PutRecords'],
          resources: [props.stream.streamArn],
        }),
      );
    }
    this.container = container;
    this.taskRole = task.taskRole;
    props.secrets.bind(bindable(task.taskRole, container));
    props.quotas.bind(bindable(task.taskRole, container), props.defaultRequestsPerSecond);

    // No DesiredCount: CloudFormation would set the service back to it at every update, whatever
    // autoscaling had scaled it to (under load, each deploy would drop to the minimum). A new
    // service starts with one task; registering the scalable target raises it to minTasks.
    this.service = new FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      assignPublicIp: false,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      securityGroups: [tasks],
      platformVersion: FargatePlatformVersion.LATEST,
      healthCheckGracePeriod: Duration.seconds(30),
    });
    this.service.node.addDependency(...reached);

    const albSecurityGroup = new SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Tally collector load balancer: the internet in, the tasks out',
      allowAllOutbound: false,
    });
    this.loadBalancer = new ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      securityGroup: albSecurityGroup,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      dropInvalidHeaderFields: true,
      desyncMitigationMode: DesyncMitigationMode.DEFENSIVE,
      idleTimeout: Duration.seconds(60),
    });
    if (s.accessLogs) {
      this.loadBalancer.logAccessLogs(props.accessLogs, ALB_LOG_PREFIX);
      // A line a request: at tens of thousands a second, a month is what a flood needs looking into.
      props.accessLogs.addLifecycleRule({ prefix: `${ALB_LOG_PREFIX}/`, expiration: Duration.days(30) });
    } else {
      NagSuppressions.addResourceSuppressions(this.loadBalancer, [
        { id: 'AwsSolutions-ELB2', reason: ALB_ACCESS_LOGS_OFF },
      ]);
    }
    albSecurityGroup.addEgressRule(tasks, Port.tcp(CONTAINER_PORT), 'to the collector tasks');
    tasks.addIngressRule(albSecurityGroup, Port.tcp(CONTAINER_PORT), 'from the load balancer');

    // One target group behind every listener: the health check, the scaling and the alarms see
    // all of the tasks' requests, whichever port they came in on.
    this.targetGroup = new ApplicationTargetGroup(this, 'Collect', {
      vpc,
      port: CONTAINER_PORT,
      protocol: ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: {
        path: HEALTH_PATH,
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
      // A task leaving stops getting requests, then ECS sends SIGTERM: the server drains the rest.
      deregistrationDelay: Duration.seconds(30),
    });
    const forward = { defaultTargetGroups: [this.targetGroup], open: false };
    if (s.certificateArn) {
      this.loadBalancer.addListener('Https', {
        ...forward,
        port: 443,
        protocol: ApplicationProtocol.HTTPS,
        certificates: [ListenerCertificate.fromArn(s.certificateArn)],
        sslPolicy: SslPolicy.RECOMMENDED_TLS,
      });
      albSecurityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS from SDKs anywhere');
    }
    if (s.allowHttp) {
      this.loadBalancer.addListener('Http', { ...forward, port: 80 });
      albSecurityGroup.addIngressRule(
        Peer.anyIpv4(),
        Port.tcp(80),
        'HTTP from SDKs anywhere (tally:allowHttp)',
      );
    } else {
      this.loadBalancer.addListener('HttpRedirect', {
        port: 80,
        open: false,
        defaultAction: ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
      });
      albSecurityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(80), 'HTTP from SDKs, redirected to HTTPS');
    }

    const scaling = this.service.autoScaleTaskCount({ minCapacity: s.minTasks, maxCapacity: s.maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: 50,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });
    scaling.scaleOnRequestCount('Requests', {
      requestsPerTarget: s.requestsPerTaskMinute,
      targetGroup: this.targetGroup,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });

    if (s.wafRequestsPerIpMinute !== undefined || s.wafRequestsPerKeyMinute !== undefined) {
      new CollectorWaf(this, 'Waf', {
        loadBalancerArn: this.loadBalancer.loadBalancerArn,
        requestsPerIpMinute: s.wafRequestsPerIpMinute,
        requestsPerKeyMinute: s.wafRequestsPerKeyMinute,
      });
    }

    const scheme = s.certificateArn ? 'https' : 'http';
    this.url = `${scheme}://${this.loadBalancer.loadBalancerDnsName}`;
    new CfnOutput(Stack.of(this), 'IngestUrl', {
      value: this.url,
      description:
        'Collection endpoint of the container tier: point the SDKs here (add a DNS name for the certificate)',
    });
    NagSuppressions.addResourceSuppressions(
      this,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'The execution role reads its own image (ecr:GetAuthorizationToken has no resource) and writes its log group; the task role has only PutRecord(s) on the stream, the two secrets and UpdateItem on the quota table.',
        },
        {
          id: 'AwsSolutions-EC23',
          reason:
            'The collection endpoint is public by design: SDKs in browsers and apps anywhere send to it.',
        },
        {
          id: 'AwsSolutions-ECS2',
          reason:
            'The environment holds names and ARNs only (stream, secrets, table, allowed origins); keys are read from Secrets Manager at start.',
        },
      ],
      true,
    );
  }

  /**
   * The tasks write to a Kafka topic instead of Kinesis: its environment (brokers, topic, how to
   * sign in, the region for IAM tokens), its IAM, and the brokers' port open from the tasks.
   */
  writeToKafka(kafka: KafkaTarget): void {
    for (const [key, value] of Object.entries({ ...kafka.environment, AWS_REGION: Stack.of(this).region })) {
      this.container.addEnvironment(key, value);
    }
    kafka.grantProduce(this.taskRole);
    this.tasksSecurityGroup.addEgressRule(
      kafka.clusterSecurityGroup,
      Port.tcp(kafka.port),
      'Kafka to the cluster',
    );
    kafka.clusterSecurityGroup.addIngressRule(
      this.tasksSecurityGroup,
      Port.tcp(kafka.port),
      'Kafka from the collector tasks',
    );
  }

  /** Lets other clients in the VPC (the collect function) through the tier's service endpoints. */
  allowEndpointsFrom(group: ISecurityGroup): void {
    this.endpointsSecurityGroup.addIngressRule(group, Port.tcp(443), 'HTTPS from the collect function');
  }
}

/** A task role and its container, as the constructs that bind functions expect. */
/** What the tier's tasks need to write to a Kafka topic in their VPC. */
export interface KafkaTarget {
  environment: Record<string, string>;
  grantProduce(principal: IGrantable): void;
  /** The port the brokers take clients on, and their security group. */
  port: number;
  clusterSecurityGroup: ISecurityGroup;
}

function bindable(
  role: import('aws-cdk-lib/aws-iam').IRole,
  container: import('aws-cdk-lib/aws-ecs').ContainerDefinition,
) {
  return {
    grantPrincipal: role,
    addEnvironment: (key: string, value: string) => container.addEnvironment(key, value),
  };
}
