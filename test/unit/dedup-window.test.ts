import { describe, expect, it } from 'vitest';
import { readDedupWindowHours } from '../../lib/config.js';
import { checkDedupWindow, indexKeepFrom } from '../../lib/warehouse/people.js';

describe('the duplicate window', () => {
  it('keeps the receipt days a copy of today or yesterday needs, and a day to spare', () => {
    // A copy received yesterday at 00:00 looks back 24 h, to the day before: three days with today.
    expect(indexKeepFrom('2026-03-10', 24)).toBe('2026-03-08');
    expect(indexKeepFrom('2026-03-10', 1)).toBe('2026-03-08');
    expect(indexKeepFrom('2026-03-10', 25)).toBe('2026-03-07');
    expect(indexKeepFrom('2026-03-10', 720)).toBe('2026-02-07');
  });

  it('reads TALLY_DEDUP_WINDOW_HOURS, 24 unless set, and names a bad value', () => {
    expect(readDedupWindowHours({})).toBe(24);
    expect(readDedupWindowHours({ TALLY_DEDUP_WINDOW_HOURS: '48' })).toBe(48);
    expect(() => readDedupWindowHours({ TALLY_DEDUP_WINDOW_HOURS: '0.5' })).toThrow(
      /TALLY_DEDUP_WINDOW_HOURS.*from 1 to 720, got "0\.5"/,
    );
    expect(() => checkDedupWindow(721)).toThrow(/dedupWindowHours must be an integer from 1 to 720, got 721/);
  });
});
