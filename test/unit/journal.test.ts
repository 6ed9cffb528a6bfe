import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.js';
import { type PutEntry, type PutOutcome, putAll, type StreamWriter } from '../../lib/stream/producer.js';
import { decodeFrames, encodeFrame, Journal } from '../../local/journal.js';
import { lockDataDir } from '../../local/lock.js';

/** A one-shard stream that numbers what it accepts; `refuse` decides per entry. */
class NumberingStream implements StreamWriter {
  readonly accepted: string[] = [];
  next = 1000n;
  constructor(public refuse: (entry: PutEntry) => boolean = () => false) {}
  async putRecords(entries: readonly PutEntry[]): Promise<PutOutcome[]> {
    return entries.map((entry) => {
      if (this.refuse(entry)) return { errorCode: 'ProvisionedThroughputExceededException' };
      this.accepted.push(Buffer.from(entry.data).toString());
      return { shardId: 'shardId-000000000000', sequenceNumber: String(this.next++) };
    });
  }
}

const entry = (text: string): PutEntry => ({ data: Buffer.from(text), partitionKey: `pk-${text}` });
const waitUntil = async (what: string, check: () => boolean | Promise<boolean>) => {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = (options: Partial<Parameters<typeof Journal.open>[0]> = {}) =>
  Journal.open({ dir, logger: silentLogger, segmentMaxAgeMs: 20, redriveAfterMs: 50, ...options });
const segments = async () => (await readdir(dir)).filter((n) => n.endsWith('.wal'));

describe('journal frames', () => {
  it('round-trip, and reading stops at a frame a crash cut short or damaged', () => {
    const frames = [entry('a'), entry('ü-€'), { data: new Uint8Array(0), partitionKey: 'k' }].map(
      encodeFrame,
    );
    const whole = Buffer.concat(frames);
    expect(decodeFrames(whole)).toEqual({
      entries: [
        { partitionKey: 'pk-a', data: Buffer.from('a') },
        { partitionKey: 'pk-ü-€', data: Buffer.from('ü-€') },
        { partitionKey: 'k', data: Buffer.alloc(0) },
      ],
      torn: false,
    });
    const cut = decodeFrames(whole.subarray(0, whole.length - 1));
    expect(cut.torn).toBe(true);
    expect(cut.entries.map((e) => e.partitionKey)).toEqual(['pk-a', 'pk-ü-€']);
    const damaged = Buffer.from(whole);
    damaged.writeUInt8(damaged.readUInt8(frames[0]!.length + 12) ^ 0xff, frames[0]!.length + 12);
    expect(decodeFrames(damaged).entries.map((e) => e.partitionKey)).toEqual(['pk-a']);
    expect(decodeFrames(Buffer.alloc(0))).toEqual({ entries: [], torn: false });
  });
});

describe('Journal', () => {
  it('writes each record to disk before the stream sees it, and journals a retried entry once', async () => {
    const journal = await open();
    const seenOnDisk: number[] = [];
    let calls = 0;
    const inner: StreamWriter = {
      putRecords: async (entries) => {
        // What the stream is given is already in a segment file.
        const files = await segments();
        let onDisk = 0;
        for (const f of files) onDisk += decodeFrames(await readFile(join(dir, f))).entries.length;
        seenOnDisk.push(onDisk);
        calls++;
        return entries.map((_, i) =>
          calls === 1 && i === 0 ? { errorCode: 'ProvisionedThroughputExceededException' } : {},
        );
      },
    };
    await putAll(journal.wrap(inner), [entry('a'), entry('b')], { sleep: async () => {} });
    expect(calls).toBe(2);
    expect(seenOnDisk).toEqual([2, 2]);
    expect(journal.stats().records).toBe(2);
    await journal.close();
  });

  it('deletes a segment once the stream accepted all of it and the consumer checkpointed past it', async () => {
    const journal = await open();
    const stream = new NumberingStream();
    let checkpoint: string | null = null;
    journal.start(stream, () => checkpoint, 10);
    const wrapped = journal.wrap(stream);
    await putAll(wrapped, [entry('a'), entry('b'), entry('c')]);
    await new Promise((r) => setTimeout(r, 80));
    expect(await segments()).toHaveLength(1);
    checkpoint = '1001';
    await new Promise((r) => setTimeout(r, 80));
    expect(await segments()).toHaveLength(1);
    checkpoint = '1002';
    await waitUntil('the segment to be deleted', async () => (await segments()).length === 0);
    expect(stream.accepted).toEqual(['a', 'b', 'c']);
    await journal.close();
  });

  it('re-drives what a crash left on disk, a torn last frame excepted, and then deletes it', async () => {
    const first = await open();
    const lost = new NumberingStream();
    await putAll(first.wrap(lost), [entry('a'), entry('b')]);
    // A crash: nothing closed, nothing confirmed; then a write cut short after the last sync.
    const [name] = await segments();
    await appendFile(join(dir, name!), encodeFrame(entry('never-acknowledged')).subarray(0, 7));

    const journal = await open();
    expect(journal.recoveredRecords).toBe(2);
    const stream = new NumberingStream();
    let checkpoint: string | null = null;
    journal.start(stream, () => checkpoint, 10);
    await waitUntil('the re-drive', () => stream.accepted.length === 2);
    expect(stream.accepted.sort()).toEqual(['a', 'b']);
    checkpoint = String(stream.next - 1n);
    await waitUntil('the segment to be deleted', async () => (await segments()).length === 0);
    await journal.close();
    await first.close();
  });

  it('re-drives every segment when the stream restarts empty, ignoring what the old stream accepted', async () => {
    const journal = await open();
    const stream = new NumberingStream();
    let checkpoint: string | null = null;
    journal.start(stream, () => checkpoint, 10);
    await putAll(journal.wrap(stream), [entry('a'), entry('b')]);
    journal.streamRestarted();
    stream.accepted.length = 0;
    // The old stream's positions mean nothing now: the records must be put again first.
    checkpoint = String(stream.next + 100n);
    await waitUntil('the re-drive', () => stream.accepted.length === 2);
    await waitUntil('the segment to be deleted', async () => (await segments()).length === 0);
    expect(stream.accepted.sort()).toEqual(['a', 'b']);
    await journal.close();
  });

  it('re-drives a closed segment whose records the stream never accepted (the client got a 503)', async () => {
    const journal = await open();
    const stream = new NumberingStream(() => true);
    let checkpoint: string | null = null;
    journal.start(stream, () => checkpoint, 10);
    await expect(
      putAll(journal.wrap(stream), [entry('a')], {
        policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      }),
    ).rejects.toThrow(/refused 1 record/);
    stream.refuse = () => false;
    await waitUntil('the re-drive', () => stream.accepted.length === 1);
    checkpoint = String(stream.next - 1n);
    await waitUntil('the segment to be deleted', async () => (await segments()).length === 0);
    await journal.close();
  });

  it('closes while a re-drive waits on a stream that never answers, keeping the segment for the next start', async () => {
    // Arrange: a crash left a segment; the stream then takes calls and never answers them.
    const first = await open();
    await putAll(first.wrap(new NumberingStream()), [entry('a')]);
    const journal = await open();
    let calls = 0;
    const silent: StreamWriter = {
      putRecords: (_entries, signal) => {
        calls += 1;
        return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
      },
    };
    journal.start(silent, () => null, 10);
    await waitUntil('the re-drive to call the stream', () => calls > 0);

    // Act
    const closed = await Promise.race([
      journal.close().then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still waiting'), 2000)),
    ]);

    // Assert
    expect(closed).toBe('closed');
    const again = await open();
    expect(again.recoveredRecords).toBe(1);
    await again.close();
    await first.close();
  });

  it('keeps unconfirmed segments on close, for the next start', async () => {
    const journal = await open();
    const stream = new NumberingStream();
    journal.start(stream, () => null, 10);
    await putAll(journal.wrap(stream), [entry('a')]);
    await journal.close();
    expect(await segments()).toHaveLength(1);
    await expect(journal.append([entry('b')])).rejects.toThrow(/closed/);
    const again = await open();
    expect(again.recoveredRecords).toBe(1);
    await again.close();
  });

  it('groups concurrent appends into one write', async () => {
    const journal = await open({ segmentMaxAgeMs: 60_000 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => journal.append([entry(String(i))])));
    const [name] = await segments();
    expect(decodeFrames(await readFile(join(dir, name!))).entries).toHaveLength(50);
    expect(journal.stats().segments).toBe(1);
    await journal.close();
  });
});

describe('data dir lock', () => {
  it('refuses a second holder that runs, naming it, and takes over a lock whose process is gone', async () => {
    const lock = await lockDataDir(dir);
    await writeFile(join(dir, 'tally.pid'), `${process.ppid}\n`);
    await expect(lockDataDir(dir)).rejects.toThrow(
      new RegExp(`another Tally \\(pid ${process.ppid}\\) is running on the data dir`),
    );
    // A pid no process has (above the kernel's pid_max).
    await writeFile(join(dir, 'tally.pid'), '99999999\n');
    const taken = await lockDataDir(dir);
    expect((await readFile(join(dir, 'tally.pid'), 'utf8')).trim()).toBe(String(process.pid));
    await taken.release();
    await lock.release();
    await expect(readdir(dir)).resolves.not.toContain('tally.pid');
  });
});
