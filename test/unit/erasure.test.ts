import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { BadRow, LakeEvent } from '../../lib/events.js';
import { identityHash } from '../../lib/ingest/pseudonymize.js';
import { decodeManifest } from '../../lib/lake/manifest.js';
import { parquetToEvents } from '../../lib/lake/parquet.js';
import { type LakeRecord, writeBatch } from '../../lib/lake/writer.js';
import { ErasureLog, erase } from '../../lib/privacy/erasure.js';
import { encodeRecords, type StreamItem } from '../../lib/stream/codec.js';
import { lakeEvent } from '../helpers/events.js';
import { MemoryStore } from '../helpers/memory.js';

const OLD_KEY = { version: 1, secret: Buffer.alloc(32, 1) };
const KEY = { version: 2, secret: Buffer.alloc(32, 2) };
const T0 = Date.parse('2026-03-10T10:00:00Z');
const ERASED_AT = new Date(T0 + 86_400_000);
let sequence = 100;

const hash = (id: string, key = KEY) => identityHash(key, 'shop', id);

function event(id: string, over: Partial<LakeEvent>): LakeEvent {
  return lakeEvent({ eventId: id, eventTime: T0, receivedAt: T0, ...over });
}

function badRow(over: Partial<BadRow>): BadRow {
  return {
    project: 'shop',
    stage: 'collect',
    reason: 'missing_event_name',
    message: 'track events need a non-empty string "event"',
    receivedAt: T0,
    eventId: 'bad-1',
    payload: '{"userId":"[redacted]"}',
    userHash: null,
    anonymousHash: null,
    ...over,
  };
}

async function land(store: MemoryStore, items: StreamItem[], erasures?: ErasureLog) {
  const records: LakeRecord[] = encodeRecords(items).map((data) => ({
    shardId: 'shardId-000000000000',
    sequenceNumber: String(sequence++),
    partitionKey: 'p',
    data,
    arrivalMs: T0,
  }));
  const outcome = await writeBatch(records, store, { erasures });
  expect(outcome.error).toBeNull();
  return outcome.manifest!;
}

function lakeRows(store: MemoryStore): LakeEvent[] {
  return [...store.objects.entries()]
    .filter(([k]) => k.startsWith('events/'))
    .flatMap(([k, v]) => parquetToEvents(v, /project=([^/]+)/.exec(k)![1]!));
}

function badRows(store: MemoryStore): Array<Record<string, unknown>> {
  return [...store.objects.entries()]
    .filter(([k]) => k.startsWith('bad/'))
    .flatMap(([, v]) =>
      gunzipSync(v)
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
}

describe('erasing a person', () => {
  it('removes their rows under every key version, by userId and anonymousId, and nobody else', async () => {
    // Arrange: Ada under the old key and the new, her anonymous visits, Bob, and another project.
    const store = new MemoryStore();
    await land(store, [
      { kind: 'event', event: event('a1', { userHash: hash('ada', OLD_KEY), keyVersion: 1 }) },
      { kind: 'event', event: event('a2', { userHash: hash('ada'), eventTime: T0 - 3 * 86_400_000 }) },
      { kind: 'event', event: event('a3', { userHash: null, anonymousHash: hash('ada-device') }) },
      { kind: 'event', event: event('b1', { userHash: hash('bob') }) },
      { kind: 'event', event: event('x1', { project: 'blog', userHash: identityHash(KEY, 'blog', 'ada') }) },
      { kind: 'bad', badRow: badRow({ eventId: 'bad-ada', userHash: hash('ada') }) },
      { kind: 'bad', badRow: badRow({ eventId: 'bad-bob', userHash: hash('bob') }) },
    ]);

    // Act
    const record = await erase(
      { store, keys: [KEY, OLD_KEY], now: ERASED_AT },
      { project: 'shop', userIds: ['ada'], anonymousIds: ['ada-device'] },
    );

    // Assert
    expect(
      lakeRows(store)
        .map((e) => e.eventId)
        .sort(),
    ).toEqual(['b1', 'x1']);
    expect(badRows(store).map((b) => b.event_id)).toEqual(['bad-bob']);
    expect(record).toMatchObject({
      status: 'done',
      eventRowsRemoved: 3,
      badRowsRemoved: 1,
      days: ['2026-03-07', '2026-03-10'],
      keyVersions: [2, 1],
      ids: 2,
    });
    const [manifest] = [...store.objects.entries()].filter(([k]) => /^manifests\/.*erasure-/.test(k));
    expect(decodeManifest(manifest![1]).files.map((f) => f.dt)).toEqual(['2026-03-07', '2026-03-10']);
  });

  it('keeps an audit record that holds no raw id', async () => {
    const store = new MemoryStore();
    await land(store, [{ kind: 'event', event: event('a1', { userHash: hash('ada@example.com') }) }]);
    await erase(
      { store, keys: [KEY], now: ERASED_AT },
      { project: 'shop', userIds: ['ada@example.com'], anonymousIds: [] },
    );
    const audit = [...store.objects.entries()].filter(([k]) => k.startsWith('erasures/'));
    expect(audit).toHaveLength(1);
    const text = Buffer.from(audit[0]![1]).toString('utf8');
    expect(text).not.toContain('ada@example.com');
    expect(JSON.parse(text)).toMatchObject({ userHashes: [String(hash('ada@example.com'))], status: 'done' });
  });

  it('keeps out late and replayed rows received before the erasure, and takes new ones', async () => {
    // Arrange
    const store = new MemoryStore();
    await erase(
      { store, keys: [KEY], now: ERASED_AT },
      { project: 'shop', userIds: ['ada'], anonymousIds: [] },
    );
    const erasures = new ErasureLog(store);

    // Act: a record received before the erasure reaches the lake writer only now.
    const manifest = await land(
      store,
      [
        {
          kind: 'event',
          event: event('late', { userHash: hash('ada'), receivedAt: ERASED_AT.getTime() - 1 }),
        },
        {
          kind: 'event',
          event: event('new', { userHash: hash('ada'), receivedAt: ERASED_AT.getTime() + 1 }),
        },
        { kind: 'bad', badRow: badRow({ eventId: 'late-bad', userHash: hash('ada') }) },
      ],
      erasures,
    );

    // Assert
    expect(lakeRows(store).map((e) => e.eventId)).toEqual(['new']);
    expect(badRows(store)).toEqual([]);
    expect(manifest.erased).toBe(2);
  });

  it('refuses a request without ids or with a bad project, naming it', async () => {
    const options = { store: new MemoryStore(), keys: [KEY], now: ERASED_AT };
    await expect(erase(options, { project: 'shop', userIds: [], anonymousIds: [] })).rejects.toThrow(
      'at least one',
    );
    await expect(erase(options, { project: '../x', userIds: ['a'], anonymousIds: [] })).rejects.toThrow(
      '"../x"',
    );
  });
});
