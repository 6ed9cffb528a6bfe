import { describe, expect, it } from 'vitest';
import { refuseDedupWindow } from '../../lib/config.js';

describe('the duplicate window of an earlier rule 1', () => {
  it('is refused where it is still set, naming the value and what replaced it', () => {
    expect(() => refuseDedupWindow({ TALLY_DEDUP_WINDOW_HOURS: '48' })).toThrow(
      /TALLY_DEDUP_WINDOW_HOURS: is no longer read \(got "48"\): copies of an event count once per event day, with no window \(docs\/active-users.md\); remove it/,
    );
  });

  it('is nothing to do where it is not set', () => {
    expect(() => refuseDedupWindow({})).not.toThrow();
  });
});
