import type { Stack } from 'aws-cdk-lib';
import { NagSuppressions } from 'cdk-nag';

/**
 * Every cdk-nag finding this app accepts, each with its reason. Anything else fails the tests
 * (`test/cdk/nag.test.ts`).
 */
export function suppressWithReasons(stack: Stack): void {
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
        'Wildcards are object keys under the lake bucket (the writer puts new keys and reads erasures/*, the rollup reads manifests/*, the erase function rewrites events/*, bad/* and records erasures/*), keys of failed batches the event source mapping writes (names chosen by Lambda), and X-Ray trace segments, which have no resource-level permissions.',
      appliesTo: [
        'Action::s3:Abort*',
        'Action::s3:GetBucket*',
        'Action::s3:GetObject*',
        'Action::s3:List*',
        'Resource::*',
        { regex: '/^Resource::<LakeBucket[A-Za-z0-9]+\\.Arn>\\/\\*$/g' },
        { regex: '/^Resource::<LakeWriterFailedBatches[A-Za-z0-9]+\\.Arn>\\/\\*$/g' },
        { regex: '/^Resource::<LakeBucket[A-Za-z0-9]+\\.Arn>\\/(manifests|erasures|events|bad)\\/\\*$/g' },
      ],
    },
    {
      id: 'AwsSolutions-APIG4',
      reason:
        'The Segment protocol authenticates with a write key (HTTP Basic) checked in the collect function in constant time; the active-users route checks a per-project read key the same way.',
    },
  ]);
}
