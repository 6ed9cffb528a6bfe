import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PipelineFunction } from './pipeline-function.js';

/** The role IAM names for each service this app needs one of. */
const ROLE_NAMES = { 'ecs.amazonaws.com': 'AWSServiceRoleForECS' } as const;

export interface ServiceLinkedRoleProps {
  /** The service whose role must exist. */
  service: keyof typeof ROLE_NAMES;
  logRetention: RetentionDays;
}

/**
 * Makes sure a service's service-linked role exists before what depends on this construct: on a
 * new account the first ECS cluster creates the ECS role itself, and a service created right
 * after it can fail to assume it. A custom resource (a house function) creates the role or
 * accepts the one there, waits until IAM answers for it, and leaves it on delete.
 */
export class ServiceLinkedRole extends Construct {
  constructor(scope: Construct, id: string, props: ServiceLinkedRoleProps) {
    super(scope, id);
    const roleName = ROLE_NAMES[props.service];
    const fn = new PipelineFunction(this, 'Function', {
      entry: 'service-linked-role/handler.ts',
      service: 'service-linked-role',
      memorySize: 256,
      timeout: Duration.minutes(2),
      logRetention: props.logRetention,
    });
    const role = Stack.of(this).formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: `aws-service-role/${props.service}/${roleName}`,
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['iam:CreateServiceLinkedRole'],
        resources: [role],
        conditions: { StringEquals: { 'iam:AWSServiceName': props.service } },
      }),
    );
    fn.addToRolePolicy(new PolicyStatement({ actions: ['iam:GetRole'], resources: [role] }));
    new CustomResource(this, 'Resource', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::ServiceLinkedRole',
      properties: { AWSServiceName: props.service, RoleName: roleName },
    });
  }
}
