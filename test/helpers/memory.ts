import type { ObjectStore } from '../../lib/lake/store.js';
import type { PutEntry, PutOutcome, StreamWriter } from '../../lib/stream/producer.js';

/** An ObjectStore in a Map, for unit tests of lib/ only. */
export class MemoryStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  puts = 0;
  async put(key: string, body: Uint8Array, _contentType?: string): Promise<void> {
    this.puts++;
    this.objects.set(key, body);
  }
  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(key) ?? null;
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

/** A StreamWriter that keeps what it was given; `fail` decides per entry and call. */
export class MemoryStream implements StreamWriter {
  readonly written: PutEntry[] = [];
  calls: number[] = [];
  constructor(
    private readonly fail: (entry: PutEntry, call: number) => string | undefined = () => undefined,
  ) {}
  async putRecords(entries: readonly PutEntry[]): Promise<PutOutcome[]> {
    this.calls.push(entries.length);
    const call = this.calls.length;
    return entries.map((entry) => {
      const errorCode = this.fail(entry, call);
      if (errorCode) return { errorCode };
      this.written.push(entry);
      return {};
    });
  }
}
