import {
  assembleBreakdown,
  type Breakdown,
  type Dimension,
  NEW,
  RETURNING,
  topValues,
  type ValueRank,
  windowStart,
} from '../breakdowns.js';
import { addDays, daysFrom, MAU_DAYS, WAU_DAYS } from '../days.js';
import { WarehouseError } from '../warehouse.js';
import type { CopyOptions } from './copies.js';
import { liveUsers, refreshToday } from './live.js';
import type { Query, Run } from './sql.js';
import { calendarOf, WINDOW_CHUNK_DAYS } from './windows.js';

/**
 * The `WITH` list of a breakdown's statement, ending in `r (dt, value, users)`: the persons of
 * each value per day from `start` to `last`. A lake dimension's from `daily_values`;
 * `new_vs_returning`'s from `first_days` (a day's new persons) and `daily_users` (the rest of its
 * persons returning). Today's from one live scan of its files (`live`), its new persons those of
 * no first-day set before today.
 */
function valuesPerDay(
  options: CopyOptions,
  name: string,
  by: Dimension,
  range: { start: string; last: string; today: string },
): Query {
  const { start, last, today } = range;
  const { db } = options;
  const live =
    last === today ? liveUsers(options, name, today, by === 'new_vs_returning' ? undefined : by) : null;
  const days = [name, start, last, today];
  if (by !== 'new_vs_returning') {
    return {
      sql: `${
        live
          ? `live AS (${live.sql}),
`
          : ''
      }r AS (
  SELECT dt, value, users FROM ${db}.daily_values WHERE project = ? AND dim = ? AND dt BETWEEN ? AND ? AND dt < ?${
    live
      ? `
  UNION ALL SELECT CAST(? AS DATE) AS dt, value, users FROM live`
      : ''
  }
)`,
      values: [...(live ? live.values : []), name, by, start, last, today, ...(live ? [today] : [])],
    };
  }
  const firsts = `SELECT dt, users FROM ${db}.first_days WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?`;
  const persons = `SELECT dt, users FROM ${db}.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?`;
  return {
    sql: `${
      live
        ? `live AS (${live.sql}),
before AS (
  SELECT bitmap_union(users) AS users FROM (
    SELECT users FROM ${db}.first_days WHERE project = ? AND dt < ?
    UNION ALL SELECT bitmap_empty() AS users
  ) b
),
`
        : ''
    }persons AS (
  ${persons}
),
firsts AS (
  SELECT dt, bitmap_union(users) AS users FROM (
    ${firsts}
    UNION ALL SELECT dt, bitmap_empty() AS users FROM persons
  ) f GROUP BY dt
),
r AS (
  SELECT dt, value, users FROM (
    SELECT dt, '${NEW}' AS value, users FROM firsts
    UNION ALL SELECT u.dt, '${RETURNING}' AS value, bitmap_andnot(u.users, f.users) AS users
    FROM persons u JOIN firsts f ON f.dt = u.dt${
      live
        ? `
    UNION ALL SELECT CAST(? AS DATE) AS dt, '${NEW}' AS value, bitmap_andnot(l.users, b.users) AS users FROM live l, before b
    UNION ALL SELECT CAST(? AS DATE) AS dt, '${RETURNING}' AS value, bitmap_and(l.users, b.users) AS users FROM live l, before b`
        : ''
    }
  ) k WHERE bitmap_count(users) > 0
)`,
    values: [
      ...(live ? [...live.values, name, today] : []),
      ...days,
      ...days,
      ...(live ? [today, today] : []),
    ],
  };
}

/**
 * DAU/WAU/MAU per value of a dimension from `from` to `last` (at most today), from the bitmaps
 * per value and day, in one statement per `WINDOW_CHUNK_DAYS` days whose `WITH` computes the
 * persons per value once (today's live scan among them): the values ranked by their persons in
 * the MAU window of `last`, the top `limit` shown and the rest counted as one.
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
  if (!Number.isInteger(limit) || limit < 1)
    throw new WarehouseError('invalid_value', `limit must be a positive integer, got ${limit}`);
  if (last === today) await refreshToday(run, options, name, today);
  const rows = valuesPerDay(options, name, by, { start: windowStart(from), last, today });
  const monthStart = addDays(last, -(MAU_DAYS - 1));
  const days = daysFrom(from, last);
  let ranked: { top: string[]; others: number } = { top: [], others: 0 };
  const counts: Array<{ dt: string; value: string | null; dau: number; wau: number; mau: number }> = [];
  for (let i = 0; i < days.length; i += WINDOW_CHUNK_DAYS) {
    const chunk = days.slice(i, i + WINDOW_CHUNK_DAYS);
    const windowOf = (n: number) =>
      `SELECT ${n} AS n, CAST(c.dt AS VARCHAR) AS dt, t.v, bitmap_union_count(t.users) AS persons
FROM c JOIN t ON t.dt BETWEEN date_sub(c.dt, INTERVAL ${n - 1} DAY) AND c.dt
GROUP BY c.dt, t.v`;
    const found = await run(
      `WITH ${rows.sql},
c AS (${calendarOf(chunk)}),
ranks AS (
  SELECT a.value, coalesce(b.mau, 0) AS mau FROM (SELECT DISTINCT value FROM r) a
  LEFT JOIN (SELECT value, bitmap_union_count(users) AS mau FROM r WHERE dt >= ? GROUP BY value) b ON b.value = a.value
),
top AS (SELECT value FROM ranks ORDER BY mau DESC, value LIMIT ${limit}),
t AS (SELECT r.dt, top.value AS v, r.users FROM r LEFT JOIN top ON top.value = r.value)
SELECT 0 AS n, NULL AS dt, value AS v, mau AS persons FROM ranks
UNION ALL
${[1, WAU_DAYS, MAU_DAYS].map(windowOf).join('\nUNION ALL\n')}`,
      [...rows.values, ...chunk, monthStart],
    );
    const byKey = new Map<string, (typeof counts)[number]>();
    const ranks: ValueRank[] = [];
    for (const f of found) {
      const n = Number(f.n);
      const value = f.v === null || f.v === undefined ? null : String(f.v);
      const persons = Number(f.persons);
      if (n === 0) {
        ranks.push({ value: String(value), mau: persons });
        continue;
      }
      const key = `${f.dt}/${value === null ? '' : `=${value}`}`;
      const entry = byKey.get(key) ?? { dt: String(f.dt), value, dau: 0, wau: 0, mau: 0 };
      if (n === 1) entry.dau = persons;
      else if (n === WAU_DAYS) entry.wau = persons;
      else entry.mau = persons;
      byKey.set(key, entry);
    }
    ranked = topValues(ranks, limit);
    counts.push(...byKey.values());
  }
  return assembleBreakdown(by, from, last, ranked, counts);
}
