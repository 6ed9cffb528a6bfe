import { describe, expect, it } from 'vitest';
import { createRollupHandler } from '../../lambdas/rollup/handler.js';
import { silentLogger } from '../../lib/log.js';
import type { Warehouse } from '../../lib/warehouse/warehouse.js';
import { MemoryStore } from '../helpers/memory.js';

/** A warehouse that records the order of the calls the rollup makes. */
function recordingWarehouse(calls: string[], failSetups = 0): Warehouse {
  let failures = failSetups;
  return {
    setup: async () => {
      calls.push('setup');
      if (failures-- > 0) throw new Error('connection refused');
    },
    processedManifests: async () => {
      calls.push('processedManifests');
      return new Set<string>();
    },
    refresh: async () => {
      calls.push('refresh');
      return { daysRecomputed: 0, windowsRecomputed: 0 };
    },
    markProcessed: async () => {
      calls.push('markProcessed');
    },
    recordRollup: async () => {
      calls.push('recordRollup');
    },
  } as unknown as Warehouse;
}

describe('the rollup handler', () => {
  it('creates the warehouse tables before its first run, once per instance', async () => {
    const calls: string[] = [];
    const handler = createRollupHandler(
      { store: new MemoryStore(), warehouse: recordingWarehouse(calls), logger: silentLogger },
      silentLogger,
    );
    await handler({ time: '2026-03-31T12:00:00Z' });
    await handler({ time: '2026-03-31T12:05:00Z' });
    expect(calls.filter((c) => c === 'setup')).toHaveLength(1);
    expect(calls[0]).toBe('setup');
  });

  it('fails the run when setup fails, and tries setup again on the next run', async () => {
    const calls: string[] = [];
    const handler = createRollupHandler(
      { store: new MemoryStore(), warehouse: recordingWarehouse(calls, 1), logger: silentLogger },
      silentLogger,
    );
    await expect(handler({})).rejects.toThrow(/connection refused/);
    expect(calls).toEqual(['setup']);
    await handler({});
    expect(calls.filter((c) => c === 'setup')).toHaveLength(2);
    expect(calls).toContain('refresh');
  });
});
