import { TallyError } from '../errors.js';

/** A project and a UTC day (`YYYY-MM-DD`): the unit rollups recompute. */
export interface ProjectDay {
  project: string;
  dt: string;
}

/** WAU is the 7-day window ending on a day, MAU the 30-day one (both include the day). */
export const WAU_DAYS = 7;
export const MAU_DAYS = 30;

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export class DateError extends TallyError {}

/** Epoch day number of a `YYYY-MM-DD` date; throws DateError naming the value when it is not one. */
export function dayNumber(dt: string): number {
  const m = DATE.exec(dt);
  // Not Date.UTC: it reads years 0-99 as 1900-1999.
  const ms = m ? new Date(0).setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== dt) {
    throw new DateError(
      'invalid_date',
      `${JSON.stringify(dt).slice(0, 40)} is not a date of the form YYYY-MM-DD`,
    );
  }
  return ms / DAY_MS;
}

export function dayString(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export function addDays(dt: string, days: number): string {
  return dayString(dayNumber(dt) + days);
}

export function isDate(dt: string): boolean {
  try {
    dayNumber(dt);
    return true;
  } catch {
    return false;
  }
}

/** Every day from `from` to `to`, both included. */
export function daysFrom(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = dayNumber(from), end = dayNumber(to); d <= end; d++) out.push(dayString(d));
  return out;
}

/** A (project, day) pair as one text, for sets and maps of pairs. */
export function dayKey(pair: ProjectDay): string {
  return `${pair.project}/${pair.dt}`;
}

function unique(pairs: Iterable<ProjectDay>): ProjectDay[] {
  const seen = new Map<string, ProjectDay>();
  for (const p of pairs) seen.set(dayKey(p), p);
  return [...seen.values()].sort((a, b) =>
    a.project === b.project ? (a.dt < b.dt ? -1 : 1) : a.project < b.project ? -1 : 1,
  );
}

/**
 * The days whose numbers change when these days change: each day itself and the 29 after it
 * (their 30-day window holds it), never after `today`.
 */
export function affectedDays(changed: readonly ProjectDay[], today: string): ProjectDay[] {
  const last = dayNumber(today);
  const out: ProjectDay[] = [];
  for (const { project, dt } of unique(changed)) {
    for (let d = dayNumber(dt); d < dayNumber(dt) + MAU_DAYS && d <= last; d++)
      out.push({ project, dt: dayString(d) });
  }
  return unique(out);
}

export { unique as uniqueProjectDays };
