import { request } from 'node:https';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/** What a CloudFormation custom resource answers at its response URL. */
export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  /** What `Fn::GetAtt` reads from the resource. */
  Data?: Record<string, string>;
}

/** The answer to `event` for the resource `physicalResourceId` (a reason cut to 500 characters). */
export function customResourceResponse(
  event: CloudFormationCustomResourceEvent,
  physicalResourceId: string,
  status: 'SUCCESS' | 'FAILED',
  reason?: string,
  data?: Record<string, string>,
): CustomResourceResponse {
  return {
    Status: status,
    ...(reason === undefined ? {} : { Reason: reason.slice(0, 500) }),
    PhysicalResourceId: physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    ...(data ? { Data: data } : {}),
  };
}

/** The response as CloudFormation's pre-signed S3 URL takes it: a PUT with no content type. */
export function putResponse(url: string, response: CustomResourceResponse): Promise<void> {
  const body = Buffer.from(JSON.stringify(response));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'PUT', headers: { 'content-type': '', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`CloudFormation answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
