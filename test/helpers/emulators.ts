import type { AddressInfo } from 'node:net';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';
import { dynamoDbClient, s3Client } from '../../lambdas/aws.js';
import { S3ObjectStore } from '../../lib/lake/s3-store.js';
import { freePort } from '../../local/ports.js';

export interface S3Emulator {
  endpoint: string;
  client: S3Client;
  /** A fresh bucket and a store over it. */
  bucket(name: string): Promise<S3ObjectStore>;
  stop(): Promise<void>;
}

/**
 * S3 for tests: `AWS_ENDPOINT_URL` when set (e.g. a LocalStack), otherwise fauxqs in-process.
 */
export async function startS3(): Promise<S3Emulator> {
  const external = process.env.AWS_ENDPOINT_URL;
  const server = external ? null : await startFauxqs({ port: await freePort(), logger: false });
  const endpoint = external ?? `http://127.0.0.1:${server!.port}`;
  const client = s3Client(endpoint);
  return {
    endpoint,
    client,
    async bucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return new S3ObjectStore(client, name);
    },
    async stop() {
      client.destroy();
      await server?.stop();
    },
  };
}

export interface DynamoDbEmulator {
  endpoint: string;
  client: DynamoDBClient;
  /** A fresh table keyed by the string `pk`, as the stack makes the quota table. */
  table(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** DynamoDB for tests: dynalite in-process (in memory), which validates requests as DynamoDB does. */
export async function startDynamoDb(): Promise<DynamoDbEmulator> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = dynamoDbClient(endpoint);
  return {
    endpoint,
    client,
    async table(name) {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      return name;
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
