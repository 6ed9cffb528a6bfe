import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { startFauxqs } from 'fauxqs';
import { s3Client } from '../../lambdas/aws.js';
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
