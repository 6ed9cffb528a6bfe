import { TallyError } from '../errors.js';

/**
 * Where the lake lives. Implementations: S3 (AWS and emulators) and a directory (local runs).
 * `put` replaces the whole object atomically: a reader sees the old object or the new, never half.
 */
export interface ObjectStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  /** Every key under the prefix, in byte order. */
  list(prefix: string): Promise<string[]>;
}

/** An object as a listing gives it: its key, and a version that changes when it is rewritten. */
export interface ListedObject {
  key: string;
  version: string;
}

/** A store that lists objects with their versions (what a warehouse reading only new files needs). */
export interface VersionedStore {
  /** Every object under the prefix with its version, in key order. */
  listVersions(prefix: string): Promise<ListedObject[]>;
}

/** A store operation failed; the batch that needed it must be retried. */
export class StorageError extends TallyError {
  readonly key: string;
  constructor(operation: string, key: string, cause: unknown) {
    super('storage_error', `${operation} ${key} failed: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.key = key;
  }
}
