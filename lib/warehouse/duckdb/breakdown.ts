import {
  assembleBreakdown,
  type Breakdown,
  compareText,
  type Dimension,
  type LakeDimension,
  RETURNING,
  topValues,
  type ValueDay,
  windowStart,
} from '../breakdowns.js';
import { daysFrom, MAU_DAYS, WAU_DAYS } from '../days.js';
import { type LiveOptions, newerFiles } from './live.js';
import { type Db, literal, text } from './sql.js';
import { liveRows, otherOf, STORED_TOP, storedRows } from './values.js';
import { runningByValue } from './windows.js';

/** The rows of today's files not rolled up yet, read once per breakdown. */
const LIVE = 'breakdown_live';

/** The rolled-up rows of today and the 29 days before of the persons in those files, read once. */
const PRIOR = 'breakdown_prior';

function valueDay(row: unknown[]): ValueDay {
  const [dt, value, dau, wau, mau] = row;
  return {
    dt: String(dt),
    value: value === null ? null : String(value),
    dau: Number(dau),
    wau: Number(wau),
    mau: Number(mau),
  };
}

/** Rows of the same value and day as one: a rolled-up row and what newer files add to it. */
function summed(rows: readonly ValueDay[]): ValueDay[] {
  const byKey = new Map<string, ValueDay>();
  for (const r of rows) {
    const key = JSON.stringify([r.value, r.dt]);
    const before = byKey.get(key);
    byKey.set(
      key,
      before ? { ...r, dau: before.dau + r.dau, wau: before.wau + r.wau, mau: before.mau + r.mau } : r,
    );
  }
  return [...byKey.values()];
}

/**
 * `(dt, value, user_hash)` rows as they count: each value's, or with `shown` the persons of every
 * other value together (value '').
 */
function asCounted(rows: string, shown?: readonly string[]): string {
  return shown === undefined
    ? rows
    : `SELECT DISTINCT dt, '' AS value, user_hash FROM (${rows}) WHERE value NOT IN (${shown.map(text).join(', ')})`;
}

/**
 * What today's files newer than the rollup add to today's rolled-up row of each value (or, with
 * `shown`, of the other values together, value null): the persons they hold with a value they
 * did not have today, nor in the last 6 (WAU) or 29 (MAU) days, looked up among those persons'
 * rows only (`PRIOR`).
 */
async function liveAdditions(
  db: Db,
  project: string,
  by: Dimension,
  today: string,
  shown?: readonly string[],
): Promise<ValueDay[]> {
  const p = literal(project, 'project');
  const t = literal(today, 'date');
  if (by === 'new_vs_returning' && shown === undefined) return liveNewAndReturning(db, p, t, today);
  const prior = (test: string) =>
    asCounted(`SELECT dt, value, user_hash FROM ${PRIOR} WHERE dt ${test}`, shown);
  const rows = await db.rows(
    `WITH fresh AS MATERIALIZED (
       SELECT value, user_hash FROM (${asCounted(`SELECT dt, value, user_hash FROM ${LIVE}`, shown)})
       EXCEPT SELECT value, user_hash FROM (${prior(`= ${t}`)})
     ),
     seen AS (
       SELECT f.value, f.user_hash, max(s.dt) AS prev_dt FROM fresh f
       LEFT JOIN (${prior(`< ${t}`)}) s ON s.value = f.value AND s.user_hash = f.user_hash
       GROUP BY f.value, f.user_hash
     )
     SELECT '${today}', value, count(*), count(*) FILTER (WHERE prev_dt IS NULL OR prev_dt < ${t} - ${WAU_DAYS - 1}),
       count(*) FILTER (WHERE prev_dt IS NULL)
     FROM seen GROUP BY value`,
  );
  return rows.map((row) => ({ ...valueDay(row), value: shown === undefined ? String(row[1]) : null }));
}

/**
 * `liveAdditions` for new_vs_returning: a live person's label is the rolled-up one (their first
 * day), so the persons added are those not active today before; a returning one's last
 * returning day in the window is their last day after their first.
 */
async function liveNewAndReturning(db: Db, p: string, t: string, today: string): Promise<ValueDay[]> {
  const rows = await db.rows(
    `WITH fresh AS MATERIALIZED (
       SELECT DISTINCT l.value, l.user_hash FROM ${LIVE} l
       ANTI JOIN daily_users u ON u.project = ${p} AND u.dt = ${t} AND u.user_hash = l.user_hash
     ),
     firsts AS (
       SELECT user_hash, first_dt FROM person_first
       WHERE project = ${p} AND user_hash IN (SELECT user_hash FROM fresh)
     ),
     seen AS (
       SELECT f.value, f.user_hash,
         max(u.dt) FILTER (WHERE f.value = '${RETURNING}' AND u.dt > pf.first_dt) AS prev_dt
       FROM fresh f
       LEFT JOIN firsts pf ON pf.user_hash = f.user_hash
       LEFT JOIN daily_users u ON u.user_hash = f.user_hash AND u.project = ${p}
         AND u.dt BETWEEN ${t} - ${MAU_DAYS - 1} AND ${t} - 1
       GROUP BY f.value, f.user_hash
     )
     SELECT '${today}', value, count(*), count(*) FILTER (WHERE prev_dt IS NULL OR prev_dt < ${t} - ${WAU_DAYS - 1}),
       count(*) FILTER (WHERE prev_dt IS NULL)
     FROM seen GROUP BY value`,
  );
  return rows.map(valueDay);
}

/**
 * dau/wau/mau of these days computed from the persons of their months (the rolled-up days'
 * stored rows, today's newer files): per value, or with `shown` one row per day for the persons
 * of every value not shown (value null). Coverage as for the totals (windows.ts): running sums
 * of the changes at the days they happen, each calendar day reading the last.
 */
async function computed(
  db: Db,
  project: string,
  by: Dimension,
  days: readonly string[],
  today: string,
  live: boolean,
  shown?: readonly string[],
): Promise<ValueDay[]> {
  const p = literal(project, 'project');
  const last = days[days.length - 1]!;
  const stored = storedRows(by, p, literal(windowStart(days[0]!), 'date'), literal(last, 'date'));
  const rows = `SELECT dt, value, user_hash FROM (${stored})${last >= today && live ? ` UNION ALL SELECT dt, value, user_hash FROM ${LIVE}` : ''}`;
  const mapped = `SELECT DISTINCT dt, value, user_hash FROM (${asCounted(rows, shown)})`;
  const found = await db.rows(
    `WITH mapped AS MATERIALIZED (${mapped}),
     ${runningByValue('mapped')},
     calendar AS (
       SELECT t.dt, k.value FROM (VALUES ${days.map((d) => `(${literal(d, 'date')})`).join(', ')}) AS t(dt)
       CROSS JOIN (SELECT DISTINCT value FROM mapped) k
     )
     SELECT strftime(c.dt, '%Y-%m-%d'), c.value, x.dau, x.wau, x.mau
     FROM calendar c ASOF JOIN running x ON x.value = c.value AND x.day <= c.dt
     WHERE x.mau > 0`,
  );
  return found.map((row) => ({ ...valueDay(row), value: shown === undefined ? String(row[1]) : null }));
}

/**
 * `other`'s rows: the rollup's (`other:<dimension>`) when the values shown are those it keeps
 * `other` for (`value_tops`: the default limit's top values of the latest day), plus what today's
 * newer files add, and days never rolled up computed; else computed for every day from the
 * persons of the values not shown.
 */
async function otherRows(
  db: Db,
  project: string,
  by: Dimension,
  range: { from: string; last: string; today: string },
  live: boolean,
  shown: readonly string[],
  rolled: ReadonlySet<string>,
): Promise<ValueDay[]> {
  const { from, last, today } = range;
  const p = literal(project, 'project');
  const days = daysFrom(from, last);
  const kept =
    by === 'new_vs_returning' || shown.length !== STORED_TOP
      ? null
      : (
          await db.rows(
            `SELECT CAST(to_json(coalesce(list(value ORDER BY value), [])) AS VARCHAR) FROM value_tops
             WHERE project = ${p} AND dim = ${text(by)}`,
          )
        )[0]?.[0];
  const sorted = [...shown].sort(compareText);
  const tops = typeof kept === 'string' ? (JSON.parse(kept) as string[]) : null;
  if (tops === null || tops.length !== sorted.length || tops.some((v, i) => v !== sorted[i]))
    return computed(db, project, by, days, today, live, shown);
  const rows = (
    await db.rows(
      `SELECT strftime(dt, '%Y-%m-%d'), NULL, dau, wau, mau FROM active_values
       WHERE project = ${p} AND dim = ${text(otherOf(by as LakeDimension))}
       AND dt BETWEEN ${literal(from, 'date')} AND ${literal(last, 'date')}`,
    )
  ).map(valueDay);
  if (live && rolled.has(today)) rows.push(...(await liveAdditions(db, project, by, today, shown)));
  const missing = days.filter((d) => !rolled.has(d));
  if (missing.length > 0) rows.push(...(await computed(db, project, by, missing, today, live, shown)));
  // Today's rolled-up row and what its newer files add, as one.
  return summed(rows);
}

/**
 * DAU/WAU/MAU per value of a dimension, from `from` to `last` (at most today): the rollup's rows
 * per value (`active_values`), today's plus what its files newer than the rollup add; the values
 * ranked by their persons in the MAU window of `last`, the top `limit` shown, the persons of the
 * rest counted together from their rows. Days the rollup has not written (today before its first
 * rollup) are computed from the persons of their months.
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
  const p = literal(project, 'project');
  const between = `BETWEEN ${literal(from, 'date')} AND ${literal(last, 'date')}`;
  const rolled = new Set(
    (
      await db.rows(
        `SELECT strftime(dt, '%Y-%m-%d') FROM active_users WHERE project = ${p} AND dt ${between}`,
      )
    ).map(([dt]) => String(dt)),
  );
  const parts: ValueDay[] = [];
  const stored = await db.rows(
    `SELECT strftime(dt, '%Y-%m-%d'), value, dau, wau, mau FROM active_values
     WHERE project = ${p} AND dim = ${text(by)} AND dt ${between}`,
  );
  parts.push(...stored.map(valueDay));
  const files = last === today ? await newerFiles(db, options, project, today) : [];
  const live = files.length > 0;
  if (live) {
    const newer = await options.cache.rows(db, options, project, files);
    await db.run(
      `CREATE OR REPLACE TEMP TABLE ${LIVE} AS SELECT DISTINCT dt, value, user_hash FROM (${liveRows(project, by, newer)})`,
    );
  }
  try {
    if (live && rolled.has(today) && by !== 'new_vs_returning') {
      const t = literal(today, 'date');
      await db.run(
        `CREATE OR REPLACE TEMP TABLE ${PRIOR} AS SELECT DISTINCT dt, value, user_hash FROM (${storedRows(by, p, `${t} - ${MAU_DAYS - 1}`, t, `(SELECT DISTINCT ${p} AS project, user_hash FROM ${LIVE})`)})`,
      );
    }
    if (live && rolled.has(today)) parts.push(...(await liveAdditions(db, project, by, today)));
    const missing = daysFrom(from, last).filter((d) => !rolled.has(d));
    if (missing.length > 0) parts.push(...(await computed(db, project, by, missing, today, live)));
    const rows = summed(parts);
    const mau = new Map<string, number>();
    for (const row of rows) {
      mau.set(row.value!, (mau.get(row.value!) ?? 0) + (row.dt === last ? row.mau : 0));
    }
    const ranked = topValues(
      [...mau].map(([value, n]) => ({ value, mau: n })),
      limit,
    );
    if (ranked.others > 0)
      rows.push(...(await otherRows(db, project, by, { from, last, today }, live, ranked.top, rolled)));
    return assembleBreakdown(by, from, last, ranked, rows);
  } finally {
    if (live) {
      await db.run(`DROP TABLE IF EXISTS ${LIVE}`);
      await db.run(`DROP TABLE IF EXISTS ${PRIOR}`);
    }
  }
}
