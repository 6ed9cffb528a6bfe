import { describe, expect, it } from 'vitest';
import { CoalescingWriter, PUT_PAYLOAD_UNIT_BYTES } from '../../lib/stream/coalesce.js';
import { decodeRecord, encodeRecords } from '../../lib/stream/codec.js';
import { type PutEntry, type PutOutcome, putAll, type StreamWriter } from '../../lib/stream/producer.js';
import { lakeEvent } from '../helpers/events.js';

const entry = (id: string, bytes = 10): PutEntry => ({ data: Buffer.alloc(bytes, id), partitionKey: id });

/** A stream that records each call, answers after `delayMs`, and refuses the entries `refuse` names. */
class RecordingStream implements StreamWriter {
  readonly calls: string[][] = [];
  constructor(
    private readonly delayMs = 1,
    private readonly refuse: (key: string, call: number) => boolean = () => false,
  ) {}
  async putRecords(entries: readonly PutEntry[]): Promise<PutOutcome[]> {
    const n = this.calls.push(entries.map((e) => e.partitionKey));
    await new Promise((r) => setTimeout(r, this.delayMs));
    return entries.map((e, i) =>
      this.refuse(e.partitionKey, n)
        ? { errorCode: 'ProvisionedThroughputExceededException' }
        : { shardId: 's', sequenceNumber: `${n}-${i}` },
    );
  }
}

describe('a coalescing writer', () => {
  it('puts the records of concurrent requests in one call and gives each request its own outcomes', async () => {
    const stream = new RecordingStream();
    const writer = new CoalescingWriter(stream);
    const requests = Array.from({ length: 50 }, (_, r) => [entry(`r${r}a`), entry(`r${r}b`)]);
    const outcomes = await Promise.all(requests.map((entries) => writer.putRecords(entries)));
    expect(stream.calls).toHaveLength(1);
    expect(stream.calls[0]).toEqual(requests.flat().map((e) => e.partitionKey));
    expect(outcomes).toEqual(
      requests.map((_, r) => [
        { shardId: 's', sequenceNumber: `1-${2 * r}` },
        { shardId: 's', sequenceNumber: `1-${2 * r + 1}` },
      ]),
    );
    expect(writer.sent).toEqual({ calls: 1, records: 100, entries: 100 });
  });

  it('keeps every call within 500 records and 5 MiB, never splitting a request', async () => {
    const stream = new RecordingStream();
    const writer = new CoalescingWriter(stream);
    // 300 requests of 3 records (900) and 20 of 3 x 100 KB (6 MB): several calls.
    const small = Array.from({ length: 300 }, (_, r) => [0, 1, 2].map((i) => entry(`s${r}-${i}`)));
    const big = Array.from({ length: 20 }, (_, r) => [0, 1, 2].map((i) => entry(`b${r}-${i}`, 100_000)));
    await Promise.all([...small, ...big].map((entries) => writer.putRecords(entries)));
    expect(stream.calls.flat()).toHaveLength(900 + 60);
    for (const call of stream.calls) {
      expect(call.length).toBeLessThanOrEqual(500);
      const bytes = call.reduce((n, key) => n + key.length + (key.startsWith('b') ? 100_000 : 10), 0);
      expect(bytes).toBeLessThanOrEqual(5 * 1024 * 1024);
      // A request's three records are in the same call.
      for (const key of call) expect(call).toContain(key.replace(/-\d$/, '-0'));
    }
  });

  it('lets each request retry its own refused records (putAll over it), and fails a whole call to all its requests', async () => {
    // Call 1 refuses r1's records; their retry succeeds.
    const stream = new RecordingStream(1, (key, call) => call === 1 && key.startsWith('r1'));
    const writer = new CoalescingWriter(stream);
    await Promise.all(
      [0, 1, 2].map((r) => putAll(writer, [entry(`r${r}a`), entry(`r${r}b`)], { sleep: async () => {} })),
    );
    expect(stream.calls).toEqual([
      ['r0a', 'r0b', 'r1a', 'r1b', 'r2a', 'r2b'],
      ['r1a', 'r1b'],
    ]);
    const broken = new CoalescingWriter({
      putRecords: async () => {
        throw Object.assign(new Error('timeout'), { name: 'TimeoutError' });
      },
    });
    const results = await Promise.allSettled([
      broken.putRecords([entry('x')]),
      broken.putRecords([entry('y')]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('bundles the records of concurrent requests into stream records of at most a PUT unit, which decode to every item in order', async () => {
    const stream = new RecordingStream(1, (key, call) => call === 1 && key === 'r0');
    const calls: PutEntry[][] = [];
    const writer = new CoalescingWriter(
      {
        putRecords: (entries) => {
          calls.push([...entries]);
          return stream.putRecords(entries);
        },
      },
      { bundleBytes: PUT_PAYLOAD_UNIT_BYTES },
    );
    // 40 requests of 20 events each (a few KB a record): several bundles, each under 25 KB.
    const requests = Array.from({ length: 40 }, (_, r) =>
      encodeRecords(
        Array.from({ length: 20 }, (_, i) => ({
          kind: 'event' as const,
          event: lakeEvent({ eventId: `r${r}e${i}` }),
        })),
      ).map((data) => ({ data, partitionKey: `r${r}` })),
    );
    await Promise.all(requests.map((entries) => putAll(writer, entries, { sleep: async () => {} })));
    const first = calls[0]!;
    expect(first.length).toBeLessThan(40);
    for (const record of first) expect(record.data.length).toBeLessThanOrEqual(PUT_PAYLOAD_UNIT_BYTES);
    const ids = first.flatMap((record) =>
      decodeRecord(record.data).items.map((item) => (item.kind === 'event' ? item.event.eventId : '')),
    );
    expect(ids).toEqual(requests.flatMap((_, r) => Array.from({ length: 20 }, (_, i) => `r${r}e${i}`)));
    // The bundle that r0 opened was refused: every request in it put its record again, no other.
    const again = calls[1]!.flatMap((record) =>
      decodeRecord(record.data).items.map((item) => (item.kind === 'event' ? item.event.eventId : '')),
    );
    const refusedBundle = decodeRecord(first[0]!.data).items.length / 20;
    expect(again).toHaveLength(refusedBundle * 20);
    expect(writer.sent.entries).toBe(40 + refusedBundle);
  });

  it('refuses the records of a bundle the stream answered nothing for, so their requests put them again', async () => {
    const short = new CoalescingWriter(
      { putRecords: async () => [] },
      { bundleBytes: PUT_PAYLOAD_UNIT_BYTES },
    );
    const outcomes = await Promise.all([short.putRecords([entry('a')]), short.putRecords([entry('b')])]);
    expect(outcomes).toEqual([[{ errorCode: 'MissingResult' }], [{ errorCode: 'MissingResult' }]]);
  });

  it('holds calls beyond its in-flight limit and drains them all', async () => {
    const stream = new RecordingStream(5);
    const writer = new CoalescingWriter(stream, { maxInFlight: 2 });
    const all = Array.from({ length: 10 }, (_, r) =>
      writer.putRecords(Array.from({ length: 500 }, (_, i) => entry(`r${r}-${i}`))),
    );
    await writer.drain();
    expect(stream.calls).toHaveLength(10);
    expect((await Promise.all(all)).flat()).toHaveLength(5000);
  });
});
