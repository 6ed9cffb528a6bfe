import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointStore } from '../lib/stream/poller.js';

/** Shard checkpoints in one JSON file of the data dir, replaced atomically on every save. */
export class FileCheckpoints implements CheckpointStore {
  private cache: Record<string, string> | undefined;
  private readonly path: string;
  /** Saves from several shard loops are written one after another. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    streamName: string,
  ) {
    this.path = join(dir, `${streamName}.json`);
  }

  private async all(): Promise<Record<string, string>> {
    if (!this.cache) {
      try {
        this.cache = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, string>;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.cache = {};
      }
    }
    return this.cache;
  }

  async load(shardId: string): Promise<string | null> {
    return (await this.all())[shardId] ?? null;
  }

  /** The last saved position of a shard, from memory (null before the first load or save). */
  current(shardId: string): string | null {
    return this.cache?.[shardId] ?? null;
  }

  /** Forgets every position: the stream was recreated and its sequence numbers start anew. */
  async reset(): Promise<void> {
    this.cache = {};
    await this.persist();
  }

  async save(shardId: string, sequenceNumber: string): Promise<void> {
    const all = await this.all();
    all[shardId] = sequenceNumber;
    await this.persist();
  }

  private async persist(): Promise<void> {
    const all = await this.all();
    const write = async () => {
      await mkdir(this.dir, { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(all, null, 2));
      await rename(tmp, this.path);
    };
    this.writing = this.writing.then(write, write);
    await this.writing;
  }
}
