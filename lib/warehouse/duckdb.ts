import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { assembleBreakdown, type Breakdown, checkDimension, type Dimension } from './breakdowns.js';
import { dayNumber, daysFrom, type ProjectDay, uniqueProjectDays } from './days.js';
import { breakdown } from './duckdb/breakdown.js';
import { readCounted } from './duckdb/copies.js';
import { updateIdentity } from './duckdb/identity.js';
import { type LiveOptions, LiveRows, liveDays, withNewerFiles } from './duckdb/live.js';
import { createSchema } from './duckdb/schema.js';
import {
  type Db,
  dayRange,
  db,
  EMPTY_EVENTS,
  eventsAllView,
  eventsView,
  pairsTable,
  sqlPath,
} from './duckdb/sql.js';
import { replaceDayValues, writeValueWindows } from './duckdb/values.js';
import { updateWindows } from './duckdb/windows.js';
import { Mutex } from './mutex.js';
import { countedRows } from './people.js';
import {
  type ActiveUsersDay,
  type BotDay,
  everyBotDay,
  type QueryResult,
  type RefreshOptions,
  type RefreshStats,
  type Warehouse,
  WarehouseError,
} from './warehouse.js';

export { eventsAllView, eventsView, lakeRows, readLake } from './duckdb/sql.js';

export interface DuckDbOptions {
  /** The database file (or `:memory:`). */
  path: string;
  /** The lake directory (holding `events/project=.../dt=.../*.parquet`). */
  lakeRoot: string;
  /** DuckDB's home directory (extensions, secrets): a writable directory. */
  homeDirectory: string;
  /** @default DuckDB's default (all cores) */
  threads?: number;
  /** Projects that count their bots' rows (rule 0 of people.ts). @default none */
  countBots?: readonly string[];
}

/**
 * The embedded engine: DuckDB over the lake on disk, one module per concern: `schema` (tables),
 * `copies` (rule 1: which copy of an event counts), `identity` (rules 2-3: who is whose person),
 * `windows` (persons per day and dau/wau/mau), `live` (today from files not rolled up yet).
 * `events` is the lake with one row of each event and day (rule 1); `active_users` holds dau/wau/mau per project and day.
 * Writes go through one connection, reads through another (DuckDB's MVCC lets reads see the last
 * committed refresh while one runs).
 */
export class DuckDbWarehouse implements Warehouse {
  private readonly writes = new Mutex();
  private readonly reads = new Mutex();
  private writer: Db;
  private reader: Db;
  private viewsOverFiles = false;
  /** Today's rows of files newer than the rollup, as they count, kept on the read connection between reads. */
  private readonly live = new LiveRows();

  private constructor(
    private instance: DuckDBInstance,
    private writeConnection: DuckDBConnection,
    private readConnection: DuckDBConnection,
    private readonly options: DuckDbOptions,
    private readonly counted: string,
  ) {
    this.writer = db(writeConnection);
    this.reader = db(readConnection);
  }

  private get lakeRoot(): string {
    return this.options.lakeRoot;
  }

  /** DuckDB on the options' file, with its two connections. */
  private static async connect(options: DuckDbOptions) {
    const config: Record<string, string> = {
      home_directory: options.homeDirectory,
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'true',
    };
    if (options.threads) config.threads = String(options.threads);
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(options.path, config);
    } catch (error) {
      throw new WarehouseError(
        'warehouse_unavailable',
        `cannot open DuckDB at ${options.path}: ${(error as Error).message}`,
      );
    }
    return { instance, writes: await instance.connect(), reads: await instance.connect() };
  }

  static async open(options: DuckDbOptions): Promise<DuckDbWarehouse> {
    const { instance, writes, reads } = await DuckDbWarehouse.connect(options);
    const warehouse = new DuckDbWarehouse(instance, writes, reads, options, countedRows(options.countBots));
    await warehouse.setup();
    return warehouse;
  }

  /**
   * Writes the database anew: every table, view and sequence copied into a new file, which then
   * replaces this one. DuckDB reuses the blocks of deleted rows but never clears them, so after an
   * erasure the erased people's hashes stay in the file's free blocks (and its WAL) until this
   * runs. Costs a copy of the warehouse (not of the lake); reads and refreshes wait meanwhile.
   */
  async rewrite(): Promise<void> {
    const path = this.options.path;
    if (path === ':memory:' || path === '') return;
    const fresh = `${path}.rewrite`;
    await this.writes.run(() =>
      this.reads.run(async () => {
        await rm(fresh, { force: true });
        await rm(`${fresh}.wal`, { force: true });
        const [[name]] = (await this.writer.rows('SELECT current_database()')) as [[string]];
        await this.writer.run(`ATTACH ${sqlPath(fresh)} AS tally_rewrite`);
        try {
          await this.writer.run(`COPY FROM DATABASE "${name.replaceAll('"', '""')}" TO tally_rewrite`);
        } finally {
          await this.writer.run('DETACH tally_rewrite');
        }
        this.writeConnection.closeSync();
        this.readConnection.closeSync();
        this.instance.closeSync();
        await rename(fresh, path);
        await rm(`${path}.wal`, { force: true });
        const { instance, writes, reads } = await DuckDbWarehouse.connect(this.options);
        this.instance = instance;
        this.writeConnection = writes;
        this.readConnection = reads;
        this.writer = db(writes);
        this.reader = db(reads);
        this.viewsOverFiles = false;
        this.live.forget();
        await this.prepare();
      }),
    );
  }

  /** (Re)creates `events_all` and `events` over the lake once it has files; typed and empty before. */
  private async ensureViews(connection: Db): Promise<void> {
    if (this.viewsOverFiles) return;
    let overFiles = existsSync(join(this.lakeRoot, 'events'));
    try {
      await connection.run(
        overFiles ? eventsAllView(this.lakeRoot) : `CREATE OR REPLACE VIEW events_all AS ${EMPTY_EVENTS}`,
      );
    } catch (error) {
      if (!/No files found/i.test((error as Error).message)) throw error;
      await connection.run(`CREATE OR REPLACE VIEW events_all AS ${EMPTY_EVENTS}`);
      overFiles = false;
    }
    await connection.run(eventsView());
    this.viewsOverFiles = overFiles;
  }

  async setup(): Promise<void> {
    await this.writes.run(() => this.prepare());
  }

  /** The tables and the views over the lake, on the write connection (its lock held). */
  private async prepare(): Promise<void> {
    await createSchema(this.writer);
    await this.ensureViews(this.writer);
  }

  /**
   * A refresh, in one transaction: reads the counted rows of the changed days (rule 1 needs no
   * verdict on copies; of a day read before, only its new files), brings those days' ids, value
   * combinations and identity evidence up to date and the people that evidence touches (adding
   * the days of ids that changed person); a day appended to then changes by the persons of its
   * new ids and of its ids that changed person, a day read whole has its persons replaced, and
   * the windows holding them are corrected or computed. Every statement reads the days it works
   * on or the ids it was handed: none reads the whole history.
   */
  async refresh(
    changed: readonly ProjectDay[],
    today: string,
    options: RefreshOptions = {},
  ): Promise<RefreshStats> {
    const requested = uniqueProjectDays(changed);
    if (requested.length === 0) return { daysRecomputed: 0, windowsRecomputed: 0 };
    return this.writes.run(async () => {
      await this.ensureViews(this.writer);
      await this.writer.run('BEGIN TRANSACTION');
      try {
        const {
          days: scanned,
          appended,
          filesRead,
        } = await readCounted(this.writer, requested, {
          lakeRoot: this.lakeRoot,
          counted: this.counted,
          reread: options.reread === true,
          onRead: (days, listedAt) => this.recordRead(days, listedAt),
        });
        if (scanned.length === 0) {
          await this.writer.run('COMMIT');
          return { daysRecomputed: 0, windowsRecomputed: 0, filesRead };
        }
        // The ids of the days read whole are replaced; a day appended to gains those it lacked
        // (`added_ids`: the persons a day appended to gains are theirs).
        await this.writer.run(
          `DELETE FROM day_ids USING whole_days d WHERE day_ids.project = d.project AND day_ids.dt = d.dt`,
        );
        await this.writer.run(
          `CREATE OR REPLACE TEMP TABLE added_ids AS
           WITH c AS MATERIALIZED (
             SELECT DISTINCT project, dt, coalesce(user_hash, anonymous_hash) AS id_hash FROM counted
             WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
           )
           SELECT * FROM c
           ${
             appended.length === 0
               ? ''
               : `EXCEPT SELECT i.project, i.dt, i.id_hash FROM day_ids i
                  SEMI JOIN c ON c.project = i.project AND c.dt = i.dt AND c.id_hash = i.id_hash
                  WHERE i.dt ${dayRange(appended)}`
           }`,
        );
        await this.writer.run(`INSERT INTO day_ids SELECT * FROM added_ids ORDER BY project, dt`);
        await replaceDayValues(this.writer);
        const moved = await updateIdentity(this.writer);
        const days = uniqueProjectDays([...scanned, ...moved]);
        const windows = await updateWindows(this.writer, { scanned, appended, moved }, today);
        await writeValueWindows(this.writer, windows);
        await this.writer.run('COMMIT');
        this.live.refreshed();
        return { daysRecomputed: days.length, windowsRecomputed: windows.length, filesRead };
      } catch (error) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        throw new WarehouseError(
          'refresh_failed',
          `refresh of ${requested.length} day(s) failed: ${(error as Error).message}`,
        );
      }
    });
  }

  /** What a live scan of today needs. */
  private liveOptions(): LiveOptions {
    return {
      lakeRoot: this.lakeRoot,
      counted: this.counted,
      cache: this.live,
      generation: this.live.generation,
    };
  }

  private async recordRead(days: readonly ProjectDay[], readAt: number): Promise<void> {
    await this.writer.run(
      `INSERT OR REPLACE INTO day_reads SELECT project, dt, ${Math.floor(readAt)} FROM ${pairsTable(days)}`,
    );
  }

  async activeUsers(project: string, from: string, to: string, today: string): Promise<ActiveUsersDay[]> {
    const last = dayNumber(to) < dayNumber(today) ? to : today;
    if (dayNumber(from) > dayNumber(last)) return [];
    const live = this.liveOptions();
    return this.reads.run(async () => {
      // One snapshot: stored rows and today's correction must see the same refresh.
      await this.reader.run('BEGIN TRANSACTION');
      try {
        const stored = await this.readConnection.runAndReadAll(
          `SELECT strftime(dt, '%Y-%m-%d') AS dt, dau, wau, mau FROM active_users
           WHERE project = $1 AND dt BETWEEN CAST($2 AS DATE) AND CAST($3 AS DATE)`,
          [project, from, last],
        );
        const byDay = new Map<string, ActiveUsersDay>();
        for (const [dt, dau, wau, mau] of stored.getRows()) {
          byDay.set(String(dt), { dt: String(dt), dau: Number(dau), wau: Number(wau), mau: Number(mau) });
        }
        const rolledToday = byDay.get(today);
        if (rolledToday)
          byDay.set(today, await withNewerFiles(this.reader, live, project, today, rolledToday));
        const missing = daysFrom(from, last).filter((d) => !byDay.has(d));
        for (const day of await liveDays(this.reader, live, project, missing, today)) byDay.set(day.dt, day);
        return daysFrom(from, last).map((dt) => byDay.get(dt) ?? { dt, dau: 0, wau: 0, mau: 0 });
      } catch (error) {
        this.live.forget();
        throw error;
      } finally {
        await this.reader.run('COMMIT');
      }
    });
  }

  async breakdown(
    project: string,
    by: Dimension,
    range: { from: string; to: string; today: string },
    limit: number,
  ): Promise<Breakdown> {
    const { from, to, today } = range;
    const last = dayNumber(to) < dayNumber(today) ? to : today;
    if (dayNumber(from) > dayNumber(last))
      return assembleBreakdown(by, from, last, { top: [], others: 0 }, []);
    const live = this.liveOptions();
    return this.reads.run(async () => {
      await this.reader.run('BEGIN TRANSACTION');
      try {
        return await breakdown(this.reader, live, project, checkDimension(by), { from, last, today }, limit);
      } catch (error) {
        this.live.forget();
        throw error;
      } finally {
        await this.reader.run('COMMIT');
      }
    });
  }

  async botDays(project: string, from: string, to: string): Promise<BotDay[]> {
    if (dayNumber(from) > dayNumber(to)) return [];
    return this.reads.run(async () => {
      const reader = await this.readConnection.runAndReadAll(
        `SELECT strftime(dt, '%Y-%m-%d'), events, ids FROM bot_days
         WHERE project = $1 AND dt BETWEEN CAST($2 AS DATE) AND CAST($3 AS DATE)`,
        [project, from, to],
      );
      const found = reader
        .getRows()
        .map(([dt, events, ids]) => ({ dt: String(dt), events: Number(events), ids: Number(ids) }));
      return everyBotDay(from, to, found);
    });
  }

  async lastRollup(): Promise<Date | null> {
    return this.reads.run(async () => {
      const [row] = await this.reader.rows(`SELECT epoch_ms(max(ran_at)) FROM rollup_runs`);
      const value = row?.[0];
      return value === null || value === undefined ? null : new Date(Number(value));
    });
  }

  async recordRollup(at: Date): Promise<void> {
    await this.writes.run(async () => {
      await this.writer.run(
        `INSERT OR REPLACE INTO rollup_runs VALUES ('last', to_timestamp(${at.getTime()}::DOUBLE / 1000))`,
      );
    });
  }

  async processedManifests(prefix: string): Promise<Set<string>> {
    return this.reads.run(async () => {
      const reader = await this.readConnection.runAndReadAll(
        `SELECT key FROM rollup_manifests WHERE starts_with(key, $1)`,
        [prefix],
      );
      return new Set(reader.getRows().map(([key]) => String(key)));
    });
  }

  async markProcessed(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    // One statement per thousand keys: a statement each was a commit each (a rollup's ~45
    // manifests took 110-140 ms of it).
    await this.writes.run(async () => {
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000);
        await this.writeConnection.run(
          `INSERT OR IGNORE INTO rollup_manifests VALUES ${chunk.map((_, n) => `($${n + 1}, now())`).join(', ')}`,
          chunk,
        );
      }
    });
  }

  async query(sql: string): Promise<QueryResult> {
    return this.reads.run(async () => {
      await this.ensureViews(this.reader);
      try {
        const reader = await this.readConnection.runAndReadAll(sql);
        return {
          columns: reader.columnNames(),
          // Dates, timestamps and the like as text; numbers, bigints, strings and nulls as they are.
          rows: reader
            .getRows()
            .map((row) => row.map((v) => (v !== null && typeof v === 'object' ? String(v) : v))),
        };
      } catch (error) {
        throw new WarehouseError('query_failed', (error as Error).message);
      }
    });
  }

  /**
   * Writes `active_users` to a Parquet file (replaced atomically), so other processes can query
   * the numbers without opening this database, which DuckDB locks for its one writer.
   */
  async exportActiveUsers(path: string): Promise<void> {
    const tmp = `${path}.tmp`;
    await this.reads.run(async () => {
      await this.reader.run(
        `COPY (SELECT * FROM active_users ORDER BY project, dt) TO ${sqlPath(tmp)} (FORMAT parquet)`,
      );
    });
    await rename(tmp, path);
  }

  async close(): Promise<void> {
    await this.writes.run(async () => undefined);
    await this.reads.run(async () => undefined);
    this.writeConnection.closeSync();
    this.readConnection.closeSync();
    this.instance.closeSync();
  }
}
