import {
  assembleBreakdown,
  type Breakdown,
  type Dimension,
  NEW,
  RETURNING,
  topValues,
  UNKNOWN,
  windowStart,
} from '../breakdowns.js';
import { daysFrom, MAU_DAYS } from '../days.js';
import { type LiveOptions, livePersons, todayFiles } from './live.js';
import { type Db, literal } from './sql.js';
import { coverageChanges } from './windows.js';

/** A text as a DuckDB string literal (standard strings: a quote is doubled, nothing else is special). */
function text(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * `r (dt, value, user_hash)`: the persons of each value per day from the MAU window of `from` to
 * `last`, past days from `day_values` mapped by `people` (or from `daily_users` for
 * `new_vs_returning`), today from a live scan of its files.
 */
function valueRows(
  options: LiveOptions,
  project: string,
  by: Dimension,
  from: string,
  last: string,
  today: string,
) {
  const p = literal(project, 'project');
  const start = literal(windowStart(from), 'date');
  const end = literal(last, 'date');
  const t = literal(today, 'date');
  const files = last === today ? todayFiles(options, project, today) : null;
  if (by === 'new_vs_returning') {
    const live =
      files === null
        ? ''
        : `UNION ALL SELECT dt, user_hash FROM (${livePersons(options, project, today, [files])})`;
    // A person's first day is read from every day before the window too.
    return `r AS (
      SELECT * FROM (
        SELECT dt, CASE WHEN dt = min(dt) OVER (PARTITION BY user_hash) THEN '${NEW}' ELSE '${RETURNING}' END AS value, user_hash
        FROM (SELECT DISTINCT dt, user_hash FROM (
          SELECT dt, user_hash FROM daily_users WHERE project = ${p} AND dt <= ${end} AND dt <> ${t} ${live}))
      ) WHERE dt >= ${start})`;
  }
  const live =
    files === null
      ? ''
      : `UNION ALL SELECT dt, coalesce(value, '${UNKNOWN}'), user_hash FROM (${livePersons(options, project, today, [files], by)})`;
  return `r AS (
    SELECT v.dt, coalesce(v.${by}, '${UNKNOWN}') AS value, coalesce(m.person, v.id_hash) AS user_hash FROM day_values v
    LEFT JOIN people m ON m.project = v.project AND m.id_hash = v.id_hash
    WHERE v.project = ${p} AND v.dt BETWEEN ${start} AND ${end} AND v.dt <> ${t}
    ${live})`;
}

/**
 * DAU/WAU/MAU per value of a dimension, from `from` to `last` (at most today): the values ranked
 * by their persons in the MAU window of `last`, the top `limit` shown, the rest counted together.
 */
export async function breakdown(
  db: Db,
  options: LiveOptions,
  project: string,
  by: Dimension,
  range: { from: string; last: string; today: string },
  limit: number,
): Promise<Breakdown> {
  const { from, last, today } = range;
  const rows = valueRows(options, project, by, from, last, today);
  const end = literal(last, 'date');
  const ranks = await db.rows(
    `WITH ${rows} SELECT value, count(DISTINCT user_hash) FILTER (WHERE dt > ${end} - ${MAU_DAYS}) FROM r GROUP BY value`,
  );
  const ranked = topValues(
    ranks.map(([value, mau]) => ({ value: String(value), mau: Number(mau) })),
    limit,
  );
  if (ranked.top.length === 0) return assembleBreakdown(by, from, last, ranked, []);
  // Coverage, as for the totals (windows.ts), per value shown and for the others together;
  // running sums of the changes at the days they happen, each calendar day reading the last.
  const shown = ranked.top.map(text).join(', ');
  const counts = await db.rows(
    `WITH ${rows},
     mapped AS (SELECT DISTINCT dt, value IN (${shown}) AS shown, CASE WHEN value IN (${shown}) THEN value ELSE '' END AS v,
       user_hash FROM r),
     ${coverageChanges('mapped', ['shown', 'v'])},
     running AS (
       SELECT shown, v, day, sum(sum(d)) OVER w AS dau, sum(sum(w)) OVER w AS wau, sum(sum(m)) OVER w AS mau
       FROM changes GROUP BY shown, v, day
       WINDOW w AS (PARTITION BY shown, v ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
     ),
     calendar AS (
       SELECT t.dt, k.shown, k.v FROM (VALUES ${daysFrom(from, last)
         .map((d) => `(${literal(d, 'date')})`)
         .join(', ')}) AS t(dt)
       CROSS JOIN (SELECT DISTINCT shown, v FROM mapped) k
     )
     SELECT strftime(c.dt, '%Y-%m-%d'), CASE WHEN c.shown THEN c.v END, x.dau, x.wau, x.mau
     FROM calendar c ASOF JOIN running x ON x.shown = c.shown AND x.v = c.v AND x.day <= c.dt`,
  );
  return assembleBreakdown(
    by,
    from,
    last,
    ranked,
    counts.map(([dt, value, dau, wau, mau]) => ({
      dt: String(dt),
      value: value === null ? null : String(value),
      dau: Number(dau),
      wau: Number(wau),
      mau: Number(mau),
    })),
  );
}
