import { type LakeDimension, UNKNOWN } from '../breakdowns.js';
import { addDays, MAU_DAYS, WAU_DAYS } from '../days.js';
import type { ActiveUsersDay } from '../warehouse.js';
import type { CopyOptions } from './copies.js';
import { type Query, type Run, refreshPartitions } from './sql.js';

/**
 * Lists today's files of a project again, so a live scan reads those written since the catalog
 * listed them; before its first file of the day the metastore has no partition, and today reads empty.
 */
export async function refreshToday(
  run: Run,
  options: CopyOptions,
  name: string,
  today: string,
): Promise<void> {
  await refreshPartitions(run, options.events, [`project=${name}/dt=${today}`]);
}

/**
 * The persons of today's lake rows (`users`, one bitmap): rule 0's rows (copies need no verdict:
 * rule 1), ids mapped to persons as of the last rollup. With `column`, a bitmap per value of that
 * lake column (`value`, unknown as '').
 */
export function liveUsers(options: CopyOptions, name: string, today: string, column?: LakeDimension): Query {
  const value = column === undefined ? '' : `coalesce(${column}, '${UNKNOWN}') AS value, `;
  return {
    sql: `SELECT ${column === undefined ? '' : 'x.value, '}bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT ${value}coalesce(user_hash, anonymous_hash) AS id
    FROM ${options.events} WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND ${options.counted}
  ) x
  LEFT JOIN (SELECT id_hash, person FROM ${options.db}.people WHERE project = ?) p ON p.id_hash = x.id${column === undefined ? '' : '\n  GROUP BY x.value'}`,
    values: [name, today, name],
  };
}

/**
 * Today from a live scan of the lake (its partition refreshed first, so files written since the
 * catalog listed it are read), merged with the rolled-up days before it: ids map to persons as
 * of the last rollup.
 */
export async function liveToday(
  run: Run,
  options: CopyOptions,
  name: string,
  today: string,
): Promise<ActiveUsersDay> {
  const { db } = options;
  await refreshToday(run, options, name, today);
  const live = liveUsers(options, name, today);
  const windowCount = async (days: number) => {
    const rows = await run(
      `SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM ${db}.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  ${live.sql}
) x`,
      [name, addDays(today, -(days - 1)), addDays(today, -1), ...live.values],
    );
    return Number(rows[0]?.n ?? 0);
  };
  return {
    dt: today,
    dau: await windowCount(1),
    wau: await windowCount(WAU_DAYS),
    mau: await windowCount(MAU_DAYS),
  };
}
