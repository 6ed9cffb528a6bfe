import { describe, expect, it } from 'vitest';
import { tickOf } from '../../lambdas/ticks.js';

const sqs = (...bodies: unknown[]) => ({
  Records: bodies.map((b) => ({ body: typeof b === 'string' ? b : JSON.stringify(b) })),
});

describe('a scheduled job reads its invocation as one run', () => {
  it('at the time of an EventBridge tick, or of a direct invoke', () => {
    expect(tickOf({ time: '2026-03-31T12:05:00Z' })).toEqual({
      now: new Date('2026-03-31T12:05:00Z'),
      full: false,
    });
    expect(tickOf({ full: true }).full).toBe(true);
  });

  it("at the latest of the ticks the schedule's queue hands over together, full when any asks", () => {
    const run = tickOf(
      sqs(
        { 'detail-type': 'Scheduled Event', time: '2026-03-31T12:05:00Z' },
        { 'detail-type': 'Scheduled Event', time: '2026-03-31T12:15:00Z' },
        { time: '2026-03-31T12:10:00Z', full: true },
      ),
    );
    expect(run).toEqual({ now: new Date('2026-03-31T12:15:00Z'), full: true });
  });

  it('as a run of now when a body or a time is not readable, never failing on it', () => {
    const before = Date.now();
    for (const event of [sqs('not json', 42, { time: 'yesterday' }), null, undefined, {}]) {
      const run = tickOf(event as never);
      expect(run.full).toBe(false);
      expect(run.now.getTime()).toBeGreaterThanOrEqual(before);
    }
  });
});
