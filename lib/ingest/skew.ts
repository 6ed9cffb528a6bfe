import { MAX_FUTURE_SKEW_MS } from './limits.js';

export interface EventTime {
  eventTime: number;
  /** True when the corrected time was too far in the future and was replaced by the receive time. */
  clamped: boolean;
}

/**
 * Corrects a device clock: when the device said when it sent the event (`sentAt`), the gap between
 * its `timestamp` and `sentAt` is trusted and anchored on our receive time. Times more than 23 h in
 * the future are clamped to the receive time.
 */
export function correctEventTime(
  receivedAt: number,
  timestamp: number | null,
  sentAt: number | null,
): EventTime {
  let eventTime = receivedAt;
  if (timestamp !== null) {
    eventTime = sentAt !== null ? receivedAt - (sentAt - timestamp) : timestamp;
  }
  if (eventTime > receivedAt + MAX_FUTURE_SKEW_MS) return { eventTime: receivedAt, clamped: true };
  return { eventTime, clamped: false };
}

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|([+-])(\d{2}):?(\d{2}))?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** True when the fields name a real date and time of day (no February 30th, no 24:00). */
function exists(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): boolean {
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59
  );
}

/** The number of two, three or four digits at `at`, or NaN when one is not a digit. */
function digits(value: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

/**
 * The form nearly every SDK sends (`Date.prototype.toISOString`: `2026-12-02T10:20:30.456Z`, or
 * without the milliseconds) read without the regular expression; undefined for any other form.
 */
function commonTimestamp(value: string): number | null | undefined {
  const length = value.length;
  if (
    (length !== 24 && length !== 20) ||
    value.charCodeAt(length - 1) !== 0x5a || // Z
    value.charCodeAt(4) !== 0x2d ||
    value.charCodeAt(7) !== 0x2d ||
    value.charCodeAt(10) !== 0x54 || // T
    value.charCodeAt(13) !== 0x3a ||
    value.charCodeAt(16) !== 0x3a ||
    (length === 24 && value.charCodeAt(19) !== 0x2e)
  ) {
    return undefined;
  }
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  const hour = digits(value, 11, 2);
  const minute = digits(value, 14, 2);
  const second = digits(value, 17, 2);
  const millis = length === 24 ? digits(value, 20, 3) : 0;
  // Date.UTC reads years 0-99 as 1900-1999: those go the long way.
  if (Number.isNaN(year + month + day + hour + minute + second + millis) || year < 100) return undefined;
  if (!exists(year, month, day, hour, minute, second)) return null;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis);
}

/**
 * Parses an ISO-8601 timestamp strictly (what Segment's libraries send). A time without an
 * offset is UTC, never the server's local zone. Dates that do not exist (February 31st) are
 * refused rather than rolled over. Returns null when it is not one.
 */
export function parseTimestamp(value: string): number | null {
  const fast = commonTimestamp(value);
  if (fast !== undefined) return fast;
  const m = ISO_8601.exec(value);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4] ?? 0);
  const minute = Number(m[5] ?? 0);
  const second = Number(m[6] ?? 0);
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (!exists(year, month, day, hour, minute, second)) return null;
  const offsetMinutes = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, millis);
  return utc.getTime() - offsetMinutes * 60_000;
}
