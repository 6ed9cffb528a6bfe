import { readFileSync } from 'node:fs';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { type IAspect, type IPolicyValidationPlugin, Stack } from 'aws-cdk-lib';
import { CfnPermission } from 'aws-cdk-lib/aws-lambda';
import { NagSuppressions } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { ALB_ACCESS_LOGS_OFF } from './constructs/ingest-containers.js';

/**
 * Every cdk-nag finding this app accepts, each with its reason. Anything else fails the tests
 * (`test/cdk/nag.test.ts`).
 */
export function suppressWithReasons(stack: Stack, options: { lakeBucketName?: string } = {}): void {
  // The lake bucket as the policies name it: a created one by its logical id, an adopted one
  // (tally:lakeBucketName) by its ARN.
  const lake = options.lakeBucketName
    ? `arn:<AWS::Partition>:s3:::${options.lakeBucketName.replaceAll('.', '\\.')}`
    : '<LakeBucket[A-Za-z0-9]+\\.Arn>';
  NagSuppressions.addStackSuppressions(stack, [
    {
      id: 'AwsSolutions-IAM4',
      reason:
        'AWSLambdaBasicExecutionRole (write own logs) and AWSLambdaVPCAccessExecutionRole (ENIs for the VPC-attached warehouse jobs) are the minimal managed policies for those needs.',
      appliesTo: [
        'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
        'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
      ],
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'Wildcards are object keys under the lake bucket (the writer puts new keys and reads erasures/*, the rollup reads manifests/*, the erase function rewrites events/*, bad/* and records erasures/*, the compactor rewrites and deletes events/*, records compactions/* and moves its pending records), keys of failed batches the event source mapping writes (names chosen by Lambda), and X-Ray trace segments, which have no resource-level permissions.',
      appliesTo: [
        'Action::s3:Abort*',
        'Resource::*',
        { regex: `/^Resource::${lake}\\/\\*$/g` },
        { regex: '/^Resource::<LakeWriterFailedBatches[A-Za-z0-9]+\\.Arn>\\/\\*$/g' },
        { regex: `/^Resource::${lake}\\/(manifests|erasures|events|bad|compactions)\\/\\*$/g` },
        { regex: `/^Resource::${lake}\\/compactions\\/(pending\\/|project=)\\*$/g` },
      ],
    },
    {
      id: 'Serverless-LambdaDLQ',
      reason:
        'No function is invoked asynchronously with data to lose: collect and metrics answer API Gateway, the lake writer is called by its event source mapping (failed batches go to the FailedBatchesBucket), erase is invoked synchronously, and the rollup and the compactor are EventBridge ticks that the next tick repeats (undeliverable ticks go to their MissedTicks queues).',
    },
    {
      id: 'AwsSolutions-APIG4',
      reason:
        'The Segment protocol authenticates with a write key (HTTP Basic) checked in the collect function in constant time; the active-users route checks a per-project read key the same way.',
    },
  ]);
}

/**
 * Every finding of the AWS Control Tower proactive rules (cfn-guard, `@cdklabs/cdk-validator-cfnguard`)
 * this app accepts, each with its reason, for every resource (`resources` absent) or for the
 * resources whose logical id starts with one of `resources`; the others are fixed in the
 * constructs. `cdk synth` and the tests run the rules; any other finding fails synthesis.
 */
export const GUARD_ACCEPTED: Array<{ rule: string; reason: string; resources?: string[] }> = [
  {
    rule: 'CT.APIGATEWAY.PR.5',
    reason:
      'The Segment protocol authenticates with a write key (HTTP Basic, the body or ?writeKey=) that the collect function checks in constant time, and the active-users route checks a read key the same way; no API Gateway authorizer can read a key from a body, and browsers send beacons without headers.',
  },
  {
    rule: 'CT.LAMBDA.PR.3',
    reason:
      'The functions call only public AWS endpoints (Kinesis, S3, Glue, Secrets Manager); the warehouse jobs run in a VPC when tally:vpcId is set, to reach StarRocks.',
  },
  {
    rule: 'CT.CLOUDWATCH.PR.2',
    reason:
      'Operational logs, 30 days by default (tally:logRetentionDays sets up to 3653); they hold no events, raw ids, write keys or payloads.',
  },
  {
    rule: 'CT.CLOUDWATCH.PR.3',
    reason:
      'Logs are encrypted at rest by CloudWatch with its own key; they hold no events, raw ids, write keys or payloads (tested), so a customer key would add cost and a key policy without protecting any personal data.',
  },
  {
    rule: 'CT.S3.PR.9',
    reason:
      'The lake must be rewritable: retried batches overwrite their deterministic keys and erasure rewrites files without the erased people (GDPR Art. 17), which Object Lock forbids; versioning with noncurrent expiry keeps recent versions.',
  },
  {
    rule: 'CT.S3.PR.10',
    reason:
      'SSE-S3 encrypts every object; SSE-KMS would add a KMS request per object read by Athena, StarRocks and DuckDB and a key policy for each reader, for data that holds no raw ids (HMAC pseudonyms only).',
  },
  {
    rule: 'CT.S3.PR.4',
    reason:
      'Nothing consumes object events: manifests tell the rollup what is new, and alarms cover failed batches.',
  },
  {
    rule: 'CT.ELASTICLOADBALANCING.PR.1',
    resources: ['IngestContainersLoadBalancerHttp'],
    reason:
      'Only with tally:allowHttp=true, which the operator sets to serve plain HTTP (no certificate yet, or TLS ended by a proxy in front); with a certificate, port 80 only redirects to HTTPS.',
  },
  {
    rule: 'CT.ELASTICLOADBALANCING.PR.5',
    resources: ['IngestContainersLoadBalancer'],
    reason:
      'The collector load balancer holds no data and is rebuilt by a deploy; deletion protection would make `cdk destroy` fail until someone turns it off by hand.',
  },
  {
    rule: 'CT.ELASTICLOADBALANCING.PR.6',
    resources: ['IngestContainersLoadBalancer'],
    reason: ALB_ACCESS_LOGS_OFF,
  },
  {
    rule: 'CT.S3.PR.2',
    resources: ['LakeAccessLogs'],
    reason: 'This is the access-log bucket of the lake; logging it to itself would loop.',
  },
];

const accepted = (rule: string, logicalId: string | undefined) =>
  GUARD_ACCEPTED.some(
    (a) => a.rule === rule && (!a.resources || a.resources.some((prefix) => logicalId?.startsWith(prefix))),
  );

/**
 * The cfn-guard validator with the Control Tower rules, less the findings accepted above. (CDK's
 * own `Validations.acknowledge` cannot serve: once anything is acknowledged it passes a report
 * whose violations carry no "error" severity, which cfn-guard's never do.)
 */
export function guardValidator(): IPolicyValidationPlugin {
  const inner = new CfnGuardValidator({ controlTowerRulesEnabled: true });
  return {
    name: inner.name,
    version: inner.version,
    validate(context) {
      const report = inner.validate(context);
      const resources: Record<string, { Properties?: { SourceAccount?: unknown } }> = {};
      for (const path of context.templatePaths) {
        Object.assign(
          resources,
          (JSON.parse(readFileSync(path, 'utf8')) as { Resources?: object }).Resources ?? {},
        );
      }
      const violations = report.violations
        .map((v) => ({
          ...v,
          violatingResources: v.violatingResources.filter(
            (r) =>
              !accepted(ruleId(v), r.resourceLogicalId) &&
              !(
                ruleId(v) === 'CT.LAMBDA.PR.2' &&
                accountOfDeploy(resources[r.resourceLogicalId ?? '']?.Properties?.SourceAccount)
              ),
          ),
        }))
        .filter((v) => v.violatingResources.length > 0);
      return { ...report, violations, success: violations.length === 0 };
    },
  };
}

/**
 * A SourceAccount that is CloudFormation's own account id: an environment-agnostic synth (no
 * account known offline) cannot write the number, but the permission is scoped all the same.
 */
function accountOfDeploy(value: unknown): boolean {
  return JSON.stringify(value) === JSON.stringify({ Ref: 'AWS::AccountId' });
}

/** The Control Tower id (`CT.S3.PR.2`) a cfn-guard violation names in its description. */
function ruleId(violation: { ruleName: string; description?: string }): string {
  return (
    /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(`${violation.description ?? ''} ${violation.ruleName}`)?.[1] ??
    violation.ruleName
  );
}

/**
 * Lambda permissions for service principals name the account as well as the source ARN (Control
 * Tower CT.LAMBDA.PR.2 wants one it can read without resolving a Join).
 */
export class PermissionSourceAccount implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof CfnPermission)) return;
    const principal = String(node.principal);
    if (node.sourceAccount === undefined && principal.endsWith('.amazonaws.com')) {
      node.sourceAccount = Stack.of(node).account;
    }
  }
}
