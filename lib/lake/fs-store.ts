import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { DeletingStore } from './compaction.js';
import { type ListedObject, StorageError, type VersionedStore } from './store.js';

/** A file's version on disk: its modification time and size (a rename replaces both). */
export function fileVersion(info: { mtimeMs: number; size: number }): string {
  return `${info.mtimeMs}:${info.size}`;
}

/** The lake as a directory: DuckDB reads it in place. Writes go to a temp file, then rename. */
export class FsObjectStore implements DeletingStore, VersionedStore {
  constructor(readonly root: string) {}

  async delete(key: string): Promise<void> {
    try {
      await rm(join(this.root, key), { force: true });
    } catch (error) {
      throw new StorageError('delete', key, error);
    }
  }

  async put(key: string, body: Uint8Array, _contentType?: string): Promise<void> {
    const path = join(this.root, key);
    const tmp = join(this.root, '.tmp', `${randomUUID()}`);
    try {
      await mkdir(dirname(path), { recursive: true });
      await mkdir(dirname(tmp), { recursive: true });
      await writeFile(tmp, body);
      await rename(tmp, path);
    } catch (error) {
      throw new StorageError('put', key, error);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await readFile(join(this.root, key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new StorageError('get', key, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = join(this.root, prefix.slice(0, prefix.lastIndexOf('/') + 1));
    let entries: string[];
    try {
      entries = (await readdir(base, { recursive: true, withFileTypes: true }))
        .filter((d) => d.isFile())
        .map((d) =>
          relative(this.root, join(d.parentPath ?? d.path, d.name))
            .split(sep)
            .join('/'),
        );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StorageError('list', prefix, error);
    }
    return entries.filter((k) => k.startsWith(prefix)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Each file with its `fileVersion`. */
  async listVersions(prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    for (const key of await this.list(prefix)) {
      const info = await stat(join(this.root, key)).catch(() => null);
      if (info) objects.push({ key, version: fileVersion(info) });
    }
    return objects;
  }
}
