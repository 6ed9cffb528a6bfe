import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { silentLogger } from '../../lib/log.js';
import { DuckDbWarehouse } from '../../lib/warehouse/duckdb.js';
import { runRollup } from '../../lib/warehouse/rollup.js';
import { StarRocksWarehouse, sessionStatements } from '../../lib/warehouse/starrocks.js';
import type { Warehouse } from '../../lib/warehouse/warehouse.js';
import { bruteForce, countedCopies } from '../helpers/brute.js';
import { modelLake, StarRocksModel } from '../helpers/starrocks-model.js';
import { land } from '../helpers/warehouse-workload.js';
import { WEEK_FIRST, WEEK_LAST, WEEK_PROJECTS, weekWorkload } from '../helpers/week-workload.js';

/**
 * Lands a week of copies day by day, a rollup after each, and compares every day so far with
 * the brute force after every rollup.
 */
async function simulate(
  open: (dir: string) => Promise<Warehouse>,
  workload = weekWorkload(7),
): Promise<{ events: number | null; counted: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-week-'));
  const store = new FsObjectStore(join(dir, 'lake'));
  const warehouse = await open(dir);
  const received: LakeEvent[] = [];
  try {
    for (const day of workload) {
      await land(store, day.copies, day.rollupAt.getTime() - 30 * 60_000);
      received.push(...day.copies);
      await runRollup({ store, warehouse, logger: silentLogger }, { now: day.rollupAt });
      for (const project of WEEK_PROJECTS) {
        const answer = await warehouse.activeUsers(project, WEEK_FIRST, day.dt, day.dt);
        expect(answer, `${project} after the rollup of ${day.dt}`).toEqual(
          bruteForce(received, project, WEEK_FIRST, day.dt),
        );
      }
    }
    const events =
      warehouse instanceof DuckDbWarehouse
        ? Number((await warehouse.query('SELECT count(*) FROM events')).rows[0]![0])
        : null;
    return { events, counted: countedCopies(received).length };
  } finally {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const openDuckDb = (dir: string) =>
  DuckDbWarehouse.open({
    path: join(dir, 'w.duckdb'),
    lakeRoot: join(dir, 'lake'),
    homeDirectory: dir,
    threads: 1,
  });

describe('a week of an id-heavy product, rolled up daily', () => {
  it('resends within the day and across midnight: copies of a day count once, a copy on the next day counts there', () => {
    // Arrange
    const copies = weekWorkload(7).flatMap((d) => d.copies);
    const personDays = (events: LakeEvent[]) =>
      bruteForce(events, 'a', WEEK_FIRST, WEEK_LAST).reduce((n, d) => n + d.dau, 0);
    const first = new Map<string, LakeEvent>();
    for (const c of copies)
      if (!first.has(`${c.project}/${c.eventId}`)) first.set(`${c.project}/${c.eventId}`, c);
    const firstCopies = [...first.values()];

    // Act
    const counted = countedCopies(copies).length;

    // Assert: copies were sent, fewer rows count than were received, and more person-days count
    // than the first copies alone give (the copies that crossed midnight).
    expect(firstCopies.length).toBeLessThan(copies.length);
    expect(counted).toBeLessThan(copies.length);
    expect(counted).toBeGreaterThan(firstCopies.length);
    expect(personDays(copies)).toBeGreaterThan(personDays(firstCopies));
  });

  it('equals the brute force every day on DuckDB', async () => {
    const { events, counted } = await simulate(openDuckDb);
    // The analysts' events view keeps the rows that count.
    expect(events).toBe(counted);
  }, 300_000);

  it('equals the brute force every day on StarRocks (its executable model)', async () => {
    const models: StarRocksModel[] = [];
    try {
      await simulate(async (dir) => {
        const model = await StarRocksModel.open({ lakeRoot: join(dir, 'lake') });
        models.push(model);
        for (const statement of sessionStatements()) await model.query(statement);
        const starrocks = new StarRocksWarehouse(model, { replicationNum: 1 }, modelLake(join(dir, 'lake')));
        await starrocks.setup();
        return starrocks;
      });
    } finally {
      for (const model of models) await model.close();
    }
  }, 300_000);

  it('equals the brute force every day of 40 rolled up daily on DuckDB, past the 30 days of a MAU', async () => {
    // Each new day's numbers come from the day before's: persons leave its week and month too.
    const { events, counted } = await simulate(
      openDuckDb,
      weekWorkload(11, { days: 40, newVisitors: 40, returning: 60 }),
    );
    expect(events).toBe(counted);
  }, 300_000);
});
