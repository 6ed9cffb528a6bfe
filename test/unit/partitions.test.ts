import { describe, expect, it } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import { type LakeRecord, writeBatch } from '../../lib/lake/writer.js';
import { encodeRecords } from '../../lib/stream/codec.js';
import type { ProjectDay } from '../../lib/warehouse/days.js';
import { onlyNewPartitions } from '../../lib/warehouse/glue.js';
import { lakeEvent } from '../helpers/events.js';
import { MemoryStore } from '../helpers/memory.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-10T10:00:00Z');

function records(events: LakeEvent[]): LakeRecord[] {
  return encodeRecords(events.map((event) => ({ kind: 'event' as const, event }))).map((data, i) => ({
    shardId: 'shardId-000000000000',
    sequenceNumber: String(500 + i),
    partitionKey: 'p',
    data,
    arrivalMs: T0,
  }));
}

const batch = records([
  lakeEvent({ eventId: 'a', eventTime: T0 }),
  lakeEvent({ eventId: 'b', eventTime: T0 - DAY }),
  lakeEvent({ eventId: 'c', project: 'blog', eventTime: T0 }),
]);

describe('partitions registered by the lake writer', () => {
  it('registers every project/day the batch wrote, before its manifest', async () => {
    // Arrange
    const store = new MemoryStore();
    const seen: Array<{ days: readonly ProjectDay[]; manifests: number }> = [];
    const registerPartitions = async (days: readonly ProjectDay[]) => {
      seen.push({ days, manifests: (await store.list('manifests/')).length });
    };

    // Act
    const outcome = await writeBatch(batch, store, { registerPartitions });

    // Assert
    expect(outcome.error).toBeNull();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.manifests).toBe(0);
    expect(
      [...seen[0]!.days].sort((x, y) => `${x.project}${x.dt}`.localeCompare(`${y.project}${y.dt}`)),
    ).toEqual([
      { project: 'blog', dt: '2026-03-10' },
      { project: 'shop', dt: '2026-03-09' },
      { project: 'shop', dt: '2026-03-10' },
    ]);
  });

  it('writes the batch and its manifest when the catalog refuses, and says why (Glue is not where events are kept)', async () => {
    const store = new MemoryStore();
    const outcome = await writeBatch(batch, store, {
      registerPartitions: async () => {
        throw new Error('ThrottlingException: Rate exceeded');
      },
    });
    expect(outcome.response.batchItemFailures).toEqual([]);
    expect(outcome.error).toBeNull();
    expect(outcome.unregistered).toContain('ThrottlingException');
    expect(await store.list('manifests/')).toHaveLength(1);
    expect((await store.list('events/')).length).toBe(3);
  });

  it('asks the metastore only for partitions this process has not registered', async () => {
    const asked: ProjectDay[][] = [];
    const register = onlyNewPartitions(async (days) => {
      asked.push([...days]);
    });
    await register([{ project: 'shop', dt: '2026-03-10' }]);
    await register([
      { project: 'shop', dt: '2026-03-10' },
      { project: 'shop', dt: '2026-03-11' },
    ]);
    await register([{ project: 'shop', dt: '2026-03-11' }]);
    expect(asked).toEqual([[{ project: 'shop', dt: '2026-03-10' }], [{ project: 'shop', dt: '2026-03-11' }]]);
  });

  it('asks again after a failed registration', async () => {
    let calls = 0;
    const register = onlyNewPartitions(async () => {
      calls++;
      if (calls === 1) throw new Error('throttled');
    });
    await expect(register([{ project: 'shop', dt: '2026-03-10' }])).rejects.toThrow('throttled');
    await register([{ project: 'shop', dt: '2026-03-10' }]);
    expect(calls).toBe(2);
  });
});
