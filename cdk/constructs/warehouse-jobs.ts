import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import {
  GatewayVpcEndpoint,
  GatewayVpcEndpointAwsService,
  type IConnectable,
  type InterfaceVpcEndpoint,
  InterfaceVpcEndpointAwsService,
  type ISecurityGroup,
  type ISubnet,
  type IVpc,
  SecurityGroup,
} from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DASHBOARD_FILES } from '../../lambdas/dashboard.js';
import type { StarRocksSettings, VpcEndpointName, VpcSettings } from '../config.js';
import { grantLakeAccess } from './lake.js';
import { PipelineFunction } from './pipeline-function.js';
import { runOnSchedule } from './schedule.js';
import type { PipelineSecrets } from './secrets.js';
import { importVpc, privateInterfaceEndpoint, routedSubnets } from './vpc.js';

/** The interface endpoints the warehouse jobs make in their VPC, by their names in `tally:vpcEndpoints`. */
const WAREHOUSE_INTERFACE_ENDPOINTS: Array<[VpcEndpointName, string, InterfaceVpcEndpointAwsService]> = [
  ['glue', 'GlueEndpoint', InterfaceVpcEndpointAwsService.GLUE],
  ['secretsmanager', 'SecretsManagerEndpoint', InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
  ['xray', 'XRayEndpoint', InterfaceVpcEndpointAwsService.XRAY],
];

/** Every endpoint the warehouse jobs make in their VPC (the S3 gateway and the interfaces). */
export const WAREHOUSE_ENDPOINTS: readonly VpcEndpointName[] = [
  's3',
  ...WAREHOUSE_INTERFACE_ENDPOINTS.map(([name]) => name),
];

export interface WarehouseJobsProps {
  starRocks: StarRocksSettings;
  vpc: VpcSettings | null;
  bucket: IBucket;
  /** The lake's Glue table, where the rollup registers partitions too. */
  glue: { grantRegisterPartitions(fn: PipelineFunction): void };
  secrets: PipelineSecrets;
  rollupEveryMinutes: number;
  logRetention: RetentionDays;
}

/**
 * The StarRocks side: the rollup on an EventBridge schedule (reads manifests, registers Glue
 * partitions, refreshes the rollup tables; it reads the lake but may not write it) and the
 * active-users function. Both take the StarRocks credentials from an existing secret and run in
 * the given VPC when StarRocks is only reachable there.
 */
export class WarehouseJobs extends Construct {
  readonly rollup: PipelineFunction;
  readonly metrics: PipelineFunction;
  /** Rollup ticks that could not be delivered. */
  readonly missedTicks: Queue;
  /** The interface endpoints made in the VPC (others in it may be let through). */
  readonly interfaceEndpoints: InterfaceVpcEndpoint[] = [];

  constructor(scope: Construct, id: string, props: WarehouseJobsProps) {
    super(scope, id);
    const starRocksSecret = Secret.fromSecretCompleteArn(
      this,
      'StarRocksCredentials',
      props.starRocks.secretArn,
    );
    const attached = props.vpc ? this.network(props.vpc) : null;
    const network = attached ?? {};
    const environment = {
      TALLY_STARROCKS_HOST: props.starRocks.host,
      TALLY_STARROCKS_PORT: String(props.starRocks.port),
      TALLY_STARROCKS_DATABASE: props.starRocks.database,
      TALLY_STARROCKS_REPLICAS: String(props.starRocks.replicas),
      TALLY_STARROCKS_SECRET_ARN: props.starRocks.secretArn,
    };
    this.rollup = new PipelineFunction(this, 'Rollup', {
      entry: 'rollup/handler.ts',
      service: 'rollup',
      timeout: Duration.minutes(10),
      logRetention: props.logRetention,
      environment: { ...environment, TALLY_LAKE_BUCKET: props.bucket.bucketName },
      ...network,
    });
    grantLakeAccess(props.bucket, this.rollup, { get: ['manifests/*'] });
    starRocksSecret.grantRead(this.rollup);
    // The projects' settings (countBots): rule 0 of the counts is per project.
    props.secrets.bindProjects(this.rollup);
    props.glue.grantRegisterPartitions(this.rollup);
    // One run at a time (the schedule's FIFO group): two overlapping rollups could commit an
    // older snapshot last.
    this.missedTicks = runOnSchedule(this, this.rollup, {
      everyMinutes: props.rollupEveryMinutes,
      description: 'Tally: roll up new lake batches into StarRocks',
      job: 'rollup',
      timeout: this.rollup.timeout!,
    }).missedTicks;
    this.metrics = new PipelineFunction(this, 'Metrics', {
      entry: 'metrics/handler.ts',
      service: 'metrics',
      timeout: Duration.seconds(15),
      logRetention: props.logRetention,
      environment: { ...environment, TALLY_LAKE_BUCKET: props.bucket.bucketName },
      // The dashboard's page, served by this function on the same origin as the API it reads.
      copyFiles: Object.values(DASHBOARD_FILES).map((f) => f.file),
      ...network,
    });
    if (props.vpc && attached) {
      this.endpoints(props.vpc, attached.vpc, attached.vpcSubnets.subnets, [this.rollup, this.metrics]);
      // StarRocks must let these in on its query port (9030 unless set).
      for (const [name, fn] of [
        ['Rollup', this.rollup],
        ['Metrics', this.metrics],
      ] as const) {
        new CfnOutput(Stack.of(this), `${name}SecurityGroups`, {
          value: fn.connections.securityGroups.map((g) => g.securityGroupId).join(','),
          description: `Allow these into StarRocks on port ${props.starRocks.port}`,
        });
      }
    }
    // The health route reads the manifests of the last hour.
    grantLakeAccess(props.bucket, this.metrics, { get: ['manifests/*'] });
    starRocksSecret.grantRead(this.metrics);
    if (props.starRocks.secretKeyArn) {
      // A secret under a customer key: Secrets Manager decrypts it with the caller's rights.
      const key = Key.fromKeyArn(this, 'StarRocksSecretKey', props.starRocks.secretKeyArn);
      for (const fn of [this.rollup, this.metrics]) {
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: ['kms:Decrypt'],
            resources: [key.keyArn],
            conditions: {
              StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
            },
          }),
        );
      }
    }
    // The read keys only: the metrics function hashes no user id, so it never sees the HMAC key.
    props.secrets.bindProjects(this.metrics);
  }

  /**
   * Without a NAT, a function in private subnets reaches no AWS API: an S3 gateway endpoint on the
   * subnets' route tables and interface endpoints (private DNS) for what the jobs call: Glue
   * (partitions), Secrets Manager (keys, StarRocks credentials) and X-Ray (traces); only those
   * `tally:vpcEndpoints` names (the VPC may already have the others).
   */
  private endpoints(vpc: VpcSettings, imported: IVpc, subnets: ISubnet[], functions: IConnectable[]): void {
    if (vpc.endpoints.includes('s3')) this.s3Endpoint(vpc, imported, subnets);
    for (const [name, id, service] of WAREHOUSE_INTERFACE_ENDPOINTS) {
      if (!vpc.endpoints.includes(name)) continue;
      const endpoint = privateInterfaceEndpoint(this, id, imported, service, subnets);
      for (const fn of functions)
        endpoint.connections.allowDefaultPortFrom(fn, 'HTTPS from the warehouse jobs');
      this.interfaceEndpoints.push(endpoint);
    }
  }

  private s3Endpoint(vpc: VpcSettings, imported: IVpc, subnets: ISubnet[]): void {
    new GatewayVpcEndpoint(this, 'S3Endpoint', {
      vpc: imported,
      service: GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnets: routedSubnets(this, subnets, vpc.routeTableIds) }],
    });
  }

  private network(vpc: VpcSettings): {
    vpc: IVpc;
    vpcSubnets: { subnets: ISubnet[] };
    securityGroups?: ISecurityGroup[];
  } {
    const imported = importVpc(this, vpc);
    return {
      vpc: imported.vpc,
      vpcSubnets: { subnets: imported.subnets },
      ...(vpc.securityGroupId
        ? { securityGroups: [SecurityGroup.fromSecurityGroupId(this, 'Sg', vpc.securityGroupId)] }
        : {}),
    };
  }
}
