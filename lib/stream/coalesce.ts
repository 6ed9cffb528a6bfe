import { bundleRecords } from './codec.js';
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

/** Kinesis bills a provisioned stream per 25 KB PUT payload unit of each record, rounded up. */
export const PUT_PAYLOAD_UNIT_BYTES = 25 * 1024;

export interface CoalesceOptions {
  /** How long the first record of a call waits for others. @default 2 ms */
  lingerMs?: number;
  /**
   * Put the records of several requests into bundle records of at most this many bytes (a PUT
   * payload unit), so a stream record is full rather than one per request; 0: never. @default 0
   */
  bundleBytes?: number;
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
  /** PutRecords calls made, stream records sent and the requests' records in them (the bench prints them). */
  readonly sent = { calls: 0, records: 0, entries: 0 };

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
    while (this.open.length > 0 || this.ready.length > 0 || this.inFlight.size > 0) {
      this.flush();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private async send(batch: Waiting[]): Promise<void> {
    const entries = batch.flatMap((w) => w.entries);
    const groups = bundle(entries, this.options.bundleBytes ?? 0);
    this.sent.calls += 1;
    this.sent.records += groups.length;
    this.sent.entries += entries.length;
    let outcomes: PutOutcome[];
    try {
      // Every request's record in a bundle has the bundle's outcome.
      const put = await this.writer.putRecords(groups.map((g) => g.entry));
      // A bundle the stream answered nothing for is refused, as putAll treats a missing result.
      outcomes = groups.flatMap((g, i) =>
        Array.from({ length: g.size }, () => put[i] ?? { errorCode: 'MissingResult' }),
      );
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

/**
 * Consecutive entries as bundles of at most `limit` bytes (an entry alone when it does not fit
 * with another, or when `limit` is 0), each with how many entries it holds.
 */
function bundle(entries: readonly PutEntry[], limit: number): Array<{ entry: PutEntry; size: number }> {
  if (limit <= 0) return entries.map((entry) => ({ entry, size: 1 }));
  const groups: Array<{ entry: PutEntry; size: number }> = [];
  let members: PutEntry[] = [];
  let bytes = 1;
  const close = () => {
    if (members.length === 1) groups.push({ entry: members[0]!, size: 1 });
    else if (members.length > 1) {
      groups.push({
        entry: { data: bundleRecords(members.map((m) => m.data)), partitionKey: members[0]!.partitionKey },
        size: members.length,
      });
    }
    members = [];
    bytes = 1;
  };
  for (const entry of entries) {
    const size = 4 + entry.data.length;
    if (members.length > 0 && bytes + size > limit) close();
    members.push(entry);
    bytes += size;
  }
  close();
  return groups;
}
