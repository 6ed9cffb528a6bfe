import { describe, expect, it } from 'vitest';
import { encodeManifest, type Manifest } from '../../lib/lake/manifest.js';
import { silentLogger } from '../../lib/log.js';
import type { ProjectDay } from '../../lib/warehouse/days.js';
import { runRollup } from '../../lib/warehouse/rollup.js';
import type { Warehouse } from '../../lib/warehouse/warehouse.js';
import { MemoryStore } from '../helpers/memory.js';

const NOW = new Date('2026-03-31T12:00:00Z');

function manifest(batch: string, files: Array<[string, string]>): Uint8Array {
  const m: Manifest = {
    version: 1,
    batch,
    shardId: 'shardId-000000000000',
    firstSequenceNumber: '1',
    lastSequenceNumber: '2',
    arrivedAt: NOW.toISOString(),
    records: 1,
    events: files.length,
    duplicatesInBatch: 0,
    files: files.map(([project, dt]) => ({
      key: `events/project=${project}/dt=${dt}/${batch}.parquet`,
      project,
      dt,
      rows: 1,
    })),
    bad: [],
    badReasons: {},
  };
  return encodeManifest(m);
}

class FakeWarehouse {
  refreshed: ProjectDay[][] = [];
  processed = new Set<string>();
  failRefresh = false;
  async refresh(days: readonly ProjectDay[]) {
    if (this.failRefresh) throw new Error('warehouse down');
    this.refreshed.push([...days]);
    return { daysRecomputed: days.length, windowsRecomputed: 0 };
  }
  async processedManifests(prefix: string) {
    return new Set([...this.processed].filter((k) => k.startsWith(prefix)));
  }
  async markProcessed(keys: readonly string[]) {
    for (const k of keys) this.processed.add(k);
  }
  runs: Date[] = [];
  async recordRollup(at: Date) {
    this.runs.push(at);
  }
}

describe('runRollup', () => {
  it('recomputes the days of new manifests only, then records them', async () => {
    const store = new MemoryStore();
    await store.put(
      'manifests/2026-03-31/11/a.json',
      manifest('a', [
        ['shop', '2026-03-30'],
        ['shop', '2026-03-31'],
      ]),
      '',
    );
    await store.put(
      'manifests/2026-03-31/12/b.json',
      manifest('b', [
        ['shop', '2026-03-30'],
        ['blog', '2026-02-01'],
      ]),
      '',
    );
    const warehouse = new FakeWarehouse();
    const registered: ProjectDay[][] = [];
    const deps = {
      store,
      warehouse: warehouse as unknown as Warehouse,
      logger: silentLogger,
      registerPartitions: async (d: readonly ProjectDay[]) => {
        registered.push([...d]);
      },
    };

    const first = await runRollup(deps, { now: NOW });
    const second = await runRollup(deps, { now: NOW });

    expect(first.changed).toEqual([
      { project: 'blog', dt: '2026-02-01' },
      { project: 'shop', dt: '2026-03-30' },
      { project: 'shop', dt: '2026-03-31' },
    ]);
    expect(registered).toEqual([first.changed]);
    expect(second.manifests).toBe(0);
    expect(warehouse.refreshed).toEqual([first.changed, []]);
  });

  it('leaves manifests unrecorded when the refresh fails, so the next run redoes them', async () => {
    const store = new MemoryStore();
    await store.put('manifests/2026-03-31/11/a.json', manifest('a', [['shop', '2026-03-30']]), '');
    const warehouse = new FakeWarehouse();
    warehouse.failRefresh = true;
    const deps = { store, warehouse: warehouse as unknown as Warehouse, logger: silentLogger };

    await expect(runRollup(deps, { now: NOW })).rejects.toThrow('warehouse down');
    warehouse.failRefresh = false;
    const retry = await runRollup(deps, { now: NOW });

    expect(retry.manifests).toBe(1);
    expect(warehouse.processed).toEqual(new Set(['manifests/2026-03-31/11/a.json']));
    expect(warehouse.runs).toEqual([NOW]);
  });

  it('records every finished run, one with nothing new included: numbers are as fresh as the last run', async () => {
    const warehouse = new FakeWarehouse();
    const deps = {
      store: new MemoryStore(),
      warehouse: warehouse as unknown as Warehouse,
      logger: silentLogger,
    };
    const later = new Date(NOW.getTime() + 60_000);

    const first = await runRollup(deps, { now: NOW });
    await runRollup(deps, { now: later });

    expect(first.manifests).toBe(0);
    expect(warehouse.runs).toEqual([NOW, later]);
  });

  it('looks back two days unless asked for a full run', async () => {
    const store = new MemoryStore();
    await store.put('manifests/2026-03-20/11/old.json', manifest('old', [['shop', '2026-03-20']]), '');
    const warehouse = new FakeWarehouse();
    const deps = { store, warehouse: warehouse as unknown as Warehouse, logger: silentLogger };

    const recent = await runRollup(deps, { now: NOW });
    const full = await runRollup(deps, { now: NOW, full: true });

    expect([recent.manifests, full.manifests]).toEqual([0, 1]);
  });
});
