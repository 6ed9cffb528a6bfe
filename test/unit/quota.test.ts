import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors.js';
import {
  MemoryQuotaCounter,
  ProjectQuotas,
  parseRequestsPerSecond,
  type QuotaCounter,
  quotaLimits,
  reportEvery,
} from '../../lib/ingest/quota.js';

/** Admits `n` requests of `project` at `now`, one after another, and answers how many passed. */
async function admitted(quotas: ProjectQuotas, project: string, now: number, n: number): Promise<number> {
  let passed = 0;
  for (let i = 0; i < n; i++) if (await quotas.admit(project, now)) passed += 1;
  return passed;
}

/** A shared counter that also records how often it was asked. */
class CountingCounter implements QuotaCounter {
  readonly inner = new MemoryQuotaCounter();
  calls = 0;
  async add(project: string, second: number, n: number): Promise<number> {
    this.calls += 1;
    return this.inner.add(project, second, n);
  }
}

describe('per-project quotas', () => {
  it('admit exactly the quota in one second on one instance, then refuse until the next second', async () => {
    const quotas = new ProjectQuotas(new Map([['a', 250]]), new MemoryQuotaCounter());
    expect(await admitted(quotas, 'a', 5_000, 400)).toBe(250);
    expect(await admitted(quotas, 'a', 5_999, 10)).toBe(0);
    expect(await admitted(quotas, 'a', 6_000, 400)).toBe(250);
  });

  it('admit at most the quota a second when requests are stamped out of order across a second boundary', async () => {
    // Arrange: concurrent requests whose bodies end on either side of a second boundary, so
    // their stamps alternate between the two seconds (a slow body finished first, then a fast one).
    const quotas = new ProjectQuotas(new Map([['a', 20]]), new MemoryQuotaCounter());
    const stamps = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 9_999 : 10_000));

    // Act
    const answers = await Promise.all(stamps.map((now) => quotas.admit('a', now)));

    // Assert: two windows at most, each of the quota.
    expect(answers.filter(Boolean).length).toBeLessThanOrEqual(40);
    expect(answers.filter(Boolean).length).toBeGreaterThanOrEqual(20);
  });

  it('leave projects without a quota alone, and other projects unslowed', async () => {
    const counter = new CountingCounter();
    const quotas = new ProjectQuotas(new Map([['a', 10]]), counter);
    expect(await admitted(quotas, 'a', 0, 100)).toBe(10);
    const calls = counter.calls;
    expect(await admitted(quotas, 'free', 0, 1000)).toBe(1000);
    expect(counter.calls).toBe(calls);
    expect(quotas.limitOf('free')).toBeNull();
  });

  it('hold across instances sharing a counter: at least the quota, at most 1% of it more per instance', async () => {
    const limit = 1000;
    const counter = new CountingCounter();
    const instances = Array.from({ length: 8 }, () => new ProjectQuotas(new Map([['a', limit]]), counter));
    let passed = 0;
    // Round-robin, as a load balancer spreads a flood of 5,000 requests in one second.
    for (let i = 0; i < 5000; i++) if (await instances[i % instances.length]!.admit('a', 42_000)) passed += 1;
    expect(passed).toBeGreaterThanOrEqual(limit);
    expect(passed).toBeLessThanOrEqual(limit + instances.length * (reportEvery(limit) - 1));
    // Reports are batched: far fewer counter calls than requests, and none once the second is full.
    expect(counter.calls).toBeLessThan(passed / 2);
  });

  it('count concurrent requests of one instance (a server answers many at once)', async () => {
    const quotas = new ProjectQuotas(new Map([['a', 30]]), new MemoryQuotaCounter());
    const answers = await Promise.all(Array.from({ length: 300 }, () => quotas.admit('a', 7_000)));
    expect(answers.filter(Boolean).length).toBe(30);
  });

  it('carry every request that waits in one report while another is in flight (a slow counter)', async () => {
    const counter = new CountingCounter();
    const slow: QuotaCounter = {
      add: (project, second, n) =>
        new Promise((resolve) => setTimeout(() => resolve(counter.add(project, second, n)), 5)),
    };
    const limit = 500;
    const quotas = new ProjectQuotas(new Map([['a', limit]]), slow);
    const answers = await Promise.all(Array.from({ length: 2000 }, () => quotas.admit('a', 9_000)));
    const passed = answers.filter(Boolean).length;
    expect(passed).toBeGreaterThanOrEqual(limit);
    expect(passed).toBeLessThanOrEqual(limit + reportEvery(limit) - 1);
    expect(counter.calls).toBeLessThanOrEqual(3);
  });

  it('admit everything when the counter fails, and say so', async () => {
    const errors: unknown[] = [];
    const broken: QuotaCounter = {
      add: async () => {
        throw new Error('throttled');
      },
    };
    const quotas = new ProjectQuotas(new Map([['a', 5]]), broken, { onCounterError: (e) => errors.push(e) });
    expect(await admitted(quotas, 'a', 0, 50)).toBe(50);
    expect(errors.length).toBeGreaterThan(0);
    expect((errors[0] as Error).message).toBe('throttled');
  });

  it('report every 1% of the quota, at least every request', () => {
    expect([1, 99, 100, 101, 1000, 25_000].map(reportEvery)).toEqual([1, 1, 1, 2, 10, 250]);
  });
});

describe('quota settings', () => {
  it('take a project’s own quota over the default, and none without either', () => {
    const projects = [{ project: 'a', requestsPerSecond: 5 }, { project: 'b' }];
    expect([...quotaLimits(projects, 100)]).toEqual([
      ['a', 5],
      ['b', 100],
    ]);
    expect([...quotaLimits(projects, null)]).toEqual([['a', 5]]);
  });

  it('refuse what is not a positive integer, naming the value', () => {
    expect(parseRequestsPerSecond(undefined, 'x')).toBeUndefined();
    expect(parseRequestsPerSecond(200, 'x')).toBe(200);
    for (const bad of [0, -1, 1.5, '200', 2_000_000, true]) {
      expect(() => parseRequestsPerSecond(bad, 'project a')).toThrow(ConfigError);
      expect(() => parseRequestsPerSecond(bad, 'project a')).toThrow(JSON.stringify(bad));
    }
  });
});
