import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { silentLogger } from '../../lib/log.js';
import { addDays } from '../../lib/warehouse/days.js';
import { DuckDbWarehouse } from '../../lib/warehouse/duckdb.js';
import { runRollup } from '../../lib/warehouse/rollup.js';
import { StarRocksWarehouse, sessionStatements } from '../../lib/warehouse/starrocks.js';
import type { Warehouse } from '../../lib/warehouse/warehouse.js';
import { bruteForce } from '../helpers/brute.js';
import { StarRocksModel } from '../helpers/starrocks-model.js';
import {
  land,
  landWaves,
  NOW,
  PROJECTS,
  TODAY,
  userHash,
  workloadArb,
} from '../helpers/warehouse-workload.js';

interface Engines {
  store: FsObjectStore;
  duckdb: DuckDbWarehouse;
  starrocks: StarRocksWarehouse;
  model: StarRocksModel;
}

/** Both engines over one lake; StarRocks' statements run on the executable model. */
async function withEngines<T>(work: (engines: Engines) => Promise<T>, version?: string): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-engines-'));
  const lakeRoot = join(dir, 'lake');
  const store = new FsObjectStore(lakeRoot);
  const duckdb = await DuckDbWarehouse.open({
    path: join(dir, 'w.duckdb'),
    lakeRoot,
    homeDirectory: dir,
    threads: 1,
  });
  const model = await StarRocksModel.open({ lakeRoot, version });
  // What the pool runs on every new connection.
  for (const statement of sessionStatements()) await model.query(statement);
  const starrocks = new StarRocksWarehouse(model, { replicationNum: 1 });
  try {
    return await work({ store, duckdb, starrocks, model });
  } finally {
    await duckdb.close();
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const _rollup = (warehouse: Warehouse, store: FsObjectStore) =>
  runRollup({ store, warehouse, logger: silentLogger }, { now: NOW });

describe('the StarRocks engine on its executable model, against DuckDB and a brute-force count', () => {
  it('gives the same numbers as DuckDB and the brute force through late waves, resends, identity merges and quiet days', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, async (generated) => {
        await withEngines(async ({ store, duckdb, starrocks }) => {
          // Arrange: set up twice (idempotent), then each wave lands and both engines roll up.
          await starrocks.setup();
          await starrocks.setup();
          const { rolled, liveToday } = await landWaves(store, generated, [duckdb, starrocks]);
          const from = addDays(TODAY, -75);

          for (const project of PROJECTS) {
            // Act
            const fromStarRocks = await starrocks.activeUsers(project, from, TODAY, TODAY);
            const fromDuckDb = await duckdb.activeUsers(project, from, TODAY, TODAY);

            // Assert
            expect(fromStarRocks).toEqual(fromDuckDb);
            expect(fromStarRocks.slice(0, -1)).toEqual(bruteForce(rolled, project, from, addDays(TODAY, -1)));
            expect(fromStarRocks.at(-1)).toEqual(bruteForce(liveToday, project, TODAY, TODAY, rolled)[0]);
          }
        });
      }),
      { numRuns: 10 },
    );
  });

  it('reads a quiet day after the last rollup from the windows, not as zeros', async () => {
    await withEngines(async ({ store, duckdb, starrocks, model }) => {
      // Arrange: one active day, rolled up then; nothing since.
      await starrocks.setup();
      const day = addDays(TODAY, -20);
      const at = Date.parse(`${day}T12:00:00Z`);
      const events = [1, 2, 3].map((n) => ({
        project: 'a',
        eventId: `q${n}`,
        type: 'track' as const,
        event: 'x',
        userHash: userHash(n),
        anonymousHash: null,
        eventTime: at,
        receivedAt: at,
        properties: null,
        context: null,
        keyVersion: 1,
        flags: null,
        channel: null,
      }));
      await land(store, events, at);
      const then = new Date(at + 3_600_000);
      for (const warehouse of [duckdb, starrocks])
        await runRollup({ store, warehouse, logger: silentLogger }, { now: then });

      // Act: 20 days later, with no rollup in between.
      const fromStarRocks = await starrocks.activeUsers('a', day, TODAY, TODAY);
      const fromDuckDb = await duckdb.activeUsers('a', day, TODAY, TODAY);

      // Assert: the numbers, and when they were rolled up (the run, though nothing changed since).
      expect(fromStarRocks).toEqual(fromDuckDb);
      expect(fromStarRocks).toEqual(bruteForce(events, 'a', day, TODAY));
      expect(await starrocks.lastRollup()).toEqual(then);
      expect(await duckdb.lastRollup()).toEqual(then);
      // Every kind of statement the engine issues ran on the model.
      expect([...model.kinds].sort()).toEqual([
        'create database',
        'create table',
        'delete',
        'insert into',
        'insert overwrite',
        'refresh external table',
        'select',
        'set',
      ]);
      expect(fromStarRocks.find((d) => d.dt === addDays(day, 10))).toEqual({
        dt: addDays(day, 10),
        dau: 0,
        wau: 0,
        mau: 3,
      });
    });
  });

  it('refuses a cluster older than 3.4 at setup, naming its version', async () => {
    await withEngines(async ({ starrocks }) => {
      await expect(starrocks.setup()).rejects.toThrow(/StarRocks "3\.3\.9-model" is older than 3\.4/);
    }, '3.3.9-model');
  });
});

describe('the StarRocks model holds StarRocks to its rules', () => {
  it('replaces the whole table on INSERT OVERWRITE without dynamic_overwrite, only the rows days with it', async () => {
    await withEngines(async ({ model }) => {
      await model.query('CREATE DATABASE IF NOT EXISTS t');
      await model.query(
        `CREATE TABLE IF NOT EXISTS t.d (\n  dt DATE NOT NULL,\n  n BIGINT NOT NULL\n) DUPLICATE KEY(dt)\nPARTITION BY date_trunc('day', dt)\nDISTRIBUTED BY HASH(dt)`,
      );
      await model.query(`INSERT INTO t.d (dt, n) VALUES ('2026-01-01', 1), ('2026-01-02', 2)`);

      await model.query(
        `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE t.d (dt, n) SELECT '2026-01-02', 3`,
      );
      const dynamic = await model.query('SELECT CAST(dt AS VARCHAR) AS dt, n FROM t.d ORDER BY dt');
      await model.query(`INSERT OVERWRITE t.d (dt, n) SELECT '2026-01-02', 4`);
      const whole = await model.query('SELECT CAST(dt AS VARCHAR) AS dt, n FROM t.d ORDER BY dt');

      expect(dynamic).toEqual([
        { dt: '2026-01-01', n: '1' },
        { dt: '2026-01-02', n: '3' },
      ]);
      expect(whole).toEqual([{ dt: '2026-01-02', n: '4' }]);
    });
  });

  it('refuses a primary key over 128 bytes, and upserts one within', async () => {
    await withEngines(async ({ model }) => {
      await model.query('CREATE DATABASE IF NOT EXISTS t');
      await model.query(
        `CREATE TABLE IF NOT EXISTS t.k (\n  k VARCHAR(512) NOT NULL,\n  v BIGINT\n) PRIMARY KEY(k)\nDISTRIBUTED BY HASH(k)`,
      );
      await model.query('INSERT INTO t.k (k, v) VALUES (?, 1), (?, 2)', ['a', 'a']);

      await expect(model.query('INSERT INTO t.k (k, v) VALUES (?, 1)', ['m'.repeat(129)])).rejects.toThrow(
        /primary key of 129 bytes/,
      );
      expect(await model.query('SELECT k, v FROM t.k')).toEqual([{ k: 'a', v: '2' }]);
    });
  });

  it('reads MySQL escapes in values as StarRocks would (a LIKE prefix with _ and %)', async () => {
    await withEngines(async ({ starrocks }) => {
      await starrocks.setup();
      await starrocks.markProcessed([
        'manifests/2026-03-31/10/a_b%.json',
        'manifests/2026-03-31/10/axb.json',
      ]);

      const done = await starrocks.processedManifests('manifests/2026-03-31/10/a_b%');

      expect(done).toEqual(new Set(['manifests/2026-03-31/10/a_b%.json']));
    });
  });
});
