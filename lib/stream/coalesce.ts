import {
  MAX_BYTES_PER_CALL,
  MAX_ENTRIES_PER_CALL,
  type PutEntry,
  type PutOutcome,
  type StreamWriter,
} from './producer.js';

interface Waiting {
  entries: readonly PutEntry[];
  resolve(outcomes: PutOutcome[]): void;
  reject(error: unknown): void;
}

export interface CoalesceOptions {
  /** How long the first record of a call waits for others. @default 2 ms */
  lingerMs?: number;
  /** PutRecords calls in flight at once; more wait. @default 16 */
  maxInFlight?: number;
}

/**
 * A StreamWriter for a long-lived server: the records of concurrent requests go to the stream in
 * shared PutRecords calls (up to 500 records and 5 MiB each), and each request gets the outcomes
 * of its own records, so it is still acknowledged only once the stream took all of them (retries
 * stay with `putAll`, per request). A call leaves when it is full, or `lingerMs` after its first
 * record arrived; `flush()` sends what waits at once.
 */
export class CoalescingWriter implements StreamWriter {
  /** The call being filled. */
  private open: Waiting[] = [];
  private openEntries = 0;
  private openBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Closed calls waiting for a free slot. */
  private readonly ready: Waiting[][] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** PutRecords calls made and records sent through them (the bench prints the ratio). */
  readonly sent = { calls: 0, records: 0 };

  constructor(
    private readonly writer: StreamWriter,
    private readonly options: CoalesceOptions = {},
  ) {}

  putRecords(entries: readonly PutEntry[]): Promise<PutOutcome[]> {
    if (entries.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const bytes = entries.reduce((n, e) => n + e.data.length + Buffer.byteLength(e.partitionKey), 0);
      // A request's records stay in one call: a call that cannot take them all is closed first.
      if (
        this.open.length > 0 &&
        (this.openEntries + entries.length > MAX_ENTRIES_PER_CALL ||
          this.openBytes + bytes > MAX_BYTES_PER_CALL)
      ) {
        this.flush();
      }
      this.open.push({ entries, resolve, reject });
      this.openEntries += entries.length;
      this.openBytes += bytes;
      if (this.openEntries >= MAX_ENTRIES_PER_CALL) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs ?? 2);
    });
  }

  /** Closes the call being filled and sends what a free slot allows. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.open.length > 0) {
      this.ready.push(this.open);
      this.open = [];
      this.openEntries = 0;
      this.openBytes = 0;
    }
    this.pump();
  }

  /** Sends closed calls while there are free slots. */
  private pump(): void {
    while (this.ready.length > 0 && this.inFlight.size < (this.options.maxInFlight ?? 16)) {
      const call = this.send(this.ready.shift()!).finally(() => {
        this.inFlight.delete(call);
        this.pump();
      });
      this.inFlight.add(call);
    }
  }

  /** Resolves once nothing waits and no call is in flight (a server's drain). */
  async drain(): Promise<void> {
    this.flush();
    while (this.ready.length > 0 || this.inFlight.size > 0 || this.open.length > 0) {
      if (this.open.length > 0) this.flush();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private async send(batch: Waiting[]): Promise<void> {
    const entries = batch.flatMap((w) => w.entries);
    this.sent.calls += 1;
    this.sent.records += entries.length;
    let outcomes: PutOutcome[];
    try {
      outcomes = await this.writer.putRecords(entries);
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    let at = 0;
    for (const w of batch) {
      w.resolve(outcomes.slice(at, at + w.entries.length));
      at += w.entries.length;
    }
  }
}
