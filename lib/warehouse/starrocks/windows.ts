import { dimensionRows, idValues, LAKE_DIMENSIONS } from '../breakdowns.js';
import { addDays, affectedDays, MAU_DAYS, type ProjectDay, WAU_DAYS } from '../days.js';
import { counted, ids as refreshIds } from './identity.js';
import { markers, marks, type Query, type Run, storedRows } from './sql.js';

/** A table `(dt)` of these days, one placeholder each. */
export function calendarOf(days: readonly string[]): string {
  return days.map(() => 'SELECT CAST(? AS DATE) AS dt').join(' UNION ALL ');
}

/**
 * Days of one window statement (one `SELECT CAST(? AS DATE)` each in its calendar): a breakdown
 * of 90 days is one statement, its persons per value computed once.
 */
export const WINDOW_CHUNK_DAYS = 100;

/**
 * dau/wau/mau of these days of a project from `daily_users`, a row for every day (a quiet day
 * reads 0 for DAU and the windows' persons for WAU/MAU). Every join has constant `dt` bounds,
 * so only the partitions of the windows are read.
 */
export function windowsSelect(db: string, name: string, days: readonly string[]): Query {
  const first = addDays(days[0]!, -(MAU_DAYS - 1));
  const last = days[days.length - 1]!;
  const calendar = calendarOf(days);
  const windowOf = (n: number) =>
    `SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (${calendar}) c
  JOIN ${db}.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL ${n - 1} DAY) AND c.dt
  GROUP BY c.dt`;
  const windowValues = [...days, name, first, last];
  return {
    sql: `SELECT c.dt AS dt, ? AS project, coalesce(d.n, 0) AS dau, coalesce(w.n, 0) AS wau,
  coalesce(m.n, 0) AS mau, now() AS computed_at
FROM (${calendar}) c
LEFT JOIN (${windowOf(MAU_DAYS)}) m ON m.dt = c.dt
LEFT JOIN (${windowOf(WAU_DAYS)}) w ON w.dt = c.dt
LEFT JOIN (${windowOf(1)}) d ON d.dt = c.dt`,
    values: [name, ...days, ...windowValues, ...windowValues, ...windowValues],
  };
}

/**
 * Replaces the persons of these days, and of each value of the lake's dimensions on them: the
 * read days' ids from the rows read (with, for a day appended to, the ids its tables held), the
 * other days' (whose ids changed person) from `day_ids` and `day_values`, each mapped to its
 * person as the refresh leaves it (the changed ids' new person, else `people`). Every project's
 * rows of a day are written together: a day is one partition, replaced whole.
 */
export async function writeDailyUsers(
  run: Run,
  db: string,
  days: { read: readonly string[]; appended: readonly string[]; moved: readonly string[] },
): Promise<void> {
  const { read, appended, moved } = days;
  const targets = [...new Set([...read, ...moved])].sort();
  const others = [...moved.filter((d) => !read.includes(d)), ...appended];
  const stored = (table: string, columns: string) => storedRows(db, table, `dt, project, ${columns}`, others);
  const persons = (table: string, keys: string[], ids: string, marker: string) => {
    const grouped = keys.map((k) => `i.${k}, `).join('');
    return `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${db}.${table} (dt, project, ${keys.map((k) => `${k}, `).join('')}users)
SELECT i.dt, i.project, ${grouped}bitmap_union(to_bitmap(coalesce(c.person, p.person, i.id_hash))) FROM (
  ${ids}
) i
LEFT JOIN ${refreshIds(db, 'changed')} c ON c.project = i.project AND c.id_hash = i.id_hash
LEFT JOIN ${db}.people p ON p.project = i.project AND p.id_hash = i.id_hash
GROUP BY ${grouped}i.dt, i.project
UNION ALL ${markers(targets, marker)}`;
  };
  await run(
    persons(
      'daily_users',
      [],
      `SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash FROM ${counted(db)} r
  WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
  ${stored('day_ids', 'id_hash')}`,
      "'', bitmap_empty()",
    ),
    [...others, ...targets],
  );
  await run(
    persons(
      'daily_values',
      ['dim', 'value'],
      dimensionRows(`(
    ${idValues(`${counted(db)} r`)}
    ${stored('day_values', `id_hash, ${LAKE_DIMENSIONS.join(', ')}`)}
  ) v`),
      "'', '', '', bitmap_empty()",
    ),
    // The ids' rows are read once per dimension, the stored days' placeholders with them.
    [...LAKE_DIMENSIONS.flatMap(() => others), ...targets],
  );
}

/** The first day StarRocks' DATE holds: an empty set of persons before every day. */
const BEFORE = '0000-01-01';

/**
 * Replaces the persons first active on each day from the earliest of these days (whose persons
 * were just written) to the last day rolled up: a day's persons not active before it. The persons
 * active before the earliest day are the union of the first-day sets before it (each person once,
 * not every day's persons), those of the days after it their own persons.
 */
export async function writeFirstDays(run: Run, db: string, written: readonly string[]): Promise<void> {
  const start = [...written].sort()[0];
  if (start === undefined) return;
  const later = await run(
    `SELECT DISTINCT CAST(dt AS VARCHAR) AS dt FROM ${db}.daily_users WHERE dt >= ? AND project <> ''`,
    [start],
  );
  const days = [...new Set([...written, ...later.map((r) => String(r.dt))])].sort();
  const these = (t: string) => `${t}.dt IN (${marks(days)}) AND ${t}.project <> ''`;
  await run(
    `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${db}.first_days (dt, project, users)
SELECT d.dt, d.project, bitmap_andnot(d.users, p.before) FROM ${db}.daily_users d
JOIN (
  SELECT d.dt, d.project, bitmap_union(e.users) AS before FROM ${db}.daily_users d
  JOIN (
    SELECT dt, project, users FROM ${db}.first_days WHERE dt < ? AND project <> ''
    UNION ALL SELECT u.dt, u.project, u.users FROM ${db}.daily_users u WHERE ${these('u')}
    UNION ALL SELECT CAST('${BEFORE}' AS DATE) AS dt, u.project, bitmap_empty() AS users FROM ${db}.daily_users u WHERE ${these('u')}
  ) e ON e.project = d.project AND e.dt < d.dt
  WHERE ${these('d')}
  GROUP BY d.dt, d.project
) p ON p.dt = d.dt AND p.project = d.project
WHERE ${these('d')}
UNION ALL ${markers(days, "'', bitmap_empty()")}`,
    [start, ...days, ...days, ...days, ...days, ...days],
  );
}

/** Upserts dau/wau/mau of every day whose window holds one of these days, up to today. */
export async function writeWindows(
  run: Run,
  db: string,
  days: readonly ProjectDay[],
  today: string,
): Promise<number> {
  const windows = affectedDays(days, today);
  const byProject = new Map<string, string[]>();
  for (const w of windows) byProject.set(w.project, [...(byProject.get(w.project) ?? []), w.dt]);
  for (const [name, targetDays] of byProject) {
    for (let i = 0; i < targetDays.length; i += WINDOW_CHUNK_DAYS) {
      const select = windowsSelect(db, name, targetDays.slice(i, i + WINDOW_CHUNK_DAYS));
      await run(
        `INSERT INTO ${db}.active_users (dt, project, dau, wau, mau, computed_at)\n${select.sql}`,
        select.values,
      );
    }
  }
  return windows.length;
}
