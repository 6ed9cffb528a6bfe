import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { correctEventTime, parseTimestamp } from '../../lib/ingest/skew.js';

const HOUR = 3_600_000;
const received = Date.parse('2026-03-10T12:00:00Z');

describe('correctEventTime', () => {
  it('anchors the device gap between timestamp and sentAt on the receive time', () => {
    // The device clock is 3 days behind: it stamped the event 10 min before sending it.
    const sentAt = received - 72 * HOUR;
    const result = correctEventTime(received, sentAt - 10 * 60_000, sentAt);
    expect(result).toEqual({ eventTime: received - 10 * 60_000, clamped: false });
  });

  it('uses the timestamp as is without sentAt', () => {
    expect(correctEventTime(received, received - 5 * HOUR, null)).toEqual({
      eventTime: received - 5 * HOUR,
      clamped: false,
    });
  });

  it('uses the receive time without a timestamp', () => {
    expect(correctEventTime(received, null, null)).toEqual({ eventTime: received, clamped: false });
  });

  it('clamps times more than 23 h ahead to the receive time and flags them', () => {
    expect(correctEventTime(received, received + 24 * HOUR, null)).toEqual({
      eventTime: received,
      clamped: true,
    });
  });

  it('keeps times up to 23 h ahead', () => {
    expect(correctEventTime(received, received + 23 * HOUR, null)).toEqual({
      eventTime: received + 23 * HOUR,
      clamped: false,
    });
  });
});

describe('parseTimestamp', () => {
  it('reads UTC, offsets and fractions', () => {
    expect(parseTimestamp('2026-03-10T12:00:00Z')).toBe(received);
    expect(parseTimestamp('2026-03-10T14:00:00+02:00')).toBe(received);
    expect(parseTimestamp('2026-03-10T14:00:00.250+0200')).toBe(received + 250);
  });

  it('reads lower-case RFC 3339 separators (t and z)', () => {
    expect(parseTimestamp('2026-03-10t12:00:00z')).toBe(parseTimestamp('2026-03-10T12:00:00Z'));
  });

  it('treats a time without offset as UTC, not local time', () => {
    expect(parseTimestamp('2026-03-10T12:00:00')).toBe(received);
  });

  it('refuses what is not ISO-8601', () => {
    for (const bad of [
      'yesterday',
      '1710072000000',
      '2026-02-31T00:00:00Z',
      '2026-13-01',
      'March 7, 2026',
      '',
    ]) {
      expect(parseTimestamp(bad), bad).toBeNull();
    }
  });
});

describe('parseTimestamp, the common form read without the regular expression', () => {
  const digit = fc.integer({ min: 0, max: 9 }).map(String);
  const digitsOf = (n: number) => fc.array(digit, { minLength: n, maxLength: n }).map((d) => d.join(''));

  it('agrees with the general parser on any digits in the toISOString shape', () => {
    // The same instant written with "+00:00" instead of "Z" goes through the regular expression.
    const shaped = fc
      .tuple(
        digitsOf(4),
        digitsOf(2),
        digitsOf(2),
        digitsOf(2),
        digitsOf(2),
        digitsOf(2),
        fc.option(digitsOf(3)),
      )
      .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${ms === null ? '' : `.${ms}`}`);
    fc.assert(
      fc.property(shaped, (text) => {
        expect(parseTimestamp(`${text}Z`)).toBe(parseTimestamp(`${text}+00:00`));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads every real instant as Date does, leap days and years below 1000 included', () => {
    const instant = fc.date({
      min: new Date('0100-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(instant, (date) => {
        expect(parseTimestamp(date.toISOString())).toBe(date.getTime());
        expect(parseTimestamp(date.toISOString().replace(/\.\d{3}Z$/, 'Z'))).toBe(
          Math.floor(date.getTime() / 1000) * 1000,
        );
      }),
      { numRuns: 2000 },
    );
    expect(parseTimestamp('2024-02-29T00:00:00.000Z')).toBe(Date.parse('2024-02-29T00:00:00.000Z'));
    expect(parseTimestamp('2026-02-29T00:00:00.000Z')).toBeNull();
    expect(parseTimestamp('0099-06-01T00:00:00.000Z')).toBe(Date.parse('0099-06-01T00:00:00.000Z'));
    expect(parseTimestamp('2026-1x-01T00:00:00.000Z')).toBeNull();
  });
});
