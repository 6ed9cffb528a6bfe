import { describe, expect, it } from 'vitest';
import { compareWithTruth } from '../../local/demo/run.js';
import { generateWorkload } from '../../local/demo/workload.js';

describe('the demo workload', () => {
  const now = new Date('2026-03-31T15:00:00Z');
  const workload = generateWorkload({ users: 400, days: 45, seed: 3, now });

  it('is reproducible from its seed', () => {
    const again = generateWorkload({ users: 400, days: 45, seed: 3, now });
    expect(again.main.map((c) => c.messageId)).toEqual(workload.main.map((c) => c.messageId));
    expect(again.truth).toEqual(workload.truth);
  });

  it('holds identity merges: anonymous visitors who identify, and users who change userId by alias', () => {
    const all = [...workload.main, ...workload.late];
    const aliases = all.filter((c) => c.kind === 'alias');
    expect(workload.stats.aliased).toBe(aliases.length);
    expect(aliases.length).toBeGreaterThan(0);
    // Each alias joins the userId the visitor used before to the one they use from then on.
    for (const a of aliases) expect(a.userId).toBe(`${a.previousId}-b`);
    expect(aliases.some((a) => all.some((c) => c.userId === a.previousId && c.kind !== 'alias'))).toBe(true);
    expect(aliases.some((a) => all.some((c) => c.userId === a.userId && c.kind !== 'alias'))).toBe(true);
    const anonymousThenUser = all.filter(
      (c) =>
        c.userId === undefined && all.some((d) => d.userId !== undefined && d.anonymousId === c.anonymousId),
    );
    expect(anonymousThenUser.length).toBeGreaterThan(0);
  });

  it('holds identified and anonymous users, resends, wrong clocks and late events', () => {
    expect(workload.main.some((c) => c.userId === undefined)).toBe(true);
    expect(workload.main.some((c) => c.userId !== undefined)).toBe(true);
    expect(workload.stats.resent).toBeGreaterThan(0);
    expect(new Set(workload.main.map((c) => c.messageId)).size).toBe(
      workload.main.length - workload.stats.resent,
    );
    expect(workload.stats.skewed).toBeGreaterThan(0);
    expect(workload.late.every((c) => c.time.getTime() < now.getTime() - 30 * 86_400_000)).toBe(true);
    expect(workload.late.length).toBeGreaterThan(0);
  });

  it('never has an event in the future', () => {
    expect([...workload.main, ...workload.late].every((c) => c.time.getTime() < now.getTime())).toBe(true);
  });
});

describe('compareWithTruth', () => {
  const truth = new Map([
    ['2026-03-30', { dau: 3, wau: 5, mau: 9 }],
    ['2026-03-31', { dau: 4, wau: 6, mau: 10 }],
  ]);

  it('accepts equal numbers', () => {
    const days = [...truth].map(([date, n]) => ({ date, ...n }));
    expect(compareWithTruth(days, truth).mismatches).toEqual([]);
  });

  it('names every number that differs and every day that is missing', () => {
    const { mismatches } = compareWithTruth([{ date: '2026-03-30', dau: 3, wau: 5, mau: 8 }], truth);
    expect(mismatches).toEqual([
      '2026-03-30 mau: tally 8, truth 9',
      "2026-03-31: missing from Tally's answer",
    ]);
  });
});
