import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * Where the collectors count per-project quotas (`requestsPerSecond` in the projects secret,
 * `tally:projectRequestsPerSecond` for the rest): one item per project and second, raised with
 * an atomic ADD and expired by TTL. On demand, so it costs nothing until a project has a quota;
 * the counts are worth nothing after their second, so the table goes with the stack.
 */
export class QuotaTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      encryption: TableEncryption.AWS_MANAGED,
      // Required by the account guardrails; costs next to nothing on a table of expiring counters.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /** Lets the collector raise counts (UpdateItem only) and tells it the table and the default quota. */
  bind(
    fn: IGrantable & { addEnvironment(key: string, value: string): unknown },
    defaultRequestsPerSecond: number | undefined,
  ): void {
    fn.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [this.table.tableArn] }),
    );
    fn.addEnvironment('TALLY_QUOTA_TABLE', this.table.tableName);
    if (defaultRequestsPerSecond !== undefined) {
      fn.addEnvironment('TALLY_PROJECT_REQUESTS_PER_SECOND', String(defaultRequestsPerSecond));
    }
  }
}
