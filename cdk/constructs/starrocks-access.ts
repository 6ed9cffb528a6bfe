import { CfnOutput, Stack } from 'aws-cdk-lib';
import { ArnPrincipal, CfnInstanceProfile, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { catalogStatement } from '../../lib/warehouse/starrocks.js';
import type { Lake } from './lake.js';

export interface StarRocksAccessProps {
  lake: Lake;
  /** `ec2`: an instance profile for the StarRocks nodes; otherwise the ARN that assumes the role. */
  trust: string;
}

/**
 * How StarRocks reads the lake: a role with read on `events/*` and on the events table in Glue,
 * trusted by EC2 (attach the instance profile to the FE and BE/CN nodes) or by a principal that
 * assumes it (StarRocks' `aws.*.iam_role_arn`). The stack prints the catalog statement to run.
 */
export class StarRocksAccess extends Construct {
  readonly role: Role;

  constructor(scope: Construct, id: string, props: StarRocksAccessProps) {
    super(scope, id);
    const ec2 = props.trust === 'ec2';
    this.role = new Role(this, 'Role', {
      assumedBy: ec2 ? new ServicePrincipal('ec2.amazonaws.com') : new ArnPrincipal(props.trust),
      description: 'StarRocks reads the Tally lake (events/* and its Glue table), nothing else',
    });
    props.lake.grantReadEvents(this.role);
    const stack = Stack.of(this);
    new CfnOutput(stack, 'StarRocksRoleArn', { value: this.role.roleArn });
    if (ec2) {
      const profile = new CfnInstanceProfile(this, 'InstanceProfile', { roles: [this.role.roleName] });
      new CfnOutput(stack, 'StarRocksInstanceProfileArn', {
        value: profile.attrArn,
        description: 'Attach to the StarRocks FE and BE/CN instances',
      });
    }
    // The statement is made by the same code the tests check; the region and role are filled in
    // by CloudFormation.
    const sql = catalogStatement('lake', {
      type: 'glue',
      region: 'REGION',
      ...(ec2 ? {} : { iamRoleArn: 'arn:aws:iam::000000000000:role/ROLE' }),
    })
      .replaceAll('"REGION"', `"${stack.region}"`)
      .replaceAll('"arn:aws:iam::000000000000:role/ROLE"', `"${this.role.roleArn}"`);
    new CfnOutput(stack, 'StarRocksCatalogSql', {
      value: sql.replace(/\n\s*/g, ' '),
      description: `Run once in StarRocks; then query lake.${props.lake.glueDatabase}.${props.lake.glueTable}`,
    });
  }
}
