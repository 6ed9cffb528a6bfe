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
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Parses an ISO-8601 timestamp strictly (what Segment's libraries send). A time without an
 * offset is UTC, never the server's local zone. Returns null when it is not one.
 */
export function parseTimestamp(value: string): number | null {
  const m = ISO_8601.exec(value);
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const ms = frac.padEnd(3, '0').slice(0, 3);
  const offset =
    zone === 'Z' || zone === 'z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const text = `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}${offset}`;
  const epoch = Date.parse(text);
  if (Number.isNaN(epoch)) return null;
  // Date.parse rolls 2024-02-31 over to March: refuse dates that do not exist.
  const day = new Date(Date.parse(`${y}-${mo}-${d}T00:00:00Z`));
  if (Number.isNaN(day.getTime()) || day.getUTCDate() !== Number(d)) return null;
  return epoch;
}
