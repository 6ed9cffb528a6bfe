import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LakeEvent, utcDate } from '../../lib/events.js';
import { identityHash } from '../../lib/ingest/pseudonymize.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { silentLogger } from '../../lib/log.js';
import { changedDays, erase } from '../../lib/privacy/erasure.js';
import { encodeRecords } from '../../lib/stream/codec.js';
import { putAll } from '../../lib/stream/producer.js';
import { addDays } from '../../lib/warehouse/days.js';
import type { Pipeline } from '../../local/pipeline.js';
import { startLocalWarehouse, warehousePaths } from '../../local/warehouse.js';
import { bruteForce } from '../helpers/brute.js';
import { readLakeStore } from '../helpers/duckdb.js';
import { lakeEvent } from '../helpers/events.js';
import { expectedAnonymousHash, expectedHash, waitForLake } from '../helpers/lake.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { land } from '../helpers/warehouse-workload.js';

const DAY = 86_400_000;
let started: TestPipeline;
let pipeline: Pipeline;
let secret: Buffer;

beforeAll(async () => {
  started = await startTestPipeline('erase');
  ({ pipeline, secret } = started);
});
afterAll(async () => {
  await started?.close();
});

interface Sent {
  messageId: string;
  userId?: string;
  anonymousId?: string;
  at: number;
}

async function send(events: Sent[]): Promise<void> {
  const batch = events.map((e) => ({
    type: 'track',
    event: 'Viewed',
    timestamp: new Date(e.at).toISOString(),
    ...e,
  }));
  const response = await fetch(`${pipeline.url}/v1/batch`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${pipeline.writeKeys.default}:`).toString('base64')}`,
    },
    body: JSON.stringify({ batch }),
  });
  expect(response.status).toBe(200);
}

/** The ground truth, from what was sent: events as the warehouse would see them. */
function truth(events: Sent[]): LakeEvent[] {
  return events.map(
    (e) =>
      ({
        project: 'default',
        eventId: e.messageId,
        eventTime: e.at,
        receivedAt: e.at,
        userHash: e.userId ? expectedHash(secret, 'default', e.userId) : null,
        anonymousHash: e.anonymousId ? expectedAnonymousHash(secret, 'default', e.anonymousId) : null,
      }) as LakeEvent,
  );
}

describe('tally erase on the local pipeline', () => {
  it('erases a person from the lake and recounts every day exactly, and keeps their late rows out', async () => {
    // Arrange: 12 people over 10 days; Ada visits anonymously, then signs in.
    const now = Date.now();
    const today = utcDate(now);
    const events: Sent[] = [];
    for (let d = 0; d < 10; d++) {
      for (let u = 0; u < 12; u++) {
        if ((u + d) % 3 !== 0)
          events.push({ messageId: randomUUID(), userId: `user-${u}`, at: now - d * DAY });
      }
      events.push({ messageId: randomUUID(), anonymousId: `visitor-${d % 4}`, at: now - d * DAY });
    }
    const ada: Sent[] = [
      { messageId: randomUUID(), anonymousId: 'ada-laptop', at: now - 8 * DAY },
      { messageId: randomUUID(), userId: 'ada@example.com', anonymousId: 'ada-laptop', at: now - 5 * DAY },
      { messageId: randomUUID(), userId: 'ada@example.com', at: now - 1 * DAY },
    ];
    await send([...events, ...ada]);
    await waitForLake(
      new FsObjectStore(pipeline.lakeRoot!),
      [...events, ...ada].map((e) => e.messageId),
    );
    await pipeline.warehouse!.rollupNow();

    // Act
    const response = await fetch(`${pipeline.url}/local/erase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        project: 'default',
        userIds: ['ada@example.com'],
        anonymousIds: ['ada-laptop'],
      }),
    });
    const { erasure } = (await response.json()) as { erasure: { eventRowsRemoved: number; days: string[] } };

    // Assert: the lake holds none of Ada's rows, and the numbers equal a count without her.
    expect(response.status).toBe(200);
    expect(erasure.eventRowsRemoved).toBe(3);
    expect(erasure.days).toHaveLength(3);
    const adaHashes = new Set([
      expectedHash(secret, 'default', 'ada@example.com'),
      expectedAnonymousHash(secret, 'default', 'ada-laptop'),
    ]);
    const rows = await readLakeStore(new FsObjectStore(pipeline.lakeRoot!));
    expect(rows.filter((r) => adaHashes.has(r.user_hash!) || adaHashes.has(r.anonymous_hash!))).toEqual([]);
    expect(rows).toHaveLength(events.length);
    const from = addDays(today, -12);
    const numbers = await pipeline.warehouse!.warehouse.activeUsers('default', from, today, today);
    expect(numbers).toEqual(bruteForce(truth(events), 'default', from, today));

    // Act again: a record Ada sent before the erasure reaches the stream only now (a replay).
    const late = {
      project: 'default',
      eventId: 'ada-late',
      type: 'track' as const,
      event: 'Viewed',
      userHash: expectedHash(secret, 'default', 'ada@example.com'),
      anonymousHash: null,
      eventTime: now - 2 * DAY,
      receivedAt: now - 2 * DAY,
      properties: null,
      context: null,
      keyVersion: 1,
      flags: null,
      channel: null,
    };
    const marker = { ...late, eventId: 'marker', userHash: expectedHash(secret, 'default', 'user-1') };
    const records = encodeRecords([late, marker].map((event) => ({ kind: 'event' as const, event })));
    await putAll(
      pipeline.collectDeps.stream,
      records.map((data) => ({ data, partitionKey: randomUUID() })),
    );
    await waitForLake(new FsObjectStore(pipeline.lakeRoot!), [...events.map((e) => e.messageId), 'marker']);

    // Assert: the marker of the same batch landed; Ada's late row did not.
    const after = await readLakeStore(new FsObjectStore(pipeline.lakeRoot!));
    expect(after.map((r) => r.event_id)).toContain('marker');
    expect(after.map((r) => r.event_id)).not.toContain('ada-late');
  });
});

describe('an erasure in the DuckDB warehouse file', () => {
  it('leaves no block of the file, nor of its WAL, holding an erased hash, after checkpoints, a restart and a full rollup', async () => {
    // Arrange: 500 people over 20 days, rolled up and checkpointed (the warehouse closed), then
    // opened again as `tally erase` does.
    const dataDir = await mkdtemp(join(tmpdir(), 'tally-erase-bytes-'));
    try {
      const key = { version: 1, secret: Buffer.alloc(32, 7) };
      const store = new FsObjectStore(warehousePaths(dataDir).lake);
      const now = Date.parse('2026-03-31T18:00:00Z');
      const events: LakeEvent[] = [];
      for (let d = 0; d < 20; d++) {
        for (let u = 0; u < 500; u++) {
          if ((u + d) % 2 !== 0) continue;
          const at = now - d * DAY;
          const userHash = identityHash(key, 'shop', `person-${u}`);
          events.push(
            lakeEvent({ project: 'shop', eventId: `e-${d}-${u}`, userHash, eventTime: at, receivedAt: at }),
          );
        }
      }
      await land(store, events, now);
      const open = () => startLocalWarehouse({ dataDir, store, logger: silentLogger, intervalMs: 0 });
      const first = await open();
      await first.rollupNow({ full: true });
      await first.stop();

      // Act
      const again = await open();
      const record = await erase(
        { store, keys: [key], now: new Date(now) },
        {
          project: 'shop',
          userIds: ['person-6'],
          anonymousIds: [],
        },
      );
      await again.refreshErased(changedDays(record));
      await again.rollupNow({ full: true });
      await again.stop();

      // Assert: her hash in neither byte order, anywhere in the warehouse's directory; the same
      // scan finds a person who was not erased.
      const dir = warehousePaths(dataDir).dir;
      const files = await Promise.all((await readdir(dir)).map((name) => readFile(join(dir, name))));
      const bytesOf = (hash: bigint) => {
        const little = Buffer.alloc(8);
        little.writeBigInt64LE(hash);
        const big = Buffer.alloc(8);
        big.writeBigInt64BE(hash);
        return [little, big];
      };
      const found = (hash: bigint) => files.some((file) => bytesOf(hash).some((b) => file.includes(b)));
      expect(record.eventRowsRemoved).toBe(10);
      expect(found(identityHash(key, 'shop', 'person-6'))).toBe(false);
      expect(found(identityHash(key, 'shop', 'person-8'))).toBe(true);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
