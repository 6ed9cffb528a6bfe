import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import { decodeManifest } from '../../lib/lake/manifest.js';
import { type ObjectStore, StorageError } from '../../lib/lake/store.js';
import { type LakeRecord, writeBatch } from '../../lib/lake/writer.js';
import { encodeRecords } from '../../lib/stream/codec.js';
import { readLakeStore } from '../helpers/duckdb.js';
import { lakeEvent } from '../helpers/events.js';
import { MemoryStore } from '../helpers/memory.js';

const ARRIVAL = Date.parse('2026-03-10T12:34:56Z');

function record(seq: number, events: LakeEvent[]): LakeRecord {
  const [data] = encodeRecords(events.map((event) => ({ kind: 'event' as const, event })));
  return {
    shardId: 'shardId-000000000000',
    sequenceNumber: String(1000 + seq),
    partitionKey: `pk${seq}`,
    data: data!,
    arrivalMs: ARRIVAL + seq,
  };
}

const day = (d: string, h = 10) => Date.parse(`2026-03-${d}T${String(h).padStart(2, '0')}:00:00Z`);

describe('writeBatch', () => {
  it('writes one Parquet file per project and UTC day, then a manifest', async () => {
    const store = new MemoryStore();
    const records = [
      record(0, [
        lakeEvent({ eventId: 'a', eventTime: day('09', 23) }),
        lakeEvent({ eventId: 'b', eventTime: day('10', 0) }),
      ]),
      record(1, [
        lakeEvent({ eventId: 'c', project: 'blog', userHash: 2n ** 62n + 1n, eventTime: day('10') }),
      ]),
    ];
    const outcome = await writeBatch(records, store);
    expect(outcome.response).toEqual({ batchItemFailures: [] });
    expect(await store.list('events/')).toEqual([
      'events/project=blog/dt=2026-03-10/shardid-000000000000-1000.parquet',
      'events/project=shop/dt=2026-03-09/shardid-000000000000-1000.parquet',
      'events/project=shop/dt=2026-03-10/shardid-000000000000-1000.parquet',
    ]);
    const manifest = decodeManifest(
      (await store.get('manifests/2026-03-10/12/shardid-000000000000-1000.json'))!,
    );
    expect(manifest).toMatchObject({
      records: 2,
      events: 3,
      firstSequenceNumber: '1000',
      lastSequenceNumber: '1001',
    });
    expect(manifest.files.map((f) => [f.project, f.dt, f.rows])).toEqual([
      ['shop', '2026-03-09', 1],
      ['shop', '2026-03-10', 1],
      ['blog', '2026-03-10', 1],
    ]);
    const rows = await readLakeStore(store);
    expect(rows.map((r) => [r.event_id, r.project, r.dt, r.user_hash])).toEqual([
      ['a', 'shop', '2026-03-09', 123n],
      ['b', 'shop', '2026-03-10', 123n],
      ['c', 'blog', '2026-03-10', 2n ** 62n + 1n],
    ]);
  });

  it('writes the country and what the context says (platform, browser, campaign...) as columns, bots flagged', async () => {
    const store = new MemoryStore();
    const browser = {
      userAgent:
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
      library: { name: 'analytics.js' },
      page: { referrer: 'https://news.example.org/a' },
      campaign: { source: 'mail', medium: 'email', name: 'spring' },
    };
    const events = [
      lakeEvent({ eventId: 'web', country: 'DE', context: JSON.stringify(browser) }),
      lakeEvent({
        eventId: 'ios',
        context: JSON.stringify({
          library: { name: 'analytics-ios' },
          os: { name: 'iOS' },
          app: { version: '4.2.0' },
        }),
      }),
      lakeEvent({
        eventId: 'bot',
        context: JSON.stringify({ userAgent: 'Mozilla/5.0 (compatible; bingbot/2.0)', campaign: 7 }),
      }),
      lakeEvent({ eventId: 'none', context: null, flags: 'future_clamped' }),
    ];

    await writeBatch([record(0, events)], store);

    const rows = await readLakeStore(store);
    const columns = (r: (typeof rows)[number]) => [
      r.event_id,
      r.country,
      r.platform,
      r.os,
      r.browser,
      r.device_type,
      r.app_version,
      r.library,
      r.utm_source,
      r.utm_medium,
      r.utm_campaign,
      r.referrer_domain,
      r.bot,
      r.flags,
    ];
    expect(rows.map(columns)).toEqual([
      [
        'bot',
        null,
        'web',
        null,
        'BingCrawler',
        'bot',
        null,
        null,
        null,
        null,
        null,
        null,
        true,
        'campaign_ignored',
      ],
      [
        'ios',
        null,
        'ios',
        'iOS',
        null,
        'mobile',
        '4.2.0',
        'analytics-ios',
        null,
        null,
        null,
        null,
        null,
        null,
      ],
      ['none', null, null, null, null, null, null, null, null, null, null, null, null, 'future_clamped'],
      [
        'web',
        'DE',
        'web',
        'macOS',
        'Safari',
        'desktop',
        null,
        'analytics.js',
        'mail',
        'email',
        'spring',
        'news.example.org',
        false,
        null,
      ],
    ]);
  });

  it('keeps a poison record as a bad row and writes the rest', async () => {
    const store = new MemoryStore();
    const poison: LakeRecord = { ...record(1, []), data: Buffer.from('not a tally record') };
    const outcome = await writeBatch(
      [record(0, [lakeEvent({ eventId: 'a' })]), poison, record(2, [lakeEvent({ eventId: 'b' })])],
      store,
    );
    expect(outcome.response.batchItemFailures).toEqual([]);
    expect((await readLakeStore(store)).map((r) => r.event_id)).toEqual(['a', 'b']);
    const [badFile] = await store.list('bad/');
    const bad = gunzipSync((await store.get(badFile!))!)
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(bad).toMatchObject([
      { stage: 'lake', reason: 'undecodable_record', message: expect.stringContaining('1001') },
    ]);
    expect(outcome.manifest?.badReasons).toEqual({ undecodable_record: 1 });
  });

  it('reports the first sequence number when storage fails, and writes no manifest', async () => {
    const memory = new MemoryStore();
    let puts = 0;
    const flaky: ObjectStore = {
      ...memory,
      list: (p) => memory.list(p),
      get: (k) => memory.get(k),
      put: async (key, body, type) => {
        if (++puts === 2) throw new StorageError('put', key, new Error('SlowDown'));
        return memory.put(key, body, type);
      },
    };
    const records = [
      record(0, [lakeEvent({ eventId: 'a', project: 'x' })]),
      record(1, [lakeEvent({ eventId: 'b' })]),
    ];
    const outcome = await writeBatch(records, flaky);
    expect(outcome.response).toEqual({ batchItemFailures: [{ itemIdentifier: '1000' }] });
    expect(await memory.list('manifests/')).toEqual([]);
  });

  it('overwrites its own files when the same batch or a superset is redelivered', async () => {
    const store = new MemoryStore();
    const first = [record(0, [lakeEvent({ eventId: 'a' })]), record(1, [lakeEvent({ eventId: 'b' })])];
    await writeBatch(first, store);
    await writeBatch(first, store);
    const keysAfterRetry = await store.list('');
    await writeBatch([...first, record(2, [lakeEvent({ eventId: 'c' })])], store);
    expect(await store.list('')).toEqual(keysAfterRetry);
    expect((await readLakeStore(store)).map((r) => r.event_id)).toEqual(['a', 'b', 'c']);
  });

  it('keeps one row of copies alike within a batch (a redelivered record)', async () => {
    const store = new MemoryStore();
    const same = lakeEvent({ eventId: 'dup' });
    const outcome = await writeBatch([record(0, [same, same]), record(1, [same])], store);
    expect((await readLakeStore(store)).map((r) => r.event_id)).toEqual(['dup']);
    expect(outcome.manifest?.duplicatesInBatch).toBe(2);
  });

  it('keeps every copy received at another time, for the warehouse to judge by its window', async () => {
    // Arrange: a client resends an event an hour later, and that resend is redelivered.
    const store = new MemoryStore();
    const first = lakeEvent({ eventId: 'again' });
    const resend = { ...first, receivedAt: first.receivedAt + 3_600_000 };

    // Act
    const outcome = await writeBatch([record(0, [first]), record(1, [resend, resend])], store);

    // Assert
    const rows = await readLakeStore(store);
    expect(rows.map((r) => r.event_id)).toEqual(['again', 'again']);
    expect(rows.map((r) => r.received_at_ms).sort()).toEqual([resend.receivedAt, first.receivedAt].sort());
    expect(outcome.manifest?.duplicatesInBatch).toBe(1);
  });

  it('does nothing for an empty batch', async () => {
    const store = new MemoryStore();
    expect((await writeBatch([], store)).response).toEqual({ batchItemFailures: [] });
    expect(store.puts).toBe(0);
  });

  it('answers a failed batch only after every write of it settled, so a retry is never overwritten by a straggler', async () => {
    // A store where one file fails at once and the others land 30 ms later.
    const landed: string[] = [];
    const store: ObjectStore = {
      list: async () => [],
      get: async () => null,
      put: async (key) => {
        if (key.includes('dt=2026-03-09')) throw new StorageError('put', key, new Error('SlowDown'));
        await new Promise((r) => setTimeout(r, 30));
        landed.push(key);
      },
    };
    const records = [
      record(0, [
        lakeEvent({ eventId: 'a', eventTime: day('09') }),
        lakeEvent({ eventId: 'b', eventTime: day('10') }),
        lakeEvent({ eventId: 'c', eventTime: day('11') }),
      ]),
    ];
    const outcome = await writeBatch(records, store);
    expect(outcome.response.batchItemFailures).toEqual([{ itemIdentifier: '1000' }]);
    // Both other days' files had landed when the batch answered, none was still in flight.
    expect(landed.filter((k) => k.startsWith('events/')).sort()).toEqual([
      expect.stringContaining('dt=2026-03-10'),
      expect.stringContaining('dt=2026-03-11'),
    ]);
    const settledAtAnswer = landed.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(landed.length).toBe(settledAtAnswer);
  });
});
