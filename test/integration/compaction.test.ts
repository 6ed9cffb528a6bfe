import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import {
  COMPACTIONS_PREFIX,
  type CompactionOptions,
  compactLake,
  type DeletingStore,
  DONE_PREFIX,
  PENDING_PREFIX,
} from '../../lib/lake/compaction.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { eventsToParquet, parquetToEvents } from '../../lib/lake/parquet.js';
import { silentLogger } from '../../lib/log.js';
import { addDays, daysFrom } from '../../lib/warehouse/days.js';
import { DuckDbWarehouse } from '../../lib/warehouse/duckdb.js';
import { bruteForce } from '../helpers/brute.js';
import { lakeEvent } from '../helpers/events.js';
import { land, NOW, TODAY, userHash } from '../helpers/warehouse-workload.js';

const DAY = 86_400_000;
const FROM = addDays(TODAY, -6);

/** Events over the last 7 days in 6 batches (small files), with copies re-sent in later batches. */
function workload(): LakeEvent[][] {
  const batches: LakeEvent[][] = [];
  let n = 0;
  for (let b = 0; b < 6; b++) {
    const batch: LakeEvent[] = [];
    for (let i = 0; i < 40; i++) {
      batch.push(
        lakeEvent({
          project: 'shop',
          eventId: `e${n}`,
          userHash: userHash(n % 23),
          anonymousHash: n % 5 === 0 ? BigInt(n % 11) : null,
          eventTime: Date.parse(`${addDays(TODAY, -(n % 7))}T10:00:00Z`) + i,
          receivedAt: NOW.getTime() - (6 - b) * 60_000,
        }),
      );
      n++;
    }
    // A resend of an earlier batch's event, received later (one row of the two is kept at
    // compaction), and a redelivery of another (the same copy again, which the lake keeps once).
    if (b > 0) batch.push({ ...batches[b - 1]![0]!, receivedAt: NOW.getTime() - (6 - b) * 60_000 + 1 });
    if (b > 0) batch.push({ ...batches[b - 1]![1]! });
    batches.push(batch);
  }
  return batches;
}

/**
 * Per partition, the distinct event ids and the number of rows, read from the files themselves
 * (the workload's copies of an event differ only in their times: one row of each is kept).
 */
async function inventory(
  store: FsObjectStore,
): Promise<Map<string, { ids: Set<string>; rows: number; files: number }>> {
  const out = new Map<string, { ids: Set<string>; rows: number; files: number }>();
  for (const key of await store.list('events/')) {
    const m = /^events\/project=([^/]+)\/dt=([^/]+)\//.exec(key);
    if (!m) continue;
    const entry = out.get(`${m[1]}/${m[2]}`) ?? {
      ids: new Set<string>(),
      rows: 0,
      files: 0,
    };
    for (const e of parquetToEvents((await store.get(key))!, m[1]!)) {
      entry.ids.add(e.eventId);
      entry.rows++;
    }
    entry.files++;
    out.set(`${m[1]}/${m[2]}`, entry);
  }
  return out;
}

function ids(inv: Map<string, { ids: Set<string> }>): Record<string, string[]> {
  return Object.fromEntries([...inv].map(([p, v]) => [p, [...v.ids].sort()]));
}

/** A store that dies at its nth operation: that one and every later one fail, as after a kill. */
class DyingStore implements DeletingStore {
  operations = 0;
  constructor(
    private readonly inner: FsObjectStore,
    private readonly dieAt: number,
  ) {}
  private step(): void {
    if (this.operations++ >= this.dieAt) throw new Error('killed');
  }
  async put(key: string, body: Uint8Array, type: string) {
    this.step();
    return this.inner.put(key, body, type);
  }
  async get(key: string) {
    this.step();
    return this.inner.get(key);
  }
  async list(prefix: string) {
    this.step();
    return this.inner.list(prefix);
  }
  async delete(key: string) {
    this.step();
    return this.inner.delete(key);
  }
}

let template: string;
let events: LakeEvent[];

beforeAll(async () => {
  template = await mkdtemp(join(tmpdir(), 'tally-compact-'));
  const store = new FsObjectStore(join(template, 'lake'));
  const batches = workload();
  for (const batch of batches) await land(store, batch, NOW.getTime());
  events = batches.flat();
});

afterAll(async () => {
  await rm(template, { recursive: true, force: true });
});

/** A copy of the template lake and a DuckDB warehouse over it. */
async function withLake<T>(work: (store: FsObjectStore, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-compact-run-'));
  await cp(join(template, 'lake'), join(dir, 'lake'), { recursive: true });
  try {
    return await work(new FsObjectStore(join(dir, 'lake')), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** dau/wau/mau of every day, from a warehouse built over the lake as it is now. */
async function numbers(store: FsObjectStore, dir: string, name: string) {
  const warehouse = await DuckDbWarehouse.open({
    path: join(dir, `${name}.duckdb`),
    lakeRoot: store.root,
    homeDirectory: dir,
    threads: 1,
  });
  try {
    await warehouse.refresh(
      daysFrom(FROM, TODAY).map((dt) => ({ project: 'shop', dt })),
      TODAY,
    );
    return await warehouse.activeUsers('shop', FROM, TODAY, addDays(TODAY, 1));
  } finally {
    await warehouse.close();
  }
}

const options = (over: Partial<CompactionOptions> = {}): CompactionOptions => ({
  now: NOW,
  graceMs: 0,
  logger: silentLogger,
  ...over,
});

describe('lake compaction', () => {
  it('rewrites each closed day into one file, keeping one row of each event and every number', async () => {
    await withLake(async (store, dir) => {
      const before = await inventory(store);
      const counted = await numbers(store, dir, 'before');

      const result = await compactLake(store, options());

      const after = await inventory(store);
      const closedDays = [...after.keys()].filter((p) => !p.endsWith(TODAY));
      expect(closedDays.length).toBe(6);
      for (const p of closedDays)
        expect(after.get(p)).toMatchObject({ files: 1, rows: before.get(p)!.ids.size });
      expect(after.get(`shop/${TODAY}`)!.files).toBe(before.get(`shop/${TODAY}`)!.files);
      expect(ids(after)).toEqual(ids(before));
      expect(result.rowsRead - result.rowsWritten).toBeGreaterThan(0);
      expect(await numbers(store, dir, 'after')).toEqual(counted);
      expect(counted).toEqual(bruteForce(events, 'shop', FROM, TODAY));
    });
  });

  it('keeps the earliest of copies alike, and every copy that differs in what a count reads', async () => {
    await withLake(async (store) => {
      // Arrange: on a closed day, an event, a resend of it (later, 20 ms off), a resend from
      // another country, and another user's row reusing its id.
      const day = addDays(TODAY, -3);
      const at = Date.parse(`${day}T08:00:00Z`);
      const first = lakeEvent({
        project: 'shop',
        eventId: 'twice',
        userHash: userHash(1),
        eventTime: at,
        receivedAt: at,
      });
      const resend = { ...first, eventTime: at + 20, receivedAt: at + 60_000 };
      const moved = { ...first, country: 'FR', receivedAt: at + 120_000 };
      const reused = { ...first, userHash: userHash(2), receivedAt: at + 180_000 };
      await land(store, [resend, moved, reused], at + 200_000);
      await land(store, [first], at + 300_000);

      // Act
      await compactLake(store, options());

      // Assert
      const [file] = (await store.list(`events/project=shop/dt=${day}/`)).filter((k) =>
        k.endsWith('.parquet'),
      );
      const rows = parquetToEvents((await store.get(file!))!, 'shop').filter((e) => e.eventId === 'twice');
      expect(
        rows.map((r) => [String(r.userHash), r.country ?? null, r.eventTime, r.receivedAt]).sort(),
      ).toEqual(
        [
          [String(userHash(1)), null, at, at],
          [String(userHash(1)), 'FR', at, at + 120_000],
          [String(userHash(2)), null, at, at + 180_000],
        ].sort(),
      );
    });
  });

  it('sorts a compacted file by person, then time', async () => {
    await withLake(async (store) => {
      await compactLake(store, options());

      const day = addDays(TODAY, -1);
      const [key] = await store.list(`events/project=shop/dt=${day}/`);
      const rows = parquetToEvents((await store.get(key!))!, 'shop');
      const order = rows.map((e) => [e.userHash ?? e.anonymousHash!, e.eventTime] as const);
      const sorted = [...order].sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));

      expect(key).toMatch(/compacted-[0-9a-f]{20}\.parquet$/);
      expect(order).toEqual(sorted);
    });
  });

  it('loses and doubles nothing when killed at any step, and the next run finishes the job', async () => {
    // Arrange: how many store operations a whole run takes.
    const clean = await withLake(async (store) => {
      const counting = new DyingStore(store, Number.POSITIVE_INFINITY);
      await compactLake(counting, options());
      return counting.operations;
    });
    expect(clean).toBeGreaterThan(20);
    const original = await withLake(async (store) => ids(await inventory(store)));

    for (let dieAt = 0; dieAt < clean; dieAt++) {
      await withLake(async (store, dir) => {
        // Act: a run killed at step `dieAt`, then two runs to completion.
        await compactLake(new DyingStore(store, dieAt), options()).catch(() => undefined);
        const midway = await inventory(store);
        await compactLake(store, options());
        await compactLake(store, options());

        // Assert: every event readable at every point; at the end once per day and no stray file.
        expect(ids(midway)).toEqual(original);
        const end = await inventory(store);
        expect(ids(end)).toEqual(original);
        for (const [p, v] of end)
          if (!p.endsWith(TODAY)) expect(v).toMatchObject({ files: 1, rows: v.ids.size });
        if (dieAt % 7 === 0)
          expect(await numbers(store, dir, `n${dieAt}`)).toEqual(bruteForce(events, 'shop', FROM, TODAY));
      });
    }
  }, 180_000); // a compaction per store operation: 53 s seen on a busy 2-core machine

  it('takes late events into a compacted day on its next run', async () => {
    await withLake(async (store, dir) => {
      await compactLake(store, options());
      const day = addDays(TODAY, -3);
      const late = [1, 2, 3].map((i) =>
        lakeEvent({
          project: 'shop',
          eventId: `late-${i}`,
          userHash: userHash(100 + i),
          eventTime: Date.parse(`${day}T08:00:00Z`),
          receivedAt: NOW.getTime() + i,
        }),
      );
      await land(store, late, NOW.getTime());
      const withLate = await numbers(store, dir, 'late');

      await compactLake(store, options({ now: new Date(NOW.getTime() + DAY / 24) }));

      const after = await inventory(store);
      expect(after.get(`shop/${day}`)!.files).toBe(1);
      expect([...after.get(`shop/${day}`)!.ids].filter((id) => id.startsWith('late-'))).toHaveLength(3);
      expect(await numbers(store, dir, 'after')).toEqual(withLate);
      expect(withLate).toEqual(bruteForce([...events, ...late], 'shop', FROM, TODAY));
    });
  });

  it('keeps an input that a retried batch rewrote with more rows after it was compacted', async () => {
    await withLake(async (store, dir) => {
      // Arrange: a day compacted, then one of its files rewritten as a superset (same key).
      const day = addDays(TODAY, -2);
      const [input] = await store.list(`events/project=shop/dt=${day}/`);
      const before = parquetToEvents((await store.get(input!))!, 'shop');
      await compactLake(store, options({ graceMs: 15 * 60_000 }));
      const extra = lakeEvent({
        project: 'shop',
        eventId: 'superset-1',
        userHash: userHash(500),
        eventTime: Date.parse(`${day}T09:00:00Z`),
        receivedAt: NOW.getTime(),
      });
      await store.put(input!, eventsToParquet([...before, extra]), '');

      // Act: past the grace period, then once more.
      const later = (minutes: number) =>
        options({ graceMs: 15 * 60_000, now: new Date(NOW.getTime() + minutes * 60_000) });
      const deleting = await compactLake(store, later(16));
      const kept = (await inventory(store)).get(`shop/${day}`)!;
      await compactLake(store, later(17));
      await compactLake(store, later(40));

      // Assert
      expect(deleting.inputsRewritten).toBe(1);
      expect(kept.ids.has('superset-1')).toBe(true);
      const end = (await inventory(store)).get(`shop/${day}`)!;
      expect(end).toMatchObject({ files: 1, rows: end.ids.size });
      expect(end.ids.has('superset-1')).toBe(true);
      expect(await numbers(store, dir, 'end')).toEqual(bruteForce([...events, extra], 'shop', FROM, TODAY));
    });
  });

  it('keeps replaced files through the grace period, then deletes them', async () => {
    await withLake(async (store) => {
      const before = await inventory(store);

      await compactLake(store, options({ graceMs: 15 * 60_000 }));
      const during = await inventory(store);
      await compactLake(store, options({ graceMs: 15 * 60_000, now: new Date(NOW.getTime() + 16 * 60_000) }));
      const after = await inventory(store);

      const day = `shop/${addDays(TODAY, -2)}`;
      expect(during.get(day)!.files).toBe(before.get(day)!.files + 1);
      expect(after.get(day)!.files).toBe(1);
      expect(ids(after)).toEqual(ids(before));
    });
  });

  it('reads only the records with work left: pending ones move to done/, earlier-layout ones too', async () => {
    await withLake(async (store) => {
      // Arrange: a run that leaves records pending, one of them moved back to the earlier layout.
      await compactLake(store, options({ graceMs: 15 * 60_000 }));
      const pending = await store.list(PENDING_PREFIX);
      const legacy = pending[0]!.replace(PENDING_PREFIX, COMPACTIONS_PREFIX);
      await store.put(legacy, (await store.get(pending[0]!))!, 'application/json');
      await store.delete(pending[0]!);

      // Act: past the grace period, then once more, counting what each run reads under done/.
      const reads: string[] = [];
      const counting: DeletingStore = {
        put: (k, b, t) => store.put(k, b, t),
        get: (k) => {
          reads.push(k);
          return store.get(k);
        },
        list: (p) => store.list(p),
        delete: (k) => store.delete(k),
      };
      const later = (minutes: number) =>
        options({ graceMs: 15 * 60_000, now: new Date(NOW.getTime() + minutes * 60_000) });
      const finishing = await compactLake(counting, later(16));
      await compactLake(counting, later(17));

      // Assert
      expect(pending.length).toBeGreaterThan(1);
      expect(finishing.filesDeleted).toBeGreaterThan(0);
      expect(await store.list(PENDING_PREFIX)).toEqual([]);
      expect(await store.get(legacy)).toBeNull();
      const done = await store.list(DONE_PREFIX);
      expect(done.map((k) => k.slice(DONE_PREFIX.length)).sort()).toEqual(
        pending.map((k) => k.slice(PENDING_PREFIX.length)).sort(),
      );
      for (const key of done)
        expect(JSON.parse(String(await store.get(key)))).toMatchObject({ status: 'done' });
      expect(reads.filter((k) => k.startsWith(DONE_PREFIX))).toEqual([]);
    });
  });
});
