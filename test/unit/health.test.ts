import { describe, expect, it } from 'vitest';
import { manifestKey } from '../../lib/lake/keys.js';
import { encodeManifest, type Manifest } from '../../lib/lake/manifest.js';
import { pipelineHealth } from '../../lib/warehouse/health.js';
import { MemoryStore } from '../helpers/memory.js';

const NOW = new Date('2026-03-10T12:30:20Z');

function manifest(
  batch: string,
  arrivedAt: string,
  files: Manifest['files'],
  bad: Manifest['badByProject'] = {},
): Manifest {
  return {
    version: 1,
    batch,
    shardId: 'shardId-000000000000',
    firstSequenceNumber: '1',
    lastSequenceNumber: '2',
    arrivedAt,
    records: 1,
    events: files.reduce((n, f) => n + f.rows, 0),
    duplicatesInBatch: 0,
    files,
    bad: [],
    badReasons: {},
    badByProject: bad,
  };
}

async function put(store: MemoryStore, m: Manifest) {
  await store.put(manifestKey(Date.parse(m.arrivedAt), m.batch), encodeManifest(m), 'application/json');
}

describe('pipeline health from manifests', () => {
  it("counts one project's events per minute and refusals by reason over the last hour, and the lake's lag", async () => {
    // Arrange: two batches in the hour (one over two projects), one older than the hour.
    const store = new MemoryStore();
    const file = (project: string, rows: number) => ({ key: 'k', project, dt: '2026-03-10', rows });
    await put(
      store,
      manifest('s-1', '2026-03-10T12:29:05Z', [file('shop', 5), file('blog', 9)], {
        shop: { size: 2 },
        blog: { size: 7 },
      }),
    );
    await put(
      store,
      manifest('s-2', '2026-03-10T12:30:10Z', [file('shop', 3)], { shop: { size: 1, missing_identity: 1 } }),
    );
    await put(store, manifest('s-3', '2026-03-10T11:10:00Z', [file('shop', 100)], { shop: { size: 50 } }));

    // Act
    const health = await pipelineHealth(store, 'shop', NOW);

    // Assert
    expect(health.eventsPerMinute).toHaveLength(60);
    expect(health.eventsPerMinute.at(-1)).toEqual({ minute: '2026-03-10T12:30', events: 3 });
    expect(health.eventsPerMinute.at(-2)).toEqual({ minute: '2026-03-10T12:29', events: 5 });
    expect(health.eventsPerMinute.reduce((n, m) => n + m.events, 0)).toBe(8);
    expect(health.rejected).toEqual({ size: 3, missing_identity: 1 });
    expect(health.lake).toEqual({ lastBatchAt: '2026-03-10T12:30:10.000Z', lagSeconds: 10 });
  });

  it('reports no lag before the first batch', async () => {
    const health = await pipelineHealth(new MemoryStore(), 'shop', NOW);
    expect(health.lake).toEqual({ lastBatchAt: null, lagSeconds: null });
    expect(health.rejected).toEqual({});
  });
});
