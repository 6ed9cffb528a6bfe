import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface CollectorWafProps {
  /** The load balancer the ACL guards. */
  loadBalancerArn: string;
  /** Requests a minute one client address may send. @default no such rule */
  requestsPerIpMinute?: number;
  /** Requests a minute one write key (the `Authorization` header, or `?writeKey=`) may send. @default no such rule */
  requestsPerKeyMinute?: number;
}

/** What a rate rule answers: a 429 as the collector's own, which the SDKs retry later. */
const RATE_LIMITED_BODY = 'rateLimited';

/**
 * A WAF web ACL in front of the container tier's load balancer, with rate rules keyed on the
 * client's address and on the write key: the edge answer to floods that the stage-wide limits and
 * per-project quotas cannot tell apart (a leaked key, one address in a loop). Requests over a
 * rule's rate get `429 rate_limited` until they fall below it; everything else passes.
 */
export class CollectorWaf extends Construct {
  readonly acl: CfnWebACL;

  constructor(scope: Construct, id: string, props: CollectorWafProps) {
    super(scope, id);
    const block = {
      block: {
        customResponse: {
          responseCode: 429,
          customResponseBodyKey: RATE_LIMITED_BODY,
          responseHeaders: [{ name: 'retry-after', value: '60' }],
        },
      },
    };
    const rule = (name: string, priority: number, statement: CfnWebACL.RateBasedStatementProperty) => ({
      name,
      priority,
      action: block,
      statement: { rateBasedStatement: statement },
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: false },
    });
    const rules: CfnWebACL.RuleProperty[] = [];
    if (props.requestsPerIpMinute !== undefined) {
      rules.push(
        rule('RequestsPerIp', 0, {
          aggregateKeyType: 'IP',
          limit: props.requestsPerIpMinute,
          evaluationWindowSec: 60,
        }),
      );
    }
    if (props.requestsPerKeyMinute !== undefined) {
      const none = [{ priority: 0, type: 'NONE' }];
      // A request without the key's component is not counted by that rule: one rule per place
      // the SDKs put a write key (HTTP Basic, or the query of beacons and analytics.js' settings).
      rules.push(
        rule('RequestsPerKeyHeader', 1, {
          aggregateKeyType: 'CUSTOM_KEYS',
          customKeys: [{ header: { name: 'authorization', textTransformations: none } }],
          limit: props.requestsPerKeyMinute,
          evaluationWindowSec: 60,
        }),
        rule('RequestsPerKeyQuery', 2, {
          aggregateKeyType: 'CUSTOM_KEYS',
          customKeys: [{ queryArgument: { name: 'writeKey', textTransformations: none } }],
          limit: props.requestsPerKeyMinute,
          evaluationWindowSec: 60,
        }),
      );
    }
    this.acl = new CfnWebACL(this, 'Acl', {
      scope: 'REGIONAL',
      description: 'Tally collector: rate rules per client address and per write key',
      defaultAction: { allow: {} },
      customResponseBodies: {
        [RATE_LIMITED_BODY]: {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({
            error: {
              code: 'rate_limited',
              message: 'too many requests from this address or key; retry later',
            },
          }),
        },
      },
      rules,
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        metricName: 'TallyCollectorAcl',
        sampledRequestsEnabled: false,
      },
    });
    new CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.loadBalancerArn,
      webAclArn: this.acl.attrArn,
    });
  }
}
