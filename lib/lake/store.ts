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
