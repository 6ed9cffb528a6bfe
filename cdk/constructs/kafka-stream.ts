import { CustomResource, Duration, Fn, Stack } from 'aws-cdk-lib';
import {
  GatewayVpcEndpoint,
  GatewayVpcEndpointAwsService,
  type InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  type ISecurityGroup,
  type ISubnet,
  type IVpc,
  Port,
  SecurityGroup,
} from 'aws-cdk-lib/aws-ec2';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnServerlessCluster } from 'aws-cdk-lib/aws-msk';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { KafkaSettings, VpcEndpointName, VpcSettings } from '../config.js';
import type { KafkaTarget } from './ingest-containers.js';
import { PipelineFunction } from './pipeline-function.js';
import { importVpc, privateInterfaceEndpoint, routedSubnets } from './vpc.js';

export interface KafkaStreamProps {
  settings: KafkaSettings;
  /** The VPC of `tally:vpcId`, where the cluster and its clients go. */
  vpc: VpcSettings | null;
  /**
   * Or a VPC the stack made (the container tier's), whose subnets the cluster and its clients use;
   * it has its S3, DynamoDB and Secrets Manager endpoints already.
   */
  ownVpc?: { vpc: IVpc; subnets: ISubnet[] };
  /** Hours the topic keeps records. */
  retentionHours: number;
  /** The endpoints another construct creates in the same VPC (the warehouse jobs'): not made twice. */
  endpointsMadeElsewhere: readonly VpcEndpointName[];
  stage?: string;
  logRetention: RetentionDays;
}

/** The interface endpoints the Kafka variant's functions and pollers may need, by their names in `tally:vpcEndpoints`. */
const INTERFACE_ENDPOINTS: Array<[VpcEndpointName, string, InterfaceVpcEndpointAwsService]> = [
  ['secretsmanager', 'SecretsManagerEndpoint', InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
  ['lambda', 'LambdaEndpoint', InterfaceVpcEndpointAwsService.LAMBDA],
  ['sts', 'StsEndpoint', InterfaceVpcEndpointAwsService.STS],
  ['kafka', 'MskEndpoint', InterfaceVpcEndpointAwsService.KAFKA],
];

/** The port of an MSK cluster's brokers for IAM-authenticated clients (TLS). */
const MSK_IAM_PORT = 9098;

/** The consumer group of the lake writer's event source mapping (named, so IAM can name it). */
export const LAKE_WRITER_GROUP = 'tally-lake-writer';

/** Where a function runs to reach the cluster: the VPC, its subnets and the clients' group. */
export interface KafkaNetwork {
  vpc: IVpc;
  vpcSubnets: { subnets: ISubnet[] };
  securityGroups: ISecurityGroup[];
}

/**
 * The stream on Kafka: an Amazon MSK Serverless cluster in the VPC (IAM authentication, TLS), or
 * an existing cluster's brokers (SASL/SCRAM-SHA-512 over TLS with the given secret); the events
 * topic, made by a custom resource at deploy (partitions, retention, append-time stamps); what
 * the collector needs to write to it and the lake writer to read it, and nothing more: IAM on the
 * cluster, the topic and the lake writer's group only.
 */
export class KafkaStream extends Construct {
  readonly topic: string;
  /** The MSK Serverless cluster's ARN, when the stack made one. */
  readonly clusterArn?: string;
  readonly bootstrapServers?: string[];
  readonly secret?: ISecret;
  /** The brokers the collector connects to (the topic resource answers an MSK cluster's). */
  readonly brokers: string;
  /** Where the collector and the topic function run (none for an existing cluster outside a VPC). */
  readonly network?: KafkaNetwork;
  /** The cluster's security group (the event source mapping's pollers use it too). */
  readonly clusterSecurityGroup?: SecurityGroup;
  readonly settings: KafkaSettings;
  /** The endpoints made here: the topic is made once they answer. */
  private readonly made: Construct[] = [];

  constructor(scope: Construct, id: string, props: KafkaStreamProps) {
    super(scope, id);
    this.settings = props.settings;
    this.topic = props.settings.topic;
    if (props.ownVpc) this.network = this.clientsIn(props.ownVpc.vpc, props.ownVpc.subnets);
    else if (props.vpc) this.network = this.attach(props.vpc);
    if (props.settings.bootstrapServers) {
      this.bootstrapServers = props.settings.bootstrapServers;
      this.secret = Secret.fromSecretCompleteArn(this, 'ScramSecret', props.settings.secretArn!);
    } else {
      const network = this.network!;
      this.clusterSecurityGroup = new SecurityGroup(this, 'ClusterSecurityGroup', {
        vpc: network.vpc,
        description: 'Tally: the MSK Serverless cluster; its clients and the lake writer pollers',
        allowAllOutbound: true,
      });
      // IAM-authenticated Kafka over TLS: from the collector and topic function, and from the
      // event source mapping's pollers, which run in the cluster's own security group.
      for (const peer of [...network.securityGroups, this.clusterSecurityGroup]) {
        this.clusterSecurityGroup.addIngressRule(
          peer,
          Port.tcp(MSK_IAM_PORT),
          'Kafka (IAM, TLS) from its clients',
        );
      }
      const cluster = new CfnServerlessCluster(this, 'Cluster', {
        clusterName: props.stage ? `tally-${props.stage}` : `tally-${Stack.of(this).stackName}`.slice(0, 64),
        clientAuthentication: { sasl: { iam: { enabled: true } } },
        vpcConfigs: [
          {
            subnetIds: network.vpcSubnets.subnets.map((s) => s.subnetId),
            securityGroups: [this.clusterSecurityGroup.securityGroupId],
          },
        ],
      });
      this.clusterArn = cluster.attrArn;
    }
    if (props.ownVpc) this.interfaceEndpoints(['lambda', 'sts', 'kafka']);
    else if (props.vpc) this.endpoints(props.vpc, props.endpointsMadeElsewhere);

    const fn = new PipelineFunction(this, 'TopicFunction', {
      entry: 'kafka-topic/handler.ts',
      service: 'kafka-topic',
      memorySize: 256,
      timeout: Duration.minutes(2),
      logRetention: props.logRetention,
      environment: this.clientEnvironment(),
      ...(this.network ?? {}),
    });
    this.grantConnect(fn, [
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:CreateTopic',
      'kafka-cluster:AlterTopic',
    ]);
    if (this.clusterArn) {
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ['kafka:GetBootstrapBrokers'], resources: [this.clusterArn] }),
      );
    }
    const resource = new CustomResource(this, 'Topic', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::KafkaTopic',
      properties: {
        Topic: this.topic,
        Partitions: props.settings.partitions,
        RetentionHours: props.retentionHours,
        ...(this.clusterArn
          ? { ClusterArn: this.clusterArn }
          : { Brokers: this.bootstrapServers!.join(',') }),
      },
    });
    for (const endpoint of this.made) resource.node.addDependency(endpoint);
    this.brokers = resource.getAttString('Brokers');
  }

  /** Lets the cluster's clients and pollers through an interface endpoint (its own, or another construct's). */
  allowTo(endpoint: InterfaceVpcEndpoint): void {
    for (const group of [
      ...(this.network?.securityGroups ?? []),
      ...(this.clusterSecurityGroup ? [this.clusterSecurityGroup] : []),
    ]) {
      endpoint.connections.allowDefaultPortFrom(group, 'HTTPS from the Kafka clients');
    }
  }

  /** The collector's environment: the client's, and the brokers the topic resource answers. */
  collectorEnvironment(): Record<string, string> {
    return { ...this.clientEnvironment(), TALLY_KAFKA_BROKERS: this.brokers };
  }

  /** A client's environment but the brokers (the topic function's, which answers them): the stream, the topic and how to sign in. */
  clientEnvironment(): Record<string, string> {
    return {
      TALLY_STREAM: 'kafka',
      TALLY_KAFKA_TOPIC: this.topic,
      ...(this.secret
        ? { TALLY_KAFKA_AUTH: 'scram', TALLY_KAFKA_SECRET_ARN: this.secret.secretArn }
        : { TALLY_KAFKA_AUTH: 'iam' }),
    };
  }

  /** Lets a function or a task produce to the topic. */
  grantProduce(principal: IGrantable): void {
    this.grantConnect(principal, ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData']);
  }

  /** What the container tier's tasks need to write to the topic (the stack's cluster, in their VPC). */
  target(): KafkaTarget {
    return {
      environment: this.collectorEnvironment(),
      grantProduce: (principal) => this.grantProduce(principal),
      port: MSK_IAM_PORT,
      clusterSecurityGroup: this.clusterSecurityGroup!,
    };
  }

  /** Lets the lake writer's event source mapping read the topic as its group, and commit. */
  grantConsume(fn: IFunction): void {
    this.grantConnect(
      fn,
      ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
      ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
    );
    if (this.clusterArn) {
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
          resources: [this.clusterArn],
        }),
      );
    }
    if (this.network) {
      // The pollers' network interfaces in the cluster's subnets: EC2 takes no resource for
      // the Describe calls.
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeVpcs',
            'ec2:DeleteNetworkInterface',
            'ec2:DescribeSubnets',
            'ec2:DescribeSecurityGroups',
          ],
          resources: ['*'],
        }),
      );
      NagSuppressions.addResourceSuppressions(
        fn,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              "The Kafka event source mapping's pollers make network interfaces in the cluster's subnets; EC2's Describe and network interface calls take no resource ARN. Kafka actions are scoped to the cluster, the topic and the lake writer's group.",
            appliesTo: ['Resource::*'],
          },
        ],
        true,
      );
    }
  }

  /**
   * IAM for MSK's IAM authentication (the stack's cluster): connect to the cluster, the topic
   * actions on the events topic, the group actions on the lake writer's group. An existing
   * cluster's SCRAM users get the secret instead.
   */
  private grantConnect(principal: IGrantable, topicActions: string[], groupActions: string[] = []): void {
    if (!this.clusterArn) {
      this.secret!.grantRead(principal);
      return;
    }
    const allow = (statement: PolicyStatement) => principal.grantPrincipal.addToPrincipalPolicy(statement);
    const [name, uuid] = [
      Fn.select(1, Fn.split('/', this.clusterArn)),
      Fn.select(2, Fn.split('/', this.clusterArn)),
    ];
    const arn = (kind: string, resource: string) =>
      Stack.of(this).formatArn({
        service: 'kafka',
        resource: kind,
        resourceName: `${name}/${uuid}/${resource}`,
      });
    allow(
      new PolicyStatement({
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        resources: [this.clusterArn],
      }),
    );
    allow(new PolicyStatement({ actions: topicActions, resources: [arn('topic', this.topic)] }));
    if (groupActions.length > 0) {
      allow(new PolicyStatement({ actions: groupActions, resources: [arn('group', LAKE_WRITER_GROUP)] }));
    }
  }

  /** The VPC, its subnets and a security group for the cluster's clients. */
  private attach(vpc: VpcSettings): KafkaNetwork {
    const imported = importVpc(this, vpc);
    return this.clientsIn(imported.vpc, imported.subnets);
  }

  /** The clients' security group in a VPC, and where they run. */
  private clientsIn(vpc: IVpc, subnets: ISubnet[]): KafkaNetwork {
    const clients = new SecurityGroup(this, 'ClientSecurityGroup', {
      vpc,
      description: 'Tally: the collector and the topic function, clients of the Kafka cluster',
      allowAllOutbound: true,
    });
    return { vpc, vpcSubnets: { subnets }, securityGroups: [clients] };
  }

  /**
   * Without a NAT, what the clients and the pollers call: S3 (the on-failure bucket) and DynamoDB
   * (the collector's quotas) by gateway, Secrets Manager, Lambda, STS and the MSK API by interface
   * (private DNS); only those `tally:vpcEndpoints` names and the warehouse jobs do not make.
   */
  private endpoints(vpc: VpcSettings, madeElsewhere: readonly VpcEndpointName[]): void {
    const network = this.network!;
    const wanted = (name: VpcEndpointName) => vpc.endpoints.includes(name) && !madeElsewhere.includes(name);
    const gateways = (
      [
        ['s3', 'S3Endpoint', GatewayVpcEndpointAwsService.S3],
        ['dynamodb', 'DynamoDbEndpoint', GatewayVpcEndpointAwsService.DYNAMODB],
      ] as Array<[VpcEndpointName, string, GatewayVpcEndpointAwsService]>
    ).filter(([name]) => wanted(name));
    // Only with a gateway to make: the route tables are required for those alone (config.ts).
    const routed =
      gateways.length > 0 ? routedSubnets(this, network.vpcSubnets.subnets, vpc.routeTableIds) : [];
    for (const [, id, service] of gateways) {
      this.made.push(
        new GatewayVpcEndpoint(this, id, { vpc: network.vpc, service, subnets: [{ subnets: routed }] }),
      );
    }
    this.interfaceEndpoints(INTERFACE_ENDPOINTS.map(([name]) => name).filter(wanted));
  }

  /** Interface endpoints (private DNS) in the clients' subnets, open to the clients and the pollers. */
  private interfaceEndpoints(names: readonly VpcEndpointName[]): void {
    const network = this.network!;
    for (const [name, id, service] of INTERFACE_ENDPOINTS) {
      if (!names.includes(name)) continue;
      const endpoint = privateInterfaceEndpoint(this, id, network.vpc, service, network.vpcSubnets.subnets);
      this.allowTo(endpoint);
      this.made.push(endpoint);
    }
  }
}
