import { join } from 'node:path';
import { LAKE_DIMENSIONS } from '../breakdowns.js';
import { addDays, MAU_DAYS, WAU_DAYS } from '../days.js';
import type { ActiveUsersDay } from '../warehouse.js';
import { type Db, dayDir, dayFiles, hasParquet, lakeRows, literal, sqlPath } from './sql.js';

/** Files written this close before a read still count as live: file times are coarse and renames lag writes. */
const READ_SLACK_MS = 5_000;

export interface LiveOptions {
  lakeRoot: string;
  /** Rule 0: the predicate of lake rows that count (`countedRows`). */
  counted: string;
  /** Today's rows kept between reads, and the refreshes it had seen when the read began. */
  cache: LiveRows;
  generation: number;
}

/** A lake file of today: its path, and its time and size (a file written again reads anew). */
export interface LiveFile {
  path: string;
  version: string;
}

/**
 * The rows of today's files not rolled up yet as they count, `(file, dt, user_hash, <lake
 * dimensions>)`: rule 0's rows (copies need no verdict: rule 1), their ids mapped to persons as
 * of the last rollup (a link made since applies at the next one).
 */
export function livePersons(options: LiveOptions, project: string, files: string[]): string {
  return `SELECT x.file, x.dt, coalesce(m.person, x.id) AS user_hash, ${LAKE_DIMENSIONS.map((d) => `x.${d}`).join(', ')} FROM (
      SELECT filename AS file, dt, coalesce(user_hash, anonymous_hash) AS id, ${LAKE_DIMENSIONS.join(', ')}
      FROM ${lakeRows(files, true)} WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL AND ${options.counted}
    ) x
    LEFT JOIN people m ON m.project = ${literal(project, 'project')} AND m.id_hash = x.id`;
}

/** The temporary table of the counted rows of today's newer files, on the read connection. */
const CACHE = 'live_rows';

/**
 * Today's rows not rolled up yet as they count (`livePersons`), kept per file between reads: a
 * dashboard asks for the totals and several breakdowns of the same files, each read once. Rows
 * are mapped by the people of the last refresh, so a refresh's commit drops them all; a file
 * written again (new time or size) is read again.
 */
export class LiveRows {
  private readonly held = new Map<string, string>();
  private holding = -1;
  private seen = 0;

  /** The refreshes committed so far; a read takes it before its transaction begins. */
  get generation(): number {
    return this.seen;
  }

  /** A refresh committed: the people every held row was mapped by have changed. */
  refreshed(): void {
    this.seen += 1;
  }

  /** Forgets every held row: after a failed read (its transaction may have lost them) or a new connection. */
  forget(): void {
    this.held.clear();
    this.holding = -1;
  }

  /**
   * The SQL of `(dt, user_hash, <lake dimensions>)` of these files of a project's today, reading
   * first the files not held yet. `generation` is the one taken before the read's transaction:
   * rows read in a snapshot older than a refresh that committed since are never kept past it.
   */
  async rows(db: Db, options: LiveOptions, project: string, files: readonly LiveFile[]): Promise<string> {
    const p = literal(project, 'project');
    const dims = LAKE_DIMENSIONS.join(', ');
    await db.run(
      `CREATE TEMP TABLE IF NOT EXISTS ${CACHE} (project VARCHAR, file VARCHAR, dt DATE, user_hash BIGINT, ${LAKE_DIMENSIONS.map((d) => `${d} VARCHAR`).join(', ')})`,
    );
    if (this.holding !== options.generation) {
      await db.run(`DELETE FROM ${CACHE}`);
      this.held.clear();
      this.holding = options.generation;
    }
    const stale = files.filter((f) => this.held.get(f.path) !== f.version);
    if (stale.length > 0) {
      const paths = stale.map((f) => f.path);
      await db.run(
        `DELETE FROM ${CACHE} WHERE project = ${p} AND file IN (${paths.map(sqlPath).join(', ')})`,
      );
      await db.run(
        `INSERT INTO ${CACHE} SELECT ${p}, file, dt, user_hash, ${dims}
         FROM (${livePersons(options, project, paths)})`,
      );
      for (const file of stale) this.held.set(file.path, file.version);
    }
    return `(SELECT dt, user_hash, ${dims} FROM ${CACHE}
      WHERE project = ${p} AND file IN (${files.map((f) => sqlPath(f.path)).join(', ')}))`;
  }
}

/** The glob of today's files of a project, or null when there are none. */
export function todayFiles(options: LiveOptions, project: string, today: string): string | null {
  const dir = dayDir(options.lakeRoot, project, today);
  return hasParquet(dir) ? join(dir, '*.parquet') : null;
}

/** Today's files of a project written since the rollup last read the day: every file when it never did. */
export async function newerFiles(
  db: Db,
  options: LiveOptions,
  project: string,
  today: string,
): Promise<LiveFile[]> {
  const [read] = await db.rows(
    `SELECT read_at_ms FROM day_reads WHERE project = ${literal(project, 'project')} AND dt = ${literal(today, 'date')}`,
  );
  const readAt = Number(read?.[0] ?? 0);
  return (await dayFiles(options.lakeRoot, project, today))
    .filter((f) => f.mtimeMs >= readAt - READ_SLACK_MS)
    .map(({ path, version }) => ({ path, version }));
}

/**
 * Today's rolled-up row plus the files of today written since the rollup read them: the users
 * they add who were not active today, nor in the last 6 (WAU) or 29 (MAU) days, so a query
 * scans seconds of new data, not the whole day.
 */
export async function withNewerFiles(
  db: Db,
  options: LiveOptions,
  project: string,
  today: string,
  rolled: ActiveUsersDay,
): Promise<ActiveUsersDay> {
  const p = literal(project, 'project');
  const t = literal(today, 'date');
  const files = await newerFiles(db, options, project, today);
  if (files.length === 0) return rolled;
  const rows = await options.cache.rows(db, options, project, files);
  const [added] = await db.rows(
    `WITH live AS (SELECT DISTINCT user_hash FROM ${rows}),
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
  const [dau, wau, mau] = (added ?? [0, 0, 0]).map(Number) as [number, number, number];
  return { dt: today, dau: rolled.dau + dau, wau: rolled.wau + wau, mau: rolled.mau + mau };
}

/** dau/wau/mau of days without a rolled-up row: daily_users for the past, a scan of the lake for today. */
export async function liveDays(
  db: Db,
  options: LiveOptions,
  project: string,
  days: string[],
  today: string,
): Promise<ActiveUsersDay[]> {
  if (days.length === 0) return [];
  const first = addDays(days[0]!, -(MAU_DAYS - 1));
  const files = days.includes(today) ? todayFiles(options, project, today) : null;
  const live =
    files !== null
      ? `UNION ALL SELECT DISTINCT dt, user_hash FROM (${livePersons(options, project, [files])})`
      : '';
  const rows = await db.rows(
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
  return rows.map(([dt, dau, wau, mau]) => ({
    dt: String(dt),
    dau: Number(dau),
    wau: Number(wau),
    mau: Number(mau),
  }));
}
