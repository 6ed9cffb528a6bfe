import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { PROJECT_ID_PATTERN } from '../ingest/limits.js';
import {
  addDays,
  affectedDays,
  dayNumber,
  daysFrom,
  MAU_DAYS,
  type ProjectDay,
  uniqueProjectDays,
  WAU_DAYS,
} from './days.js';
import { Mutex } from './mutex.js';
import {
  type ActiveUsersDay,
  type QueryResult,
  type RefreshStats,
  type Warehouse,
  WarehouseError,
} from './warehouse.js';

export interface DuckDbOptions {
  /** The database file (or `:memory:`). */
  path: string;
  /** The lake directory (holding `events/project=.../dt=.../*.parquet`). */
  lakeRoot: string;
  /** DuckDB's home directory (extensions, secrets): a writable directory. */
  homeDirectory: string;
  /** @default DuckDB's default (all cores) */
  threads?: number;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS daily_users (project VARCHAR NOT NULL, dt DATE NOT NULL, user_hash BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS active_users (project VARCHAR NOT NULL, dt DATE NOT NULL, dau BIGINT NOT NULL,
     wau BIGINT NOT NULL, mau BIGINT NOT NULL, computed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (project, dt))`,
  `CREATE TABLE IF NOT EXISTS rollup_manifests (key VARCHAR PRIMARY KEY, processed_at TIMESTAMPTZ NOT NULL)`,
];

/** Columns of the lake, for the typed empty view used before the first file lands. */
const EMPTY_EVENTS = `SELECT NULL::VARCHAR AS event_id, NULL::VARCHAR AS type, NULL::VARCHAR AS event,
  NULL::BIGINT AS user_hash, NULL::BIGINT AS anonymous_hash, NULL::TIMESTAMPTZ AS event_time,
  NULL::TIMESTAMPTZ AS received_at, NULL::VARCHAR AS properties, NULL::VARCHAR AS context,
  NULL::INTEGER AS key_version, NULL::VARCHAR AS flags, NULL::VARCHAR AS project, NULL::DATE AS dt WHERE false`;

/** A project id or date, checked before it is written into SQL as a literal. */
function literal(value: string, kind: 'project' | 'date'): string {
  if (kind === 'project' ? !PROJECT_ID_PATTERN.test(value) : !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw new WarehouseError(
      'invalid_value',
      `refusing ${kind} ${JSON.stringify(value).slice(0, 70)} in SQL`,
    );
  }
  return kind === 'date' ? `DATE '${value}'` : `'${value}'`;
}

function pairsTable(pairs: readonly ProjectDay[]): string {
  return `(VALUES ${pairs.map((p) => `(${literal(p.project, 'project')}, ${literal(p.dt, 'date')})`).join(', ')}) AS t(project, dt)`;
}

function sqlPath(path: string): string {
  return `'${path.replaceAll("'", "''")}'`;
}

function toText(value: unknown): string {
  return value === null || value === undefined ? 'NULL' : String(value);
}

/**
 * The embedded engine: DuckDB over the lake on disk. `events` is the lake deduplicated by
 * (project, event_id); `daily_users` holds each project's distinct users per day; `active_users`
 * holds dau/wau/mau per project and day. Writes go through one connection, reads through another
 * (DuckDB's MVCC lets reads see the last committed refresh while one runs).
 */
export class DuckDbWarehouse implements Warehouse {
  private readonly writes = new Mutex();
  private readonly reads = new Mutex();
  private viewsOverFiles = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
    private readonly lakeRoot: string,
  ) {}

  static async open(options: DuckDbOptions): Promise<DuckDbWarehouse> {
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
    const warehouse = new DuckDbWarehouse(
      instance,
      await instance.connect(),
      await instance.connect(),
      options.lakeRoot,
    );
    await warehouse.setup();
    return warehouse;
  }

  private get eventsGlob(): string {
    return join(this.lakeRoot, 'events', '*', '*', '*.parquet');
  }

  private readParquet(globs: string | string[]): string {
    const paths = Array.isArray(globs) ? `[${globs.map(sqlPath).join(', ')}]` : sqlPath(globs);
    return `read_parquet(${paths}, hive_partitioning = true, hive_types = {'project': VARCHAR, 'dt': DATE}, union_by_name = true)`;
  }

  /** (Re)creates `events_all` and `events` over the lake once it has files; typed and empty before. */
  private async ensureViews(connection: DuckDBConnection): Promise<void> {
    if (this.viewsOverFiles) return;
    const hasFiles = existsSync(join(this.lakeRoot, 'events'));
    const source = hasFiles ? `SELECT * FROM ${this.readParquet(this.eventsGlob)}` : EMPTY_EVENTS;
    try {
      await connection.run(`CREATE OR REPLACE VIEW events_all AS ${source}`);
    } catch (error) {
      if (!/No files found/i.test((error as Error).message)) throw error;
      await connection.run(`CREATE OR REPLACE VIEW events_all AS ${EMPTY_EVENTS}`);
      return;
    }
    await connection.run(
      `CREATE OR REPLACE VIEW events AS SELECT * FROM events_all
       QUALIFY row_number() OVER (PARTITION BY project, event_id ORDER BY received_at, event_time) = 1`,
    );
    this.viewsOverFiles = hasFiles;
  }

  async setup(): Promise<void> {
    await this.writes.run(async () => {
      for (const statement of SCHEMA) await this.writer.run(statement);
      await this.ensureViews(this.writer);
    });
  }

  /** The Parquet globs of these days that exist in the lake. */
  private dayGlobs(days: readonly ProjectDay[]): string[] {
    return days
      .map((d) => join(this.lakeRoot, 'events', `project=${d.project}`, `dt=${d.dt}`))
      .filter((dir) => existsSync(dir))
      .map((dir) => join(dir, '*.parquet'));
  }

  async refresh(changed: readonly ProjectDay[], today: string): Promise<RefreshStats> {
    const days = uniqueProjectDays(changed);
    const windows = affectedDays(days, today);
    if (days.length === 0) return { daysRecomputed: 0, windowsRecomputed: 0 };
    return this.writes.run(async () => {
      await this.ensureViews(this.writer);
      const globs = this.dayGlobs(days);
      await this.writer.run('BEGIN TRANSACTION');
      try {
        await this.writer.run(
          `DELETE FROM daily_users USING ${pairsTable(days)} WHERE daily_users.project = t.project AND daily_users.dt = t.dt`,
        );
        if (globs.length > 0) {
          await this.writer.run(
            `INSERT INTO daily_users SELECT DISTINCT project, dt, coalesce(user_hash, anonymous_hash)
             FROM ${this.readParquet(globs)} WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL`,
          );
        }
        if (windows.length > 0) {
          await this.writer.run(
            `DELETE FROM active_users USING ${pairsTable(windows)} WHERE active_users.project = t.project AND active_users.dt = t.dt`,
          );
          await this.writer.run(
            `INSERT INTO active_users
             SELECT t.project, t.dt,
               count(DISTINCT u.user_hash) FILTER (WHERE u.dt = t.dt),
               count(DISTINCT u.user_hash) FILTER (WHERE u.dt > t.dt - ${WAU_DAYS}),
               count(DISTINCT u.user_hash),
               now()
             FROM ${pairsTable(windows)} LEFT JOIN daily_users u
               ON u.project = t.project AND u.dt > t.dt - ${MAU_DAYS} AND u.dt <= t.dt
             GROUP BY t.project, t.dt`,
          );
        }
        await this.writer.run('COMMIT');
      } catch (error) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        throw new WarehouseError(
          'refresh_failed',
          `refresh of ${days.length} day(s) failed: ${(error as Error).message}`,
        );
      }
      return { daysRecomputed: days.length, windowsRecomputed: windows.length };
    });
  }

  async activeUsers(project: string, from: string, to: string, today: string): Promise<ActiveUsersDay[]> {
    const last = dayNumber(to) < dayNumber(today) ? to : today;
    if (dayNumber(from) > dayNumber(last)) return [];
    return this.reads.run(async () => {
      const stored = await this.reader.runAndReadAll(
        `SELECT strftime(dt, '%Y-%m-%d') AS dt, dau, wau, mau FROM active_users
         WHERE project = $1 AND dt BETWEEN CAST($2 AS DATE) AND CAST($3 AS DATE) AND dt < CAST($4 AS DATE)`,
        [project, from, last, today],
      );
      const byDay = new Map<string, ActiveUsersDay>();
      for (const [dt, dau, wau, mau] of stored.getRows()) {
        byDay.set(String(dt), { dt: String(dt), dau: Number(dau), wau: Number(wau), mau: Number(mau) });
      }
      const missing = daysFrom(from, last).filter((d) => !byDay.has(d));
      for (const day of await this.liveDays(project, missing, today)) byDay.set(day.dt, day);
      return daysFrom(from, last).map((dt) => byDay.get(dt) ?? { dt, dau: 0, wau: 0, mau: 0 });
    });
  }

  /** dau/wau/mau of days without a rolled-up row: daily_users for the past, a scan of the lake for today. */
  private async liveDays(project: string, days: string[], today: string): Promise<ActiveUsersDay[]> {
    if (days.length === 0) return [];
    const first = addDays(days[0]!, -(MAU_DAYS - 1));
    const todayGlobs = days.includes(today) ? this.dayGlobs([{ project, dt: today }]) : [];
    const live =
      todayGlobs.length > 0
        ? `UNION ALL SELECT DISTINCT dt, coalesce(user_hash, anonymous_hash) FROM ${this.readParquet(todayGlobs)}`
        : '';
    const reader = await this.reader.runAndReadAll(
      `WITH u AS (
         SELECT dt, user_hash FROM daily_users
         WHERE project = ${literal(project, 'project')} AND dt BETWEEN ${literal(first, 'date')} AND ${literal(today, 'date')}
           AND dt <> ${literal(today, 'date')}
         ${live}
       )
       SELECT strftime(t.dt, '%Y-%m-%d'),
         count(DISTINCT u.user_hash) FILTER (WHERE u.dt = t.dt),
         count(DISTINCT u.user_hash) FILTER (WHERE u.dt > t.dt - ${WAU_DAYS}),
         count(DISTINCT u.user_hash)
       FROM (VALUES ${days.map((d) => `(${literal(d, 'date')})`).join(', ')}) AS t(dt)
       LEFT JOIN u ON u.dt > t.dt - ${MAU_DAYS} AND u.dt <= t.dt
       GROUP BY t.dt`,
    );
    return reader.getRows().map(([dt, dau, wau, mau]) => ({
      dt: String(dt),
      dau: Number(dau),
      wau: Number(wau),
      mau: Number(mau),
    }));
  }

  async lastRefresh(project: string): Promise<Date | null> {
    return this.reads.run(async () => {
      const reader = await this.reader.runAndReadAll(
        `SELECT epoch_ms(max(computed_at)) FROM active_users WHERE project = $1`,
        [project],
      );
      const value = reader.getRows()[0]?.[0];
      return value === null || value === undefined ? null : new Date(Number(value));
    });
  }

  async processedManifests(prefix: string): Promise<Set<string>> {
    return this.reads.run(async () => {
      const reader = await this.reader.runAndReadAll(
        `SELECT key FROM rollup_manifests WHERE starts_with(key, $1)`,
        [prefix],
      );
      return new Set(reader.getRows().map(([key]) => String(key)));
    });
  }

  async markProcessed(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.writes.run(async () => {
      const statement = await this.writer.prepare(
        `INSERT OR IGNORE INTO rollup_manifests VALUES ($1, now())`,
      );
      for (const key of keys) {
        statement.bindVarchar(1, key);
        await statement.run();
      }
    });
  }

  async query(sql: string): Promise<QueryResult> {
    return this.reads.run(async () => {
      await this.ensureViews(this.reader);
      try {
        const reader = await this.reader.runAndReadAll(sql);
        return {
          columns: reader.columnNames(),
          rows: reader
            .getRows()
            .map((row) =>
              row.map((v) =>
                typeof v === 'bigint' ? v : v === null ? null : typeof v === 'object' ? toText(v) : v,
              ),
            ),
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
    this.writer.closeSync();
    this.reader.closeSync();
    this.instance.closeSync();
  }
}
