import { type Dimension, LAKE_DIMENSIONS, NEW, RETURNING, UNKNOWN } from '../breakdowns.js';
import { MAU_DAYS, type ProjectDay, WAU_DAYS } from '../days.js';
import { type LiveOptions, livePersons } from './live.js';
import { type Db, literal, pairsTable, projectDays } from './sql.js';
import { contiguousRanges, coverageChanges } from './windows.js';

/**
 * The persons of each value of the dimensions per day, as the rollup leaves them, and the
 * dau/wau/mau per value it writes from them (`active_values`): a lake dimension's from each id's
 * values (`day_values`) mapped by `people`, `new_vs_returning`'s from `daily_users` and each
 * person's first day (`person_first`).
 */

/**
 * `(dt, value, user_hash)` of one dimension for a project's days from `start` to `end` (SQL
 * expressions); with `persons` (a table of `user_hash`), only theirs.
 */
export function storedRows(by: Dimension, p: string, start: string, end: string, persons?: string): string {
  if (by === 'new_vs_returning') {
    return `SELECT u.dt, CASE WHEN f.first_dt IS NULL OR u.dt <= f.first_dt THEN '${NEW}' ELSE '${RETURNING}' END AS value,
      u.user_hash FROM daily_users u
      LEFT JOIN person_first f ON f.project = u.project AND f.user_hash = u.user_hash
      WHERE u.project = ${p} AND u.dt BETWEEN ${start} AND ${end}
      ${persons === undefined ? '' : `AND u.user_hash IN (SELECT user_hash FROM ${persons})`}`;
  }
  if (persons === undefined) {
    return `SELECT v.dt, coalesce(v.${by}, '${UNKNOWN}') AS value, coalesce(m.person, v.id_hash) AS user_hash
      FROM day_values v LEFT JOIN people m ON m.project = v.project AND m.id_hash = v.id_hash
      WHERE v.project = ${p} AND v.dt BETWEEN ${start} AND ${end}`;
  }
  // The persons' ids: each person's own, and those people maps to it.
  return `SELECT v.dt, coalesce(v.${by}, '${UNKNOWN}') AS value, k.person AS user_hash FROM day_values v
    JOIN (
      SELECT user_hash AS id_hash, user_hash AS person FROM ${persons}
      UNION SELECT m.id_hash, m.person FROM people m WHERE m.project = ${p} AND m.person IN (SELECT user_hash FROM ${persons})
    ) k ON k.id_hash = v.id_hash
    WHERE v.project = ${p} AND v.dt BETWEEN ${start} AND ${end}`;
}

/**
 * `(dt, value, user_hash)` of one dimension in today's lake files `files` (not rolled up yet:
 * `livePersons`); a person without a first day before today is new.
 */
export function liveRows(
  options: LiveOptions,
  project: string,
  by: Dimension,
  today: string,
  files: string[],
): string {
  if (by === 'new_vs_returning') {
    return `SELECT l.dt, CASE WHEN f.first_dt IS NULL OR f.first_dt >= l.dt THEN '${NEW}' ELSE '${RETURNING}' END AS value,
      l.user_hash FROM (${livePersons(options, project, today, files)}) l
      LEFT JOIN person_first f ON f.project = ${literal(project, 'project')} AND f.user_hash = l.user_hash`;
  }
  return `SELECT dt, coalesce(value, '${UNKNOWN}') AS value, user_hash FROM (${livePersons(options, project, today, files, by)})`;
}

/** Distinct `(dt, dim, value, user_hash)` of every dimension for a project's days from `start` to `end`. */
function everyDimension(p: string, start: string, end: string): string {
  const ids = `SELECT v.dt, coalesce(m.person, v.id_hash) AS user_hash,
      ${LAKE_DIMENSIONS.map((d) => `coalesce(v.${d}, '${UNKNOWN}') AS ${d}`).join(', ')}
    FROM day_values v LEFT JOIN people m ON m.project = v.project AND m.id_hash = v.id_hash
    WHERE v.project = ${p} AND v.dt BETWEEN ${start} AND ${end}`;
  return `SELECT DISTINCT dt, dim, value, user_hash FROM (
      SELECT dt, dim, value, user_hash FROM (UNPIVOT (${ids}) ON ${LAKE_DIMENSIONS.join(', ')} INTO NAME dim VALUE value)
      UNION ALL SELECT dt, 'new_vs_returning', value, user_hash FROM (${storedRows('new_vs_returning', p, start, end)})
    )`;
}

/**
 * Writes dau/wau/mau per value of every dimension for these days (those whose totals the refresh
 * wrote, and the windows of days whose new persons changed) that have totals, replacing what they had: a lone day
 * by distinct counts over its month, runs of days by coverage (`coverageChanges`), only values
 * with a person in the day's month.
 */
export async function writeValueWindows(db: Db, days: readonly ProjectDay[]): Promise<void> {
  if (days.length === 0) return;
  // Only days with totals: a breakdown computes the others from their persons, as the totals do.
  const rolled = projectDays(
    await db.rows(
      `SELECT t.project, strftime(t.dt, '%Y-%m-%d') FROM ${pairsTable(days)}
       SEMI JOIN active_users a ON a.project = t.project AND a.dt = t.dt ORDER BY 1, 2`,
    ),
  );
  for (const range of contiguousRanges(rolled)) {
    const p = literal(range.project, 'project');
    const from = literal(range.from, 'date');
    const to = literal(range.to, 'date');
    await db.run(`DELETE FROM active_values WHERE project = ${p} AND dt BETWEEN ${from} AND ${to}`);
    const rows = everyDimension(p, `${from} - ${MAU_DAYS - 1}`, to);
    if (range.from === range.to) {
      await db.run(
        `INSERT INTO active_values
         SELECT ${p}, dim, value, ${from},
           count(DISTINCT user_hash) FILTER (WHERE dt = ${from}),
           count(DISTINCT user_hash) FILTER (WHERE dt > ${from} - ${WAU_DAYS}),
           count(DISTINCT user_hash)
         FROM (${rows}) GROUP BY dim, value`,
      );
      continue;
    }
    await db.run(
      `INSERT INTO active_values
       WITH r AS MATERIALIZED (${rows}),
       ${coverageChanges('r', ['dim', 'value'])},
       running AS (
         SELECT dim, value, day, sum(sum(d)) OVER w AS dau, sum(sum(w)) OVER w AS wau, sum(sum(m)) OVER w AS mau
         FROM changes GROUP BY dim, value, day
         WINDOW w AS (PARTITION BY dim, value ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
       ),
       calendar AS (
         SELECT CAST(g.day AS DATE) AS dt, k.dim, k.value
         FROM generate_series(CAST(${from} AS TIMESTAMP), CAST(${to} AS TIMESTAMP), INTERVAL 1 DAY) g(day)
         CROSS JOIN (SELECT DISTINCT dim, value FROM r) k
       )
       SELECT ${p}, c.dim, c.value, c.dt, x.dau, x.wau, x.mau
       FROM calendar c ASOF JOIN running x ON x.dim = c.dim AND x.value = c.value AND x.day <= c.dt
       WHERE x.mau > 0`,
    );
  }
}
