import { brotliDecompressSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bundleRecords,
  CodecError,
  decodeRecord,
  encodeRecords,
  MAX_RECORD_BYTES,
  recordText,
  type StreamItem,
} from '../../lib/stream/codec.js';
import { lakeEvent, lakeEventArb } from '../helpers/events.js';

describe('record codec', () => {
  it('round-trips any events and bad rows, in order', () => {
    const badRow = fc.record({
      project: fc.option(fc.constant('shop'), { nil: null }),
      stage: fc.constantFrom('collect' as const, 'lake' as const),
      reason: fc.string(),
      message: fc.string(),
      receivedAt: fc.nat(),
      eventId: fc.option(fc.string(), { nil: null }),
      payload: fc.option(fc.string(), { nil: null }),
      userHash: fc.option(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), { nil: null }),
      anonymousHash: fc.option(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), { nil: null }),
    });
    const item = fc.oneof(
      lakeEventArb.map((event): StreamItem => ({ kind: 'event', event })),
      badRow.map((badRow): StreamItem => ({ kind: 'bad', badRow })),
    );
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 30 }), (items) => {
        const decoded = encodeRecords(items).flatMap((r) => decodeRecord(r).items);
        expect(decoded).toEqual(items);
      }),
    );
  });

  it('round-trips text fields holding any UTF-16: control characters, quotes, backslashes, emoji, lone surrogates', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const event = fc.record({
      base: lakeEventArb,
      eventId: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      event: fc.option(text, { nil: null }),
      channel: fc.option(text, { nil: null }),
      flags: fc.option(text, { nil: null }),
    });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 10 }), (events) => {
        const items = events.map(
          ({ base, ...fields }): StreamItem => ({ kind: 'event', event: { ...base, ...fields } }),
        );
        expect(encodeRecords(items).flatMap((r) => decodeRecord(r).items)).toEqual(items);
      }),
    );
  });

  it('writes an item bigger than a whole record on its own, between the items around it', () => {
    const huge = JSON.stringify({ pad: '\u00e9'.repeat(1_500_000) });
    const items: StreamItem[] = ['before', 'huge', 'after'].map((eventId) => ({
      kind: 'event',
      event: lakeEvent({ eventId, properties: eventId === 'huge' ? huge : '{}' }),
    }));
    const records = encodeRecords(items);
    expect(
      records.map((r) => decodeRecord(r).items.map((i) => i.kind === 'event' && i.event.eventId)),
    ).toEqual([['before'], ['huge'], ['after']]);
    expect(records.flatMap((r) => decodeRecord(r).items)).toEqual(items);
  });

  it('reads records written before the channel field existed, with a null channel', () => {
    // Arrange: a record as the previous collector wrote it, "channel" absent from the header.
    const header = JSON.stringify({
      k: 'e',
      project: 'shop',
      event_id: 'old-1',
      type: 'track',
      event: 'E',
      user_hash: '5',
      anonymous_hash: null,
      event_time: 1,
      received_at: 2,
      key_version: 1,
      flags: null,
    });
    const record = Buffer.concat([Buffer.of(1), gzipSync(`${header}\n{}\n`)]);

    // Act
    const { items } = decodeRecord(record);

    // Assert
    expect(items).toMatchObject([
      { kind: 'event', event: { eventId: 'old-1', channel: null, properties: '{}' } },
    ]);
  });

  it('splits into records of at most 1 MiB', () => {
    const items: StreamItem[] = Array.from({ length: 200 }, (_, i) => ({
      kind: 'event',
      event: lakeEvent({
        eventId: `e${i}`,
        properties: JSON.stringify({ pad: Math.random().toString(36).repeat(800) }),
      }),
    }));
    const records = encodeRecords(items);
    expect(records.length).toBeGreaterThan(1);
    for (const r of records) expect(r.length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(records.flatMap((r) => decodeRecord(r).items)).toHaveLength(200);
  });

  it('refuses an unknown version or a broken body as a whole', () => {
    expect(() => decodeRecord(Buffer.from('{"not":"ours"}'))).toThrow(/unknown record format version 123/);
    expect(() => decodeRecord(Buffer.from([1, 2, 3, 4]))).toThrow(/not valid gzip/);
    expect(() => decodeRecord(Buffer.from([2, 2, 3, 4]))).toThrow(/not valid Brotli/);
    expect(() => decodeRecord(Buffer.from([2]))).toThrow(CodecError);
  });

  it('writes Brotli records (version 2) and still reads gzip ones (version 1)', () => {
    // Arrange
    const [record] = encodeRecords([{ kind: 'event', event: lakeEvent() }]);
    const text = brotliDecompressSync(record!.subarray(1)).toString('utf8');

    // Act
    const fromGzip = decodeRecord(Buffer.concat([Buffer.of(1), gzipSync(text)]));

    // Assert
    expect(record![0]).toBe(2);
    expect(decodeRecord(record!).items).toEqual([{ kind: 'event', event: lakeEvent() }]);
    expect(fromGzip.items).toEqual([{ kind: 'event', event: lakeEvent() }]);
  });

  it('reports invalid lines and keeps the valid ones', () => {
    const good = encodeRecords([{ kind: 'event', event: lakeEvent() }])[0]!;
    const [header, properties, context] = decodeRecordText(good).split('\n') as [string, string, string];
    const negative = JSON.stringify({ ...JSON.parse(header), user_hash: '-5' });
    const lines = [header, properties, context, '{broken', negative, '', '', header, 'not json', ''].join(
      '\n',
    );
    const decoded = decodeRecord(Buffer.concat([Buffer.of(1), gzipSync(lines)]));
    expect(decoded.items).toEqual([{ kind: 'event', event: lakeEvent() }]);
    expect(decoded.invalid.map((i) => [i.line, i.message])).toEqual([
      [3, 'line is not JSON'],
      [4, 'field user_hash is missing or invalid'],
      [7, 'event is not followed by its properties and context lines'],
      [8, 'line is not JSON'],
      [9, 'line is not JSON'],
    ]);
  });
});

function decodeRecordText(record: Buffer): string {
  return recordText(record);
}

describe('a bundle record', () => {
  it('reads as its records one after another, and is refused cut short or nested', () => {
    const a = encodeRecords([{ kind: 'event', event: lakeEvent({ eventId: 'a1' }) }])[0]!;
    const b = encodeRecords([
      { kind: 'event', event: lakeEvent({ eventId: 'b1' }) },
      { kind: 'event', event: lakeEvent({ eventId: 'b2' }) },
    ])[0]!;
    const bundle = bundleRecords([a, b]);
    expect(decodeRecord(bundle).items.map((i) => (i.kind === 'event' ? i.event.eventId : ''))).toEqual([
      'a1',
      'b1',
      'b2',
    ]);
    expect(() => decodeRecord(bundle.subarray(0, bundle.length - 3))).toThrow(/bundle is cut at byte/);
    expect(() => decodeRecord(bundleRecords([bundle]))).toThrow(/a bundle holds another bundle/);
  });
});
