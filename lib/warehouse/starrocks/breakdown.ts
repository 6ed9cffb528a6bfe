import {
  assembleBreakdown,
  type Breakdown,
  type Dimension,
  NEW,
  RETURNING,
  topValues,
  windowStart,
} from '../breakdowns.js';
import { addDays, daysFrom, MAU_DAYS, WAU_DAYS } from '../days.js';
import type { CopyOptions } from './copies.js';
import { liveUsers, refreshToday } from './live.js';
import type { Query, Run } from './sql.js';
import { calendarOf, WINDOW_CHUNK_DAYS } from './windows.js';

/** The first day StarRocks' DATE holds: the history before a window, as one row. */
const BEFORE = '0000-01-01';

/**
 * `(dt, users)`: a project's persons per day from `start` to `last`, today's from a live scan.
 */
function personsPerDay(
  options: CopyOptions,
  name: string,
  start: string,
  last: string,
  today: string,
): Query {
  const live = last === today ? liveUsers(options, name, today) : null;
  return {
    sql: `SELECT dt, users FROM ${options.db}.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?${
      live ? `\n  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (${live.sql}) l` : ''
    }`,
    values: [name, start, last, today, ...(live ? [today, ...live.values] : [])],
  };
}

/**
 * `(dt, value, users)`: the persons of each value per day from `start` to `last`. A lake
 * dimension's from `daily_values` (today's from a live scan); `new_vs_returning`'s from
 * `daily_users`: a day's persons not active on any day before it are new, the others returning
 * (the days before the window read as one union). Every day has a union of the days before it
 * (an empty bitmap at least), so no bitmap function meets a NULL.
 */
function valuesPerDay(
  options: CopyOptions,
  name: string,
  by: Dimension,
  range: { start: string; last: string; today: string },
): Query {
  const { start, last, today } = range;
  const { db } = options;
  if (by !== 'new_vs_returning') {
    const live = last === today ? liveUsers(options, name, today, by) : null;
    return {
      sql: `SELECT dt, value, users FROM ${db}.daily_values
  WHERE project = ? AND dim = ? AND dt BETWEEN ? AND ? AND dt < ?${
    live ? `\n  UNION ALL SELECT CAST(? AS DATE) AS dt, value, users FROM (${live.sql}) l` : ''
  }`,
      values: [name, by, start, last, today, ...(live ? [today, ...live.values] : [])],
    };
  }
  const days = personsPerDay(options, name, start, last, today);
  const prior = {
    sql: `SELECT d.dt, bitmap_union(e.users) AS prior FROM (${days.sql}) d
  JOIN (
    ${days.sql}
    UNION ALL SELECT CAST('${BEFORE}' AS DATE) AS dt, bitmap_union(users) AS users FROM ${db}.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('${BEFORE}' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt`,
    values: [...days.values, ...days.values, name, start],
  };
  const kind = (value: string, fn: string) => ({
    sql: `SELECT dt, value, users FROM (
    SELECT u.dt, '${value}' AS value, ${fn}(u.users, p.prior) AS users
    FROM (${days.sql}) u JOIN (${prior.sql}) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0`,
    values: [...days.values, ...prior.values],
  });
  const fresh = kind(NEW, 'bitmap_andnot');
  const back = kind(RETURNING, 'bitmap_and');
  return { sql: `${fresh.sql}\nUNION ALL ${back.sql}`, values: [...fresh.values, ...back.values] };
}

/**
 * DAU/WAU/MAU per value of a dimension from `from` to `last` (at most today), from the bitmaps
 * per value and day: the values ranked by their persons in the MAU window of `last`, the top
 * `limit` shown and the rest counted as one.
 */
export async function breakdown(
  run: Run,
  options: CopyOptions,
  name: string,
  by: Dimension,
  range: { from: string; last: string; today: string },
  limit: number,
): Promise<Breakdown> {
  const { from, last, today } = range;
  if (last === today) await refreshToday(run, options, name, today);
  const rows = valuesPerDay(options, name, by, { start: windowStart(from), last, today });
  const monthStart = addDays(last, -(MAU_DAYS - 1));
  const ranks = await run(
    `SELECT a.value, coalesce(b.mau, 0) AS mau FROM (SELECT DISTINCT value FROM (${rows.sql}) r) a
LEFT JOIN (
  SELECT value, bitmap_union_count(users) AS mau FROM (${rows.sql}) r WHERE dt >= ? GROUP BY value
) b ON b.value = a.value`,
    [...rows.values, ...rows.values, monthStart],
  );
  const ranked = topValues(
    ranks.map((r) => ({ value: String(r.value), mau: Number(r.mau) })),
    limit,
  );
  const counts: Array<{ dt: string; value: string | null; dau: number; wau: number; mau: number }> = [];
  if (ranked.top.length > 0) {
    const days = daysFrom(from, last);
    for (let i = 0; i < days.length; i += WINDOW_CHUNK_DAYS) {
      const chunk = days.slice(i, i + WINDOW_CHUNK_DAYS);
      const calendar = calendarOf(chunk);
      const shown = ranked.top.map(() => '?').join(', ');
      const windowOf = (n: number) =>
        `SELECT ${n} AS n, CAST(c.dt AS VARCHAR) AS dt, r.v, bitmap_union_count(r.users) AS persons
  FROM (${calendar}) c
  JOIN (SELECT dt, CASE WHEN value IN (${shown}) THEN value END AS v, users FROM (${rows.sql}) x) r
    ON r.dt BETWEEN date_sub(c.dt, INTERVAL ${n - 1} DAY) AND c.dt
  GROUP BY c.dt, r.v`;
      const windowValues = [...chunk, ...ranked.top, ...rows.values];
      const found = await run([1, WAU_DAYS, MAU_DAYS].map(windowOf).join('\nUNION ALL\n'), [
        ...windowValues,
        ...windowValues,
        ...windowValues,
      ]);
      const byKey = new Map<string, (typeof counts)[number]>();
      for (const f of found) {
        const value = f.v === null || f.v === undefined ? null : String(f.v);
        const key = `${f.dt}/${value === null ? '' : `=${value}`}`;
        const entry = byKey.get(key) ?? { dt: String(f.dt), value, dau: 0, wau: 0, mau: 0 };
        const n = Number(f.n);
        const persons = Number(f.persons);
        if (n === 1) entry.dau = persons;
        else if (n === WAU_DAYS) entry.wau = persons;
        else entry.mau = persons;
        byKey.set(key, entry);
      }
      counts.push(...byKey.values());
    }
  }
  return assembleBreakdown(by, from, last, ranked, counts);
}
