import { GetRoleCommand } from '@aws-sdk/client-iam';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { CustomResourceResponse } from '../../lambdas/custom-resource.js';
import { createServiceLinkedRoleHandler } from '../../lambdas/service-linked-role/handler.js';
import { silentLogger } from '../../lib/log.js';

/** An IAM error as the SDK throws it: its name and message. */
function iamError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

/** IAM as the handler sees it: CreateServiceLinkedRole answers `create`, GetRole `get` in turn. */
function run(
  requestType: 'Create' | 'Update' | 'Delete',
  create: () => unknown,
  gets: Array<() => unknown>,
  properties: Record<string, string> = {
    AWSServiceName: 'ecs.amazonaws.com',
    RoleName: 'AWSServiceRoleForECS',
  },
) {
  const calls: string[] = [];
  const responses: CustomResourceResponse[] = [];
  const handler = createServiceLinkedRoleHandler({
    iam: {
      send: (async (command: { constructor: { name: string } }) => {
        calls.push(command.constructor.name);
        if (command instanceof GetRoleCommand) return (gets.shift() ?? (() => ({})))();
        return create();
      }) as never,
    },
    respond: async (_url, response) => {
      responses.push(response);
    },
    sleep: async () => {},
    logger: silentLogger,
    tries: 3,
  });
  const event = {
    RequestType: requestType,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/abc',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Tally/1',
    RequestId: 'r-1',
    LogicalResourceId: 'EcsRole',
    ResourceType: 'Custom::ServiceLinkedRole',
    ServiceToken: 'arn',
    ResourceProperties: { ServiceToken: 'arn', ...properties },
  } as unknown as CloudFormationCustomResourceEvent;
  return handler(event).then(() => ({ calls, responses }));
}

const notYet = () => {
  throw iamError('NoSuchEntityException', 'The role with name AWSServiceRoleForECS cannot be found.');
};

describe('the service-linked role custom resource', () => {
  it('creates the role, waits until IAM answers for it, then answers SUCCESS', async () => {
    const { calls, responses } = await run('Create', () => ({}), [notYet, () => ({ Role: {} })]);
    expect(calls).toEqual(['CreateServiceLinkedRoleCommand', 'GetRoleCommand', 'GetRoleCommand']);
    expect(responses).toEqual([
      expect.objectContaining({
        Status: 'SUCCESS',
        PhysicalResourceId: 'AWSServiceRoleForECS',
        RequestId: 'r-1',
      }),
    ]);
  });

  it('accepts a role the account has already', async () => {
    const taken = () => {
      throw iamError(
        'InvalidInputException',
        'Service role name AWSServiceRoleForECS has been taken in this account',
      );
    };
    const { responses } = await run('Update', taken, []);
    expect(responses.map((r) => r.Status)).toEqual(['SUCCESS']);
  });

  it('answers FAILED with the reason when IAM refuses, or the role never appears', async () => {
    const denied = () => {
      throw iamError('AccessDenied', 'not authorized to perform iam:CreateServiceLinkedRole');
    };
    const refused = await run('Create', denied, []);
    const never = await run('Create', () => ({}), [notYet, notYet, notYet]);
    expect(refused.responses[0]).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringContaining('iam:CreateServiceLinkedRole'),
    });
    expect(never.responses[0]).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringContaining('did not appear'),
    });
  });

  it('never deletes the role (other stacks may use it), and refuses a resource that names none', async () => {
    const deleted = await run('Delete', () => ({}), []);
    const unnamed = await run('Create', () => ({}), [], {
      AWSServiceName: 'ecs.amazonaws.com',
      RoleName: 'x',
    });
    expect(deleted).toMatchObject({ calls: [], responses: [{ Status: 'SUCCESS' }] });
    expect(unnamed).toMatchObject({ calls: [], responses: [{ Status: 'FAILED' }] });
  });
});
