import { CreateServiceLinkedRoleCommand, GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { Logger } from '../../lib/log.js';
import { iamClient } from '../aws.js';
import { type CustomResourceResponse, customResourceResponse, putResponse } from '../custom-resource.js';
import { lambdaLogger } from '../logger.js';

export interface ServiceLinkedRoleDeps {
  iam: Pick<IAMClient, 'send'>;
  /** PUTs the response to CloudFormation's pre-signed URL. */
  respond(url: string, response: CustomResourceResponse): Promise<void>;
  sleep(ms: number): Promise<void>;
  logger: Logger;
  /** Tries of GetRole before the role counts as there. @default 30 (a minute) */
  tries?: number;
}

/**
 * A custom resource that makes sure a service-linked role exists before what needs it: creates
 * it (an account that never used the service has none; ECS makes its own with the first cluster,
 * but a service created right after can fail to assume it), accepts one that exists ("has been
 * taken"), waits until IAM answers for it, and never deletes it (other stacks may use it).
 */
export function createServiceLinkedRoleHandler(deps: ServiceLinkedRoleDeps) {
  return async (event: CloudFormationCustomResourceEvent): Promise<void> => {
    // The service and the name IAM gives its role, as the construct declares them.
    const service = String(event.ResourceProperties.AWSServiceName ?? '');
    const roleName = /^AWSServiceRoleFor[A-Za-z0-9]+$/.test(String(event.ResourceProperties.RoleName))
      ? String(event.ResourceProperties.RoleName)
      : undefined;
    const answer = (status: 'SUCCESS' | 'FAILED', reason?: string) =>
      deps.respond(
        event.ResponseURL,
        customResourceResponse(event, roleName ?? 'unknown-service', status, reason),
      );
    if (roleName === undefined || service === '') {
      return answer('FAILED', 'the resource needs AWSServiceName and RoleName (AWSServiceRoleFor...)');
    }
    if (event.RequestType === 'Delete') return answer('SUCCESS');
    try {
      await deps.iam.send(new CreateServiceLinkedRoleCommand({ AWSServiceName: service }));
      deps.logger.info('service-linked role created', { role: roleName });
    } catch (error) {
      const taken =
        (error as Error).name === 'InvalidInputException' && /has been taken/i.test((error as Error).message);
      if (!taken) return answer('FAILED', `cannot create ${roleName}: ${(error as Error).message}`);
    }
    for (let i = 0, tries = deps.tries ?? 30; i < tries; i++) {
      try {
        await deps.iam.send(new GetRoleCommand({ RoleName: roleName }));
        return answer('SUCCESS');
      } catch (error) {
        if ((error as Error).name !== 'NoSuchEntityException') {
          return answer('FAILED', `cannot read ${roleName}: ${(error as Error).message}`);
        }
        await deps.sleep(2000);
      }
    }
    return answer('FAILED', `${roleName} did not appear in IAM within a minute`);
  };
}

/** Lambda entry point (the custom resource's service token). */
export const handler = createServiceLinkedRoleHandler({
  iam: iamClient(),
  respond: putResponse,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  logger: lambdaLogger('service-linked-role'),
});
