import { type FileHandle, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from '../lib/log.js';
import { type PutEntry, type PutOutcome, planCalls, type StreamWriter } from '../lib/stream/producer.js';

/**
 * The write-ahead journal of the local collector. kinesis-local keeps its stream in memory, so on
 * one machine the stream is not where an acknowledged event is safe: the journal is. Every record
 * is appended to the current segment file and synced to disk before its PutRecords call goes out,
 * so before any 200; concurrent requests share one sync (group commit). A segment is deleted only
 * when every record in it was accepted by the current stream and the poller has checkpointed past
 * all of them, i.e. the lake writer has stored them. Whatever is left on disk after a crash, or
 * when the stream restarted empty, is put on the stream again ("re-driven"); the copies that were
 * already in the lake are removed by `event_id`, as every other duplicate is.
 *
 * Segment file: frames of `u32 length | u32 crc32 | u16 key length | partition key | data`, where
 * length and crc cover what follows them. Reading stops at the first incomplete or damaged frame:
 * that is a write a crash cut short, which was therefore never synced, never acknowledged.
 */

export interface JournalOptions {
  dir: string;
  logger: Logger;
  /** Sync each group of appends to disk before it is acknowledged. @default true */
  sync?: boolean;
  /** A segment is closed when it reaches this size... @default 8 MiB */
  segmentMaxBytes?: number;
  /** ...or this age, so that it can be confirmed and deleted. @default 1000 */
  segmentMaxAgeMs?: number;
  /** A closed segment with records the stream never confirmed is re-driven after this. @default 15000 */
  redriveAfterMs?: number;
}

/** What the journal asks of the consumer side: the last processed sequence number of a shard. */
export type Checkpoint = (shardId: string) => string | null;

interface Segment {
  name: string;
  fd: FileHandle | null;
  bytes: number;
  records: number;
  openedAt: number;
  closedAt: number;
  /** Indexes of the records the current stream accepted, and where it put the last of each shard. */
  accepted: Set<number>;
  maxSequence: Map<string, bigint>;
  /** The stream this segment's acceptances belong to; a restart of the stream invalidates them. */
  epoch: number;
  needsRedrive: boolean;
  redriving: boolean;
}

interface Pending {
  entries: readonly PutEntry[];
  resolve: () => void;
  reject: (error: Error) => void;
}

const HEADER = 10;
const SEGMENT_SUFFIX = '.wal';

/** Frames one record; exported for tests that damage a segment on purpose. */
export function encodeFrame(entry: PutEntry): Buffer {
  const key = Buffer.from(entry.partitionKey, 'utf8');
  const frame = Buffer.allocUnsafe(HEADER + key.length + entry.data.length);
  frame.writeUInt32BE(2 + key.length + entry.data.length, 0);
  frame.writeUInt16BE(key.length, 8);
  key.copy(frame, HEADER);
  frame.set(entry.data, HEADER + key.length);
  frame.writeUInt32BE(crc32(frame.subarray(8)), 4);
  return frame;
}

/** The records of a segment, up to the first frame a crash cut short; `torn` says whether one was. */
export function decodeFrames(buffer: Buffer): { entries: PutEntry[]; torn: boolean } {
  const entries: PutEntry[] = [];
  let at = 0;
  while (at < buffer.length) {
    if (at + HEADER > buffer.length) return { entries, torn: true };
    const length = buffer.readUInt32BE(at);
    const end = at + 8 + length;
    if (length < 2 || end > buffer.length) return { entries, torn: true };
    if (crc32(buffer.subarray(at + 8, end)) !== buffer.readUInt32BE(at + 4)) return { entries, torn: true };
    const keyLength = buffer.readUInt16BE(at + 8);
    if (HEADER + keyLength > 8 + length) return { entries, torn: true };
    entries.push({
      partitionKey: buffer.toString('utf8', at + HEADER, at + HEADER + keyLength),
      data: buffer.subarray(at + HEADER + keyLength, end),
    });
    at = end;
  }
  return { entries, torn: false };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Journal {
  private readonly options: Required<Omit<JournalOptions, 'logger' | 'dir'>>;
  private readonly segments: Segment[] = [];
  private active: Segment | null = null;
  private queue: Pending[] = [];
  private flushing = false;
  private epoch = 0;
  private sequence = 0;
  private readonly placed = new WeakMap<PutEntry, { segment: Segment; index: number }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private closed = false;
  /** Aborted by close(): stream calls of re-drives in flight are abandoned. */
  private readonly closing = new AbortController();
  private stream: StreamWriter | null = null;
  private checkpoint: Checkpoint = () => null;

  private constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    options: JournalOptions,
  ) {
    this.options = {
      sync: options.sync ?? true,
      segmentMaxBytes: options.segmentMaxBytes ?? 8 * 1024 * 1024,
      segmentMaxAgeMs: options.segmentMaxAgeMs ?? 1000,
      redriveAfterMs: options.redriveAfterMs ?? 15_000,
    };
  }

  /** Opens the journal directory; segments left by an earlier run are re-driven once started. */
  static async open(options: JournalOptions): Promise<Journal> {
    const journal = new Journal(options.dir, options.logger, options);
    await mkdir(options.dir, { recursive: true });
    const names = (await readdir(options.dir)).filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort();
    for (const name of names) {
      const { entries } = decodeFrames(await readFile(join(options.dir, name)));
      journal.segments.push(journal.segment(name, entries.length, true));
    }
    return journal;
  }

  /** Records left from before this start (crash or stop) that will be put on the stream again. */
  get recoveredRecords(): number {
    return this.segments.filter((s) => s.needsRedrive).reduce((n, s) => n + s.records, 0);
  }

  /** Segments on disk and the records in them (for progress output and tests). */
  stats(): { segments: number; records: number; unconfirmed: number } {
    let records = 0;
    let unconfirmed = 0;
    for (const s of this.segments) {
      records += s.records;
      unconfirmed += s.records - (s.epoch === this.epoch ? s.accepted.size : 0);
    }
    return { segments: this.segments.length, records, unconfirmed };
  }

  /**
   * Starts the background work: closing, confirming, deleting and re-driving segments. `stream`
   * is the real writer (re-drives go straight to it), `checkpoint` the poller's positions.
   */
  start(stream: StreamWriter, checkpoint: Checkpoint, intervalMs = 250): void {
    this.stream = stream;
    this.checkpoint = checkpoint;
    this.timer = setInterval(() => {
      this.ticking = this.ticking
        .then(() => this.tick())
        .catch((error: Error) => {
          this.logger.error('journal maintenance failed; retrying', { error: error.message });
        });
    }, intervalMs);
  }

  /**
   * The stream lost what it held (kinesis-local restarted empty): no acceptance counts any more,
   * every segment on disk goes to the new stream again.
   */
  streamRestarted(): void {
    this.epoch++;
    for (const segment of this.segments) {
      segment.needsRedrive = true;
      segment.accepted.clear();
      segment.maxSequence.clear();
    }
    this.active = null;
  }

  /** A writer that journals each entry once (retries of the same entry are not journaled again). */
  wrap(inner: StreamWriter): StreamWriter {
    return {
      putRecords: async (entries) => {
        const fresh = entries.filter((e) => !this.placed.has(e));
        if (fresh.length > 0) await this.append(fresh);
        const epoch = this.epoch;
        const outcomes = await inner.putRecords(entries);
        this.accept(entries, outcomes, epoch);
        return outcomes;
      },
    };
  }

  /** Waits until the entries are on disk (and synced, unless sync is off). */
  append(entries: readonly PutEntry[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the journal is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /**
   * Journals records that were never put on this stream (moved from elsewhere, e.g. an old data
   * dir's emulator file): their segment is closed and re-driven like a crash's leftovers.
   */
  async appendUnsent(entries: readonly PutEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.append(entries);
    const segment = this.placed.get(entries[0]!)!.segment;
    if (segment.fd !== null && !this.flushing) await this.closeSegment(segment);
    segment.needsRedrive = true;
  }

  private segment(name: string, records: number, recovered: boolean): Segment {
    const now = Date.now();
    return {
      name,
      fd: null,
      bytes: 0,
      records,
      openedAt: now,
      closedAt: now,
      accepted: new Set(),
      maxSequence: new Map(),
      epoch: this.epoch,
      needsRedrive: recovered,
      redriving: false,
    };
  }

  private async openSegment(): Promise<Segment> {
    const name = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${String(this.sequence++).padStart(6, '0')}${SEGMENT_SUFFIX}`;
    const segment = this.segment(name, 0, false);
    segment.fd = await open(join(this.dir, name), 'wx');
    if (this.options.sync) {
      // The new name must survive a power cut too, not only the bytes written under it.
      const dir = await open(this.dir, 'r');
      await dir.sync().finally(() => dir.close());
    }
    this.segments.push(segment);
    return segment;
  }

  private async closeSegment(segment: Segment): Promise<void> {
    if (this.active === segment) this.active = null;
    segment.closedAt = Date.now();
    const fd = segment.fd;
    segment.fd = null;
    await fd?.close();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0);
        try {
          const active = this.active;
          if (
            active &&
            (active.bytes >= this.options.segmentMaxBytes ||
              Date.now() - active.openedAt >= this.options.segmentMaxAgeMs)
          ) {
            await this.closeSegment(active);
          }
          if (!this.active) this.active = await this.openSegment();
          const segment = this.active;
          const frames: Buffer[] = [];
          for (const pending of group) {
            for (const entry of pending.entries) {
              this.placed.set(entry, { segment, index: segment.records++ });
              const frame = encodeFrame(entry);
              segment.bytes += frame.length;
              frames.push(frame);
            }
          }
          await segment.fd!.writev(frames);
          if (this.options.sync) await segment.fd!.datasync();
          for (const pending of group) pending.resolve();
        } catch (error) {
          for (const pending of group) pending.reject(error as Error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private accept(entries: readonly PutEntry[], outcomes: readonly PutOutcome[], epoch: number): void {
    if (epoch !== this.epoch) return;
    entries.forEach((entry, i) => {
      const outcome = outcomes[i];
      const place = this.placed.get(entry);
      if (!place || !outcome || outcome.errorCode || !outcome.shardId || !outcome.sequenceNumber) return;
      const { segment, index } = place;
      if (segment.epoch !== epoch) return;
      segment.accepted.add(index);
      const sequence = BigInt(outcome.sequenceNumber);
      const max = segment.maxSequence.get(outcome.shardId);
      if (max === undefined || sequence > max) segment.maxSequence.set(outcome.shardId, sequence);
    });
  }

  private confirmed(segment: Segment): boolean {
    if (segment.needsRedrive || segment.epoch !== this.epoch) return false;
    if (segment.accepted.size < segment.records) return false;
    for (const [shardId, max] of segment.maxSequence) {
      const done = this.checkpoint(shardId);
      if (done === null || BigInt(done) < max) return false;
    }
    return true;
  }

  /** One round of maintenance; runs every interval, and once more on close. */
  async tick(): Promise<void> {
    const active = this.active;
    if (
      active &&
      !this.flushing &&
      active.records > 0 &&
      Date.now() - active.openedAt >= this.options.segmentMaxAgeMs
    ) {
      await this.closeSegment(active);
    }
    for (const segment of [...this.segments]) {
      if (segment === this.active || segment.redriving) continue;
      // A segment left open by a stream restart is closed once no append is writing to it.
      if (segment.fd !== null) {
        if (!this.flushing) await this.closeSegment(segment);
        continue;
      }
      if (this.confirmed(segment)) {
        await unlink(join(this.dir, segment.name)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        });
        this.segments.splice(this.segments.indexOf(segment), 1);
        continue;
      }
      const stale =
        segment.epoch === this.epoch &&
        segment.accepted.size < segment.records &&
        Date.now() - segment.closedAt >= this.options.redriveAfterMs;
      if ((segment.needsRedrive || stale) && !this.closed) {
        segment.redriving = true;
        void this.redrive(segment).finally(() => {
          segment.redriving = false;
        });
      }
    }
  }

  /** Puts a whole segment on the stream again, until the stream accepted every record of it. */
  private async redrive(segment: Segment): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    const epoch = this.epoch;
    segment.epoch = epoch;
    segment.needsRedrive = false;
    segment.accepted.clear();
    segment.maxSequence.clear();
    let entries: PutEntry[];
    try {
      entries = decodeFrames(await readFile(join(this.dir, segment.name))).entries;
    } catch (error) {
      segment.needsRedrive = true;
      throw error;
    }
    segment.records = entries.length;
    entries.forEach((entry, index) => {
      this.placed.set(entry, { segment, index });
    });
    this.logger.info('re-driving journal segment', { segment: segment.name, records: entries.length });
    let pending = entries;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(100 * 2 ** attempt, 5000));
      if (this.closed || this.closing.signal.aborted || this.epoch !== epoch) return;
      const failed: PutEntry[] = [];
      for (const call of planCalls(pending)) {
        try {
          const outcomes = await stream.putRecords(call, this.closing.signal);
          this.accept(call, outcomes, epoch);
          call.forEach((entry, i) => {
            if (!outcomes[i] || outcomes[i]!.errorCode) failed.push(entry);
          });
        } catch {
          failed.push(...call);
        }
      }
      pending = failed;
    }
  }

  /** Waits for the pending appends, closes the open segment; what is unconfirmed stays on disk. */
  async close(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await sleep(5);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // A re-drive waiting on the stream is abandoned: its segment stays on disk for the next start.
    this.closing.abort(new Error('the journal is closing'));
    await this.ticking;
    if (this.active) await this.closeSegment(this.active);
    this.closed = true;
    while (this.segments.some((s) => s.redriving)) await sleep(10);
    await this.tick();
    for (const segment of this.segments) await this.closeSegment(segment);
  }
}
