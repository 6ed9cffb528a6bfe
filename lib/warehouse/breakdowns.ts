import { TallyError } from '../errors.js';
import { addDays, daysFrom, MAU_DAYS } from './days.js';
import { ROW_ID } from './people.js';
import type { ActiveUsersDay } from './warehouse.js';

/**
 * Active users broken down by a value of their events or of their history. A person counts in a
 * value's DAU, WAU and MAU when they were active with that value on a day of the window: a person
 * active on the web and on iOS counts once in each, and once in the total, so the values of a
 * dimension add up to at least the total. The rules of `people.ts` decide who the persons are.
 */

/** Dimensions read from the lake's enrichment columns (one column each, of the same name). */
export const LAKE_DIMENSIONS = [
  'platform',
  'os',
  'browser',
  'device_type',
  'country',
  'app_version',
  'utm_source',
  'utm_campaign',
  'referrer_domain',
] as const;
export type LakeDimension = (typeof LAKE_DIMENSIONS)[number];

/**
 * Every dimension: the lake's, and `new_vs_returning`, whose value on a day is `new` on a
 * person's first active day and `returning` on every later one (a person who first came this week
 * and came back counts in both of the week's values).
 */
export const DIMENSIONS = [...LAKE_DIMENSIONS, 'new_vs_returning'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The values of `new_vs_returning`. */
export const NEW = 'new';
export const RETURNING = 'returning';

/** How a value the lake holds as null (unknown country, no user agent) is stored in the day tables. */
export const UNKNOWN = '';

export const DEFAULT_BREAKDOWN_LIMIT = 10;
export const MAX_BREAKDOWN_LIMIT = 100;

/** One value's numbers per day; `value` null is the unknown value (the lake's null). */
export interface BreakdownSeries {
  value: string | null;
  days: ActiveUsersDay[];
}

export interface Breakdown {
  by: Dimension;
  /** The top values by MAU on the last day, most first (ties by value). */
  values: BreakdownSeries[];
  /** The persons of every other value, counted once however many of them they had; null when none. */
  other: { values: number; days: ActiveUsersDay[] } | null;
}

export function isDimension(name: string): name is Dimension {
  return (DIMENSIONS as readonly string[]).includes(name);
}

/** Checks a dimension's name before it names a column in SQL. */
export function checkDimension(name: string): Dimension {
  if (!isDimension(name)) {
    throw new TallyError(
      'invalid_dimension',
      `by must be one of ${DIMENSIONS.join(', ')}, got ${JSON.stringify(name).slice(0, 60)}`,
    );
  }
  return name;
}

/**
 * Rows `(dt, project, id_hash, <each lake dimension>)`: the distinct combinations of values each
 * id had per day (one row an id and day, mostly), from lake rows with their enrichment columns.
 */
export function idValues(source: string): string {
  return `SELECT DISTINCT dt, project, ${ROW_ID} AS id_hash, ${LAKE_DIMENSIONS.join(', ')}
  FROM ${source} WHERE ${ROW_ID} IS NOT NULL`;
}

/**
 * Rows `(dt, project, dim, value, id_hash)`, a row per dimension, from rows of `idValues`' shape
 * (one SELECT per dimension: SQL both engines speak).
 */
export function dimensionRows(source: string): string {
  return LAKE_DIMENSIONS.map(
    (dim) =>
      `SELECT DISTINCT dt, project, '${dim}' AS dim, coalesce(${dim}, '${UNKNOWN}') AS value, id_hash FROM ${source}`,
  ).join('\nUNION ALL ');
}

/** The first day whose persons a breakdown from `from` reads (the MAU window of `from`). */
export function windowStart(from: string): string {
  return addDays(from, -(MAU_DAYS - 1));
}

/** Persons per value on the last day's MAU, as an engine ranks them. */
export interface ValueRank {
  value: string;
  mau: number;
}

/**
 * Two texts in the order of their code points: the order of their UTF-8 bytes, in which SQL
 * engines sort text (JavaScript's `<` compares UTF-16 units, which puts U+E000-U+FFFF after
 * characters beyond U+FFFF).
 */
export function compareText(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** The values shown, most persons first (ties by value, `compareText`), and how many fall in `other`. */
export function topValues(ranks: readonly ValueRank[], limit: number): { top: string[]; others: number } {
  const sorted = [...ranks].sort((a, b) => (b.mau !== a.mau ? b.mau - a.mau : compareText(a.value, b.value)));
  return { top: sorted.slice(0, limit).map((r) => r.value), others: Math.max(0, sorted.length - limit) };
}

/** One (day, value) row of an engine's window counts; `value` null for `other`. */
export interface ValueDay extends ActiveUsersDay {
  value: string | null;
}

/** The answer from an engine's window counts: a row for every day of every value shown, zeros where none. */
export function assembleBreakdown(
  by: Dimension,
  from: string,
  last: string,
  ranked: { top: string[]; others: number },
  rows: readonly ValueDay[],
): Breakdown {
  const days = daysFrom(from, last);
  const key = (value: string | null, dt: string) => `${value === null ? '\u0000other' : `=${value}`}/${dt}`;
  const found = new Map(rows.map((r) => [key(r.value, r.dt), r]));
  const series = (value: string | null) =>
    days.map((dt) => {
      const r = found.get(key(value, dt));
      return { dt, dau: r?.dau ?? 0, wau: r?.wau ?? 0, mau: r?.mau ?? 0 };
    });
  return {
    by,
    values: ranked.top.map((value) => ({ value: value === UNKNOWN ? null : value, days: series(value) })),
    other: ranked.others > 0 ? { values: ranked.others, days: series(null) } : null,
  };
}
