import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { addDays, MAU_DAYS, WAU_DAYS } from '../days.js';
import type { ActiveUsersDay } from '../warehouse.js';
import { type Db, hasParquet, lakeRows, literal, windowInterval } from './sql.js';

/** Files written this close before a read still count as live: file times are coarse and renames lag writes. */
const READ_SLACK_MS = 5_000;

export interface LiveOptions {
  lakeRoot: string;
  windowHours: number;
  /** Rule 0: the predicate of lake rows that count (`countedRows`). */
  counted: string;
}

/**
 * The persons of lake rows of today not rolled up yet: copies with an indexed copy of another
 * day received within the window before them are duplicates (rule 1), and ids map to persons as
 * of the last rollup (a link made since applies at the next one). With `column`, each row also
 * carries that lake column as `value`.
 */
export function livePersons(
  options: LiveOptions,
  project: string,
  today: string,
  files: string[],
  column?: string,
): string {
  const p = literal(project, 'project');
  const value = column === undefined ? '' : `${column} AS value, `;
  return `SELECT x.dt, ${column === undefined ? '' : 'x.value, '}coalesce(m.person, x.id) AS user_hash FROM (
      SELECT dt, ${value}md5_number(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
      FROM ${lakeRows(files)} WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL AND ${options.counted}
    ) x
    ANTI JOIN event_index i ON i.project = ${p} AND i.digest = x.digest AND i.dt <> ${literal(today, 'date')}
      AND i.received_at BETWEEN x.received_at - ${windowInterval(options.windowHours)} AND x.received_at
    LEFT JOIN people m ON m.project = ${p} AND m.id_hash = x.id`;
}

/** The glob of today's files of a project, or null when there are none. */
export function todayFiles(options: LiveOptions, project: string, today: string): string | null {
  const dir = join(options.lakeRoot, 'events', `project=${project}`, `dt=${today}`);
  return hasParquet(dir) ? join(dir, '*.parquet') : null;
}

/** Today's files of a project written since the rollup last read the day: every file when it never did. */
export async function newerFiles(
  db: Db,
  options: LiveOptions,
  project: string,
  today: string,
): Promise<string[]> {
  const [read] = await db.rows(
    `SELECT read_at_ms FROM day_reads WHERE project = ${literal(project, 'project')} AND dt = ${literal(today, 'date')}`,
  );
  const readAt = Number(read?.[0] ?? 0);
  const dir = join(options.lakeRoot, 'events', `project=${project}`, `dt=${today}`);
  const files: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.parquet')) continue;
    const info = await stat(join(dir, name)).catch(() => null);
    if (info && info.mtimeMs >= readAt - READ_SLACK_MS) files.push(join(dir, name));
  }
  return files;
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
  const [added] = await db.rows(
    `WITH live AS (SELECT DISTINCT user_hash FROM (${livePersons(options, project, today, files)})),
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
      ? `UNION ALL SELECT DISTINCT dt, user_hash FROM (${livePersons(options, project, today, [files])})`
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
