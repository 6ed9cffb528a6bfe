import { existsSync } from 'node:fs';
import { readdir, rename, stat } from 'node:fs/promises';
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
import { changedIds, resolvePeople } from './people.js';
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
  // The persons active per day (rules in people.ts): what dau/wau/mau count.
  `CREATE TABLE IF NOT EXISTS daily_users (project VARCHAR NOT NULL, dt DATE NOT NULL, user_hash BIGINT NOT NULL)`,
  // The counted copy of every event (rule 1 of people.ts): where a later copy looks for an earlier one.
  // One row per (project, event_id) by construction (a refresh replaces its days' rows, and a
  // copy is indexed only where none is indexed elsewhere): no key index to maintain, rows in day
  // order so a day's rows are found by their zone maps.
  `CREATE TABLE IF NOT EXISTS event_index (project VARCHAR NOT NULL, event_id VARCHAR NOT NULL, dt DATE NOT NULL,
     received_at TIMESTAMPTZ NOT NULL, event_time TIMESTAMPTZ NOT NULL)`,
  // The ids (user_hash, else anonymous_hash) active per day, before they are mapped to persons.
  `CREATE TABLE IF NOT EXISTS day_ids (project VARCHAR NOT NULL, dt DATE NOT NULL, id_hash BIGINT NOT NULL)`,
  // Identity evidence per day: each anonymous id's earliest user that day ('anon'), and aliases
  // between two userIds ('alias').
  `CREATE TABLE IF NOT EXISTS links (project VARCHAR NOT NULL, dt DATE NOT NULL, kind VARCHAR NOT NULL,
     from_hash BIGINT NOT NULL, to_hash BIGINT NOT NULL, event_time TIMESTAMPTZ, received_at TIMESTAMPTZ)`,
  // The person of every id that is not its own person.
  `CREATE TABLE IF NOT EXISTS people (project VARCHAR NOT NULL, id_hash BIGINT NOT NULL, person BIGINT NOT NULL,
     PRIMARY KEY (project, id_hash))`,
  `CREATE TABLE IF NOT EXISTS active_users (project VARCHAR NOT NULL, dt DATE NOT NULL, dau BIGINT NOT NULL,
     wau BIGINT NOT NULL, mau BIGINT NOT NULL, computed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (project, dt))`,
  `CREATE TABLE IF NOT EXISTS rollup_manifests (key VARCHAR PRIMARY KEY, processed_at TIMESTAMPTZ NOT NULL)`,
  // When the last rollup run finished.
  `CREATE TABLE IF NOT EXISTS rollup_runs (name VARCHAR PRIMARY KEY, ran_at TIMESTAMPTZ NOT NULL)`,
  // When each day's files were last read, so a query can tell which files of today are newer.
  `CREATE TABLE IF NOT EXISTS day_reads (project VARCHAR NOT NULL, dt DATE NOT NULL, read_at_ms BIGINT NOT NULL,
     PRIMARY KEY (project, dt))`,
];

/** Files written this close before a read still count as live: file times are coarse and renames lag writes. */
const READ_SLACK_MS = 5_000;

/** Columns of the lake, for the typed empty view used before the first file lands. */
const EMPTY_EVENTS = `SELECT NULL::VARCHAR AS event_id, NULL::VARCHAR AS type, NULL::VARCHAR AS event,
  NULL::BIGINT AS user_hash, NULL::BIGINT AS anonymous_hash, NULL::TIMESTAMPTZ AS event_time,
  NULL::TIMESTAMPTZ AS received_at, NULL::VARCHAR AS properties, NULL::VARCHAR AS context,
  NULL::INTEGER AS key_version, NULL::VARCHAR AS flags, NULL::VARCHAR AS channel,
  NULL::BIGINT AS previous_user_hash, NULL::BIGINT AS previous_anonymous_hash, NULL::VARCHAR AS project, NULL::DATE AS dt WHERE false`;

/** Columns a refresh reads; files written before the alias columns existed read them as null. */
const SCAN_COLUMNS = `project, dt, event_id, type, received_at, event_time, user_hash, anonymous_hash,
  previous_user_hash, previous_anonymous_hash`;

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

/** `read_parquet` over lake files, with the hive columns typed (a numeric-looking project stays text). */
export function readLake(globs: string | string[]): string {
  const paths = Array.isArray(globs) ? `[${globs.map(sqlPath).join(', ')}]` : sqlPath(globs);
  return `read_parquet(${paths}, hive_partitioning = true, hive_types = {'project': VARCHAR, 'dt': DATE}, union_by_name = true)`;
}

/**
 * Rows of lake files with every column of today's files: a column added since a file was written
 * (e.g. `previous_user_hash`) reads null there, even when no file has it yet.
 */
export function lakeRows(globs: string | string[]): string {
  return `(SELECT * FROM ${readLake(globs)} UNION ALL BY NAME SELECT * FROM (${EMPTY_EVENTS}))`;
}

/** The `events_all` view: every row of the lake under `lakeRoot`. Fails to bind while there is no file. */
export function eventsAllView(lakeRoot: string): string {
  return `CREATE OR REPLACE VIEW events_all AS SELECT * FROM ${lakeRows(join(lakeRoot, 'events', '*', '*', '*.parquet'))}`;
}

/** The order that picks the counted copy of an event (rule 1 of people.ts). */
export const COPY_ORDER = `received_at, event_time, coalesce(user_hash, -1), coalesce(anonymous_hash, -1)`;

/** The `events` view: `events_all` deduplicated by (project, event_id), the copy received first kept. */
export const EVENTS_VIEW = `CREATE OR REPLACE VIEW events AS SELECT * FROM events_all
  QUALIFY row_number() OVER (PARTITION BY project, event_id ORDER BY ${COPY_ORDER}) = 1`;

/** Affected days grouped into runs of consecutive days per project (one window query each). */
function contiguousRanges(days: readonly ProjectDay[]): Array<{ project: string; from: string; to: string }> {
  const ranges: Array<{ project: string; from: string; to: string }> = [];
  for (const d of days) {
    const last = ranges[ranges.length - 1];
    if (last && last.project === d.project && dayNumber(d.dt) === dayNumber(last.to) + 1) last.to = d.dt;
    else ranges.push({ project: d.project, from: d.dt, to: d.dt });
  }
  return ranges;
}

/**
 * dau/wau/mau of every day of a range, by coverage instead of one distinct count per window:
 * each active day of a user counts them in the MAU of the next 30 days, up to (not including)
 * their next active day, which starts a new stretch; likewise 7 days for WAU and 1 for DAU.
 * Summing +1 at each stretch's start and -1 at its end, day by day, gives the exact number of
 * distinct users of every window after one sort of the range's (user, day) rows.
 */
function windowsSql(range: { project: string; from: string; to: string }): string {
  const project = literal(range.project, 'project');
  const from = literal(range.from, 'date');
  const to = literal(range.to, 'date');
  return `INSERT INTO active_users
    WITH days AS (
      SELECT user_hash, dt, lead(dt) OVER (PARTITION BY user_hash ORDER BY dt) AS next_dt
      FROM daily_users WHERE project = ${project} AND dt BETWEEN ${from} - ${MAU_DAYS - 1} AND ${to}
    ),
    changes AS (
      SELECT dt AS day, 1 AS d, 1 AS w, 1 AS m FROM days
      UNION ALL SELECT dt + 1, -1, 0, 0 FROM days
      UNION ALL SELECT least(coalesce(next_dt, dt + ${WAU_DAYS}), dt + ${WAU_DAYS}), 0, -1, 0 FROM days
      UNION ALL SELECT least(coalesce(next_dt, dt + ${MAU_DAYS}), dt + ${MAU_DAYS}), 0, 0, -1 FROM days
    ),
    per_day AS (SELECT day, sum(d) AS d, sum(w) AS w, sum(m) AS m FROM changes GROUP BY day),
    calendar AS (
      SELECT CAST(day AS DATE) AS day FROM generate_series(CAST(${from} - ${MAU_DAYS - 1} AS TIMESTAMP), CAST(${to} AS TIMESTAMP), INTERVAL 1 DAY) g(day)
    ),
    running AS (
      SELECT c.day,
        sum(coalesce(p.d, 0)) OVER w AS dau,
        sum(coalesce(p.w, 0)) OVER w AS wau,
        sum(coalesce(p.m, 0)) OVER w AS mau
      FROM calendar c LEFT JOIN per_day p ON p.day = c.day
      WINDOW w AS (ORDER BY c.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )
    SELECT ${project}, day, dau, wau, mau, now() FROM running WHERE day BETWEEN ${from} AND ${to}`;
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

  private readParquet(globs: string | string[]): string {
    return readLake(globs);
  }

  /** (Re)creates `events_all` and `events` over the lake once it has files; typed and empty before. */
  private async ensureViews(connection: DuckDBConnection): Promise<void> {
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
    await connection.run(EVENTS_VIEW);
    this.viewsOverFiles = overFiles;
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

  /**
   * A refresh, in one transaction:
   * 1. reads the changed days' files and keeps each event's counted copy (people.ts, rule 1),
   *    adding the days whose copy lost to an earlier one (their counts change too);
   * 2. rebuilds those days' ids and identity evidence, and the people of the projects whose
   *    evidence changed, adding every day where an id changed person;
   * 3. replaces the persons of all those days. Where dau/wau/mau rows already exist for the days
   *    whose windows hold a day, they are corrected by the persons who joined or left it (a
   *    person changes a window's count only without another active day in that window), so a
   *    late event costs a lookup of the few persons it adds, not a recount of 30 windows. Rows
   *    that do not exist yet (new days, first build) are computed whole, by coverage, at the end.
   */
  async refresh(changed: readonly ProjectDay[], today: string): Promise<RefreshStats> {
    const requested = uniqueProjectDays(changed);
    if (requested.length === 0) return { daysRecomputed: 0, windowsRecomputed: 0 };
    return this.writes.run(async () => {
      await this.ensureViews(this.writer);
      await this.writer.run('BEGIN TRANSACTION');
      try {
        const scanned = await this.scanCounted(requested);
        const moved = await this.rebuildIds();
        const days = uniqueProjectDays([...scanned, ...moved]);
        await this.writer.run(
          `CREATE OR REPLACE TEMP TABLE new_users AS
           SELECT DISTINCT d.project, d.dt, coalesce(p.person, d.id_hash) AS user_hash
           FROM day_ids d JOIN ${pairsTable(days)} ON d.project = t.project AND d.dt = t.dt
           LEFT JOIN people p ON p.project = d.project AND p.id_hash = d.id_hash`,
        );
        // Days whose windows have no rows yet (first build, new days) are replaced in bulk; their
        // windows are computed whole below, and they lie in no existing row's window.
        const corrected: ProjectDay[] = [];
        const bulk: ProjectDay[] = [];
        for (const day of days) ((await this.hasWindowRows(day, today)) ? corrected : bulk).push(day);
        if (bulk.length > 0) await this.replaceDays(bulk);
        for (const day of corrected) await this.refreshDay(day, today);
        const windows = affectedDays(days, today);
        if (windows.length > 0) {
          const missing = await this.writer.runAndReadAll(
            `SELECT t.project, strftime(t.dt, '%Y-%m-%d') FROM ${pairsTable(windows)}
             ANTI JOIN active_users a ON a.project = t.project AND a.dt = t.dt ORDER BY 1, 2`,
          );
          const pairs = missing
            .getRows()
            .map(([project, dt]) => ({ project: String(project), dt: String(dt) }));
          for (const range of contiguousRanges(pairs)) await this.writer.run(windowsSql(range));
        }
        await this.writer.run('COMMIT');
        return { daysRecomputed: days.length, windowsRecomputed: windows.length };
      } catch (error) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        throw new WarehouseError(
          'refresh_failed',
          `refresh of ${requested.length} day(s) failed: ${(error as Error).message}`,
        );
      }
    });
  }

  /**
   * Reads these days' files into `scan`, then adds the days holding an indexed copy that a
   * scanned copy received earlier displaces, until none is left; `counted` is left holding the
   * counted copies of the days returned.
   */
  private async scanCounted(requested: ProjectDay[]): Promise<ProjectDay[]> {
    let days = requested;
    for (;;) {
      await this.recordRead(days, Date.now());
      const globs = this.dayGlobs(days);
      await this.writer.run(
        `CREATE OR REPLACE TEMP TABLE scan AS ${
          globs.length > 0
            ? `SELECT ${SCAN_COLUMNS} FROM ${lakeRows(globs)}`
            : `SELECT ${SCAN_COLUMNS} FROM (${EMPTY_EVENTS})`
        }`,
      );
      await this.writer.run(`CREATE OR REPLACE TEMP TABLE scan_days AS SELECT * FROM ${pairsTable(days)}`);
      const displaced = await this.writer.runAndReadAll(
        `SELECT DISTINCT i.project, strftime(i.dt, '%Y-%m-%d') FROM event_index i
         JOIN scan s ON s.project = i.project AND s.event_id = i.event_id
         ANTI JOIN scan_days d ON d.project = i.project AND d.dt = i.dt
         WHERE s.received_at < i.received_at OR (s.received_at = i.received_at AND s.event_time < i.event_time)`,
      );
      const more = displaced.getRows().map(([project, dt]) => ({ project: String(project), dt: String(dt) }));
      if (more.length === 0) break;
      days = uniqueProjectDays([...days, ...more]);
    }
    // A copy counts when it is the first of its event among the scanned copies and no copy is
    // indexed on another day: one indexed there now came first (a later one would have added its
    // day above, and a tie in both times is the same day).
    await this.writer.run(
      `CREATE OR REPLACE TEMP TABLE counted AS
       SELECT s.* FROM (
         SELECT * FROM scan QUALIFY row_number() OVER (PARTITION BY project, event_id ORDER BY ${COPY_ORDER}) = 1
       ) s
       ANTI JOIN (
         SELECT i.project, i.event_id FROM event_index i
         ANTI JOIN scan_days d ON d.project = i.project AND d.dt = i.dt
       ) o ON o.project = s.project AND o.event_id = s.event_id`,
    );
    return days;
  }

  /**
   * Rebuilds the event index, ids and identity evidence of the scanned days from `counted`, then
   * the people of the projects whose evidence changed. Returns the days where an id changed person.
   */
  private async rebuildIds(): Promise<ProjectDay[]> {
    const inDays = (table: string) =>
      `DELETE FROM ${table} USING scan_days d WHERE ${table}.project = d.project AND ${table}.dt = d.dt`;
    await this.writer.run(inDays('event_index'));
    await this.writer.run(
      `INSERT INTO event_index SELECT project, event_id, dt, received_at, event_time FROM counted ORDER BY project, dt`,
    );
    await this.writer.run(inDays('day_ids'));
    await this.writer.run(
      `INSERT INTO day_ids SELECT DISTINCT project, dt, coalesce(user_hash, anonymous_hash) FROM counted
       WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL ORDER BY project, dt`,
    );
    const before = await this.writer.runAndReadAll(
      `SELECT DISTINCT l.project FROM links l JOIN scan_days d ON l.project = d.project AND l.dt = d.dt`,
    );
    await this.writer.run(inDays('links'));
    await this.writer.run(
      `INSERT INTO links
       SELECT project, dt, 'anon', anon, user_hash, event_time, received_at FROM (
         SELECT project, dt, anonymous_hash AS anon, user_hash, event_time, received_at FROM counted
         WHERE anonymous_hash IS NOT NULL AND user_hash IS NOT NULL
         UNION ALL
         SELECT project, dt, previous_anonymous_hash, user_hash, event_time, received_at FROM counted
         WHERE type = 'alias' AND previous_anonymous_hash IS NOT NULL AND user_hash IS NOT NULL
       ) QUALIFY row_number() OVER (PARTITION BY project, dt, anon ORDER BY event_time, received_at, user_hash) = 1
       UNION ALL
       SELECT DISTINCT project, dt, 'alias', previous_user_hash, user_hash, NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ
       FROM counted WHERE type = 'alias' AND previous_user_hash IS NOT NULL AND user_hash IS NOT NULL
         AND previous_user_hash <> user_hash`,
    );
    const after = await this.writer.runAndReadAll(
      `SELECT DISTINCT l.project FROM links l JOIN scan_days d ON l.project = d.project AND l.dt = d.dt`,
    );
    const projects = new Set([...before.getRows(), ...after.getRows()].map(([p]) => String(p)));
    const moved: ProjectDay[] = [];
    for (const name of projects) moved.push(...(await this.resolveProject(name)));
    return moved;
  }

  /** Recomputes a project's people from its evidence; returns the days of the ids that changed person. */
  private async resolveProject(name: string): Promise<ProjectDay[]> {
    const p = literal(name, 'project');
    const firstUsers = await this.writer.runAndReadAll(
      `SELECT from_hash, to_hash FROM links WHERE project = ${p} AND kind = 'anon'
       QUALIFY row_number() OVER (PARTITION BY from_hash ORDER BY event_time, received_at, to_hash) = 1`,
    );
    const aliases = await this.writer.runAndReadAll(
      `SELECT DISTINCT from_hash, to_hash FROM links WHERE project = ${p} AND kind = 'alias'`,
    );
    const stored = await this.writer.runAndReadAll(`SELECT id_hash, person FROM people WHERE project = ${p}`);
    const pairs = (rows: unknown[][]) =>
      rows.map(([a, b]) => [BigInt(a as bigint), BigInt(b as bigint)] as const);
    const after = resolvePeople(
      pairs(firstUsers.getRows()).map(([anonymousHash, userHash]) => ({ anonymousHash, userHash })),
      pairs(aliases.getRows()).map(([from, to]) => ({ from, to })),
    );
    const changed = changedIds(new Map(pairs(stored.getRows())), after);
    if (changed.length === 0) return [];
    await this.writer.run(`CREATE OR REPLACE TEMP TABLE changed_ids (id_hash BIGINT)`);
    for (let i = 0; i < changed.length; i += 1000) {
      await this.writer.run(
        `INSERT INTO changed_ids VALUES ${changed
          .slice(i, i + 1000)
          .map((id) => `(${id})`)
          .join(', ')}`,
      );
    }
    await this.writer.run(
      `DELETE FROM people USING changed_ids c WHERE people.project = ${p} AND people.id_hash = c.id_hash`,
    );
    const rows = changed.filter((id) => after.has(id)).map((id) => `(${id}, ${after.get(id)})`);
    for (let i = 0; i < rows.length; i += 1000) {
      await this.writer.run(
        `INSERT INTO people SELECT ${p}, * FROM (VALUES ${rows.slice(i, i + 1000).join(', ')})`,
      );
    }
    const days = await this.writer.runAndReadAll(
      `SELECT DISTINCT strftime(d.dt, '%Y-%m-%d') FROM day_ids d JOIN changed_ids c ON d.id_hash = c.id_hash
       WHERE d.project = ${p}`,
    );
    return days.getRows().map(([dt]) => ({ project: name, dt: String(dt) }));
  }

  /** The last day whose window holds `day`, up to today; null when that is before `day`. */
  private horizon(day: ProjectDay, today: string): string | null {
    const last = Math.min(dayNumber(day.dt) + MAU_DAYS - 1, dayNumber(today));
    return last >= dayNumber(day.dt) ? addDays(day.dt, last - dayNumber(day.dt)) : null;
  }

  private async hasWindowRows(day: ProjectDay, today: string): Promise<boolean> {
    const horizon = this.horizon(day, today);
    if (horizon === null) return false;
    const rows = await this.writer.runAndReadAll(
      `SELECT count(*) FROM active_users WHERE project = ${literal(day.project, 'project')}
       AND dt BETWEEN ${literal(day.dt, 'date')} AND ${literal(horizon, 'date')}`,
    );
    return Number(rows.getRows()[0]?.[0] ?? 0) > 0;
  }

  private async recordRead(days: readonly ProjectDay[], readAt: number): Promise<void> {
    await this.writer.run(
      `INSERT OR REPLACE INTO day_reads SELECT project, dt, ${Math.floor(readAt)} FROM ${pairsTable(days)}`,
    );
  }

  /** Replaces the persons of these days with `new_users`'. */
  private async replaceDays(days: readonly ProjectDay[]): Promise<void> {
    await this.writer.run(
      `DELETE FROM daily_users USING ${pairsTable(days)} WHERE daily_users.project = t.project AND daily_users.dt = t.dt`,
    );
    await this.writer.run(
      `INSERT INTO daily_users SELECT n.project, n.dt, n.user_hash FROM new_users n
       JOIN ${pairsTable(days)} ON n.project = t.project AND n.dt = t.dt ORDER BY n.project, n.dt`,
    );
  }

  /** Replaces one day's persons, correcting the existing rows of the windows that hold it. */
  private async refreshDay(day: ProjectDay, today: string): Promise<void> {
    const p = literal(day.project, 'project');
    const d = literal(day.dt, 'date');
    await this.writer.run(
      `CREATE OR REPLACE TEMP TABLE day_users AS
       SELECT user_hash FROM new_users WHERE project = ${p} AND dt = ${d}`,
    );
    const horizon = this.horizon(day, today);
    if (horizon !== null) await this.correctWindows(p, d, literal(horizon, 'date'));
    await this.writer.run(`DELETE FROM daily_users WHERE project = ${p} AND dt = ${d}`);
    await this.writer.run(
      `INSERT INTO daily_users SELECT ${p}, ${d}, user_hash FROM day_users ORDER BY user_hash`,
    );
  }

  /** Applies the change of one day's user set to the existing rows of the windows holding it. */
  private async correctWindows(p: string, d: string, h: string): Promise<void> {
    await this.writer.run(
      `CREATE OR REPLACE TEMP TABLE day_diff AS
       SELECT user_hash, 1 AS sign FROM (
         SELECT user_hash FROM day_users EXCEPT SELECT user_hash FROM daily_users WHERE project = ${p} AND dt = ${d})
       UNION ALL
       SELECT user_hash, -1 AS sign FROM (
         SELECT user_hash FROM daily_users WHERE project = ${p} AND dt = ${d} EXCEPT SELECT user_hash FROM day_users)`,
    );
    await this.writer.run(
      `CREATE OR REPLACE TEMP TABLE day_around AS
       SELECT f.user_hash, f.sign,
         max(u.dt) FILTER (WHERE u.dt < ${d}) AS prev_dt,
         min(u.dt) FILTER (WHERE u.dt > ${d}) AS next_dt
       FROM day_diff f LEFT JOIN daily_users u
         ON u.user_hash = f.user_hash AND u.project = ${p}
        AND u.dt BETWEEN ${d} - ${MAU_DAYS - 1} AND ${d} + ${MAU_DAYS - 1} AND u.dt <> ${d}
       GROUP BY f.user_hash, f.sign`,
    );
    await this.writer.run(
      `UPDATE active_users SET
         dau = dau + x.ddau, wau = wau + x.dwau, mau = mau + x.dmau, computed_at = now()
       FROM (
         SELECT CAST(t.day AS DATE) AS day,
           coalesce(sum(a.sign) FILTER (WHERE CAST(t.day AS DATE) = ${d}), 0) AS ddau,
           coalesce(sum(a.sign) FILTER (WHERE CAST(t.day AS DATE) <= ${d} + ${WAU_DAYS - 1}
             AND (a.prev_dt IS NULL OR a.prev_dt < CAST(t.day AS DATE) - ${WAU_DAYS - 1})
             AND (a.next_dt IS NULL OR a.next_dt > CAST(t.day AS DATE))), 0) AS dwau,
           coalesce(sum(a.sign) FILTER (WHERE (a.prev_dt IS NULL OR a.prev_dt < CAST(t.day AS DATE) - ${MAU_DAYS - 1})
             AND (a.next_dt IS NULL OR a.next_dt > CAST(t.day AS DATE))), 0) AS dmau
         FROM generate_series(CAST(${d} AS TIMESTAMP), CAST(${h} AS TIMESTAMP), INTERVAL 1 DAY) t(day)
         CROSS JOIN day_around a
         GROUP BY t.day
       ) x
       WHERE active_users.project = ${p} AND active_users.dt = x.day`,
    );
  }

  async activeUsers(project: string, from: string, to: string, today: string): Promise<ActiveUsersDay[]> {
    const last = dayNumber(to) < dayNumber(today) ? to : today;
    if (dayNumber(from) > dayNumber(last)) return [];
    return this.reads.run(async () => {
      // One snapshot: stored rows and today's correction must see the same refresh.
      await this.reader.run('BEGIN TRANSACTION');
      try {
        const stored = await this.reader.runAndReadAll(
          `SELECT strftime(dt, '%Y-%m-%d') AS dt, dau, wau, mau FROM active_users
           WHERE project = $1 AND dt BETWEEN CAST($2 AS DATE) AND CAST($3 AS DATE)`,
          [project, from, last],
        );
        const byDay = new Map<string, ActiveUsersDay>();
        for (const [dt, dau, wau, mau] of stored.getRows()) {
          byDay.set(String(dt), { dt: String(dt), dau: Number(dau), wau: Number(wau), mau: Number(mau) });
        }
        const rolledToday = byDay.get(today);
        if (rolledToday) byDay.set(today, await this.withNewerFiles(project, today, rolledToday));
        const missing = daysFrom(from, last).filter((d) => !byDay.has(d));
        for (const day of await this.liveDays(project, missing, today)) byDay.set(day.dt, day);
        return daysFrom(from, last).map((dt) => byDay.get(dt) ?? { dt, dau: 0, wau: 0, mau: 0 });
      } finally {
        await this.reader.run('COMMIT');
      }
    });
  }

  /**
   * Today's rolled-up row plus the files of today written since the rollup read them: the users
   * they add who were not active today, nor in the last 6 (WAU) or 29 (MAU) days, so a query
   * scans seconds of new data, not the whole day.
   */
  private async withNewerFiles(
    project: string,
    today: string,
    rolled: ActiveUsersDay,
  ): Promise<ActiveUsersDay> {
    const p = literal(project, 'project');
    const t = literal(today, 'date');
    const read = await this.reader.runAndReadAll(
      `SELECT read_at_ms FROM day_reads WHERE project = ${p} AND dt = ${t}`,
    );
    const readAt = Number(read.getRows()[0]?.[0] ?? 0);
    const dir = join(this.lakeRoot, 'events', `project=${project}`, `dt=${today}`);
    const files: string[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.endsWith('.parquet')) continue;
      const info = await stat(join(dir, name)).catch(() => null);
      if (info && info.mtimeMs >= readAt - READ_SLACK_MS) files.push(join(dir, name));
    }
    if (files.length === 0) return rolled;
    const added = await this.reader.runAndReadAll(
      `WITH live AS (SELECT DISTINCT user_hash FROM (${this.livePersons(project, today, files)})),
       fresh AS (SELECT user_hash FROM live EXCEPT SELECT user_hash FROM daily_users WHERE project = ${p} AND dt = ${t}),
       seen AS (
         SELECT f.user_hash, max(u.dt) AS prev_dt FROM fresh f
         LEFT JOIN daily_users u ON u.user_hash = f.user_hash AND u.project = ${p}
           AND u.dt BETWEEN ${t} - ${MAU_DAYS - 1} AND ${t} - 1
         GROUP BY f.user_hash
       )
       SELECT count(*), count(*) FILTER (WHERE prev_dt IS NULL OR prev_dt < ${t} - ${WAU_DAYS - 1}),
         count(*) FILTER (WHERE prev_dt IS NULL)
       FROM seen`,
    );
    const [dau, wau, mau] = (added.getRows()[0] ?? [0, 0, 0]).map(Number) as [number, number, number];
    return { dt: today, dau: rolled.dau + dau, wau: rolled.wau + wau, mau: rolled.mau + mau };
  }

  /**
   * The persons of lake rows of today not rolled up yet: copies of events already counted on
   * another day are left out, and ids map to persons as of the last rollup (a link made since
   * applies at the next one).
   */
  private livePersons(project: string, today: string, files: string[]): string {
    const p = literal(project, 'project');
    return `SELECT x.dt, coalesce(m.person, x.id) AS user_hash FROM (
        SELECT dt, event_id, coalesce(user_hash, anonymous_hash) AS id FROM ${this.readParquet(files)}
        WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
      ) x
      ANTI JOIN event_index i ON i.project = ${p} AND i.event_id = x.event_id AND i.dt <> ${literal(today, 'date')}
      LEFT JOIN people m ON m.project = ${p} AND m.id_hash = x.id`;
  }

  /** dau/wau/mau of days without a rolled-up row: daily_users for the past, a scan of the lake for today. */
  private async liveDays(project: string, days: string[], today: string): Promise<ActiveUsersDay[]> {
    if (days.length === 0) return [];
    const first = addDays(days[0]!, -(MAU_DAYS - 1));
    const todayGlobs = days.includes(today) ? this.dayGlobs([{ project, dt: today }]) : [];
    const live =
      todayGlobs.length > 0
        ? `UNION ALL SELECT DISTINCT dt, user_hash FROM (${this.livePersons(project, today, todayGlobs)})`
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

  async lastRollup(): Promise<Date | null> {
    return this.reads.run(async () => {
      const reader = await this.reader.runAndReadAll(`SELECT epoch_ms(max(ran_at)) FROM rollup_runs`);
      const value = reader.getRows()[0]?.[0];
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
    this.writer.closeSync();
    this.reader.closeSync();
    this.instance.closeSync();
  }
}
