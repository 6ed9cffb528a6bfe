import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { DeletingStore } from './compaction.js';
import { type ListedObject, StorageError, type VersionedStore } from './store.js';

/** The lake on S3. The client comes from the caller (created once per process). */
export class S3ObjectStore implements DeletingStore, VersionedStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentType: contentType,
        }),
      );
    } catch (error) {
      throw new StorageError('put', key, error);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound') return null;
      throw new StorageError('get', key, error);
    }
  }

  /** Only the compactor's store is ever asked (and only its role may delete). */
  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      throw new StorageError('delete', key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.listVersions(prefix)).map((o) => o.key);
  }

  /** The version of an object is its ETag (its content's digest: a rewrite with other rows changes it). */
  async listVersions(prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | undefined;
    try {
      do {
        const out = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of out.Contents ?? [])
          if (o.Key)
            objects.push({
              key: o.Key,
              version: o.ETag ?? `${o.LastModified?.getTime() ?? 0}:${o.Size ?? 0}`,
            });
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw new StorageError('list', prefix, error);
    }
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
