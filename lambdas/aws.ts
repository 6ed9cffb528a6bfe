import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GlueClient } from '@aws-sdk/client-glue';
import { IAMClient } from '@aws-sdk/client-iam';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * The one place AWS clients are made. With an endpoint override (emulators, LocalStack) the
 * clients use HTTP/1.1, path-style addressing and checksums only where required, which the
 * emulators need; on AWS they keep the SDK defaults.
 */
export function kinesisClient(endpoint?: string, region = 'us-east-1'): KinesisClient {
  if (!endpoint) return new KinesisClient({});
  return new KinesisClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2000, requestTimeout: 10_000 }),
  });
}

/**
 * The quota table's client: a quota must never hold a request up, so a call that takes longer
 * than a quarter second fails (and the request is admitted) after at most one retry.
 */
export function dynamoDbClient(endpoint?: string, region = 'us-east-1'): DynamoDBClient {
  const requestHandler = new NodeHttpHandler({ connectionTimeout: 250, requestTimeout: 250 });
  if (!endpoint) return new DynamoDBClient({ maxAttempts: 2, requestHandler });
  return new DynamoDBClient({
    endpoint,
    region,
    maxAttempts: 2,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler,
  });
}

export function s3Client(endpoint?: string, region = 'us-east-1'): S3Client {
  if (!endpoint) return new S3Client({});
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Glue has no emulator here; the rollup uses it on AWS only. */
export function glueClient(): GlueClient {
  return new GlueClient({});
}

/** IAM, for the custom resource that makes sure a service-linked role exists (AWS only). */
export function iamClient(): IAMClient {
  return new IAMClient({});
}
