import { ConfigError } from '../errors.js';

/** The highest per-project quota accepted, in requests a second (API Gateway's regional default is 10,000). */
export const MAX_REQUESTS_PER_SECOND = 1_000_000;

/**
 * Where the collectors count a project's requests, one count per project and second, shared by
 * every collector instance (a DynamoDB table on AWS, memory in the one local process).
 */
export interface QuotaCounter {
  /** Adds `n` requests to the project's count for this second and answers the count after it. */
  add(project: string, second: number, n: number): Promise<number>;
}

/** One process's counter: exact, for the local server (one process serves every request). */
export class MemoryQuotaCounter implements QuotaCounter {
  private readonly counts = new Map<string, { second: number; used: number }>();

  async add(project: string, second: number, n: number): Promise<number> {
    const count = this.counts.get(project);
    // A report for an earlier second than the last (a request stamped before one that finished
    // first) counts in the current second: moving back would start an empty window again.
    if (count === undefined || second > count.second) {
      this.counts.set(project, { second, used: n });
      return n;
    }
    count.used += n;
    return count.used;
  }
}

/** How many requests one instance admits before it reports them (1% of the quota, at least 1). */
export function reportEvery(limit: number): number {
  return Math.max(1, Math.ceil(limit / 100));
}

interface Window {
  second: number;
  /** The shared count as last answered by the counter (every instance's requests). */
  known: number;
  /** Requests this instance admitted on its own and has not reported yet. */
  pending: number;
  /** Requests in the report the counter has not answered yet (0: none in flight). */
  reporting: number;
  /** Requests waiting for the next report's answer. */
  waiting: Array<(admitted: boolean) => void>;
}

export interface ProjectQuotasOptions {
  /** Called when the counter fails; the request is admitted (a quota never stops collection). */
  onCounterError?: (error: unknown) => void;
  /** Requests an instance admits on its own between reports. @default reportEvery: 1% of the quota */
  reportEvery?: (limit: number) => number;
}

/**
 * Per-project request quotas, counted in one-second windows across every collector instance.
 * An instance admits up to 1% of a quota on its own between reports to the shared counter, and
 * never while the count it knows is within that distance of the quota. Other requests wait for
 * a report: one report at a time per project, carrying every request that arrived meanwhile, and
 * the counter's answer admits as many of them as the quota has room for. Once the counter says
 * the second is full, the instance refuses the project until the next second without asking.
 * So a second admits at least the quota (when there is that much demand) and at most the quota
 * plus (instances x 1% of it); other projects are never slowed, and a failing counter admits
 * everything (reported), never stops collection.
 */
export class ProjectQuotas {
  private readonly windows = new Map<string, Window>();
  private readonly every: (limit: number) => number;

  constructor(
    private readonly limits: ReadonlyMap<string, number>,
    private readonly counter: QuotaCounter,
    private readonly options: ProjectQuotasOptions = {},
  ) {
    this.every = options.reportEvery ?? reportEvery;
  }

  /** The project's quota in requests a second, or null (no quota). */
  limitOf(project: string): number | null {
    return this.limits.get(project) ?? null;
  }

  /** True when the project may send one more request at `now` (ms since the epoch). */
  admit(project: string, now: number): Promise<boolean> | boolean {
    const limit = this.limits.get(project);
    if (limit === undefined) return true;
    let window = this.windows.get(project);
    // Windows only move forward: requests finish out of order (a slow body stamped in the next
    // second, then a fast one still in this one), and a window started again for an earlier
    // second would forget what it admitted and admit the quota once more.
    const second = Math.max(Math.floor(now / 1000), window?.second ?? 0);
    if (window === undefined || window.second !== second) {
      window = { second, known: 0, pending: 0, reporting: 0, waiting: [] };
      this.windows.set(project, window);
    }
    if (window.known >= limit) return false;
    const mine = window.pending + 1;
    if (mine < this.every(limit) && window.known + window.reporting + mine < limit) {
      window.pending = mine;
      return true;
    }
    const answer = new Promise<boolean>((resolve) => window.waiting.push(resolve));
    if (window.reporting === 0) this.report(project, window, limit);
    return answer;
  }

  /** Reports what this instance admitted and what waits, and answers the waiting requests. */
  private report(project: string, window: Window, limit: number): void {
    const waiting = window.waiting.splice(0);
    const n = window.pending + waiting.length;
    window.pending = 0;
    window.reporting = n;
    this.counter.add(project, window.second, n).then(
      (total) => {
        // Answers to other instances' reports interleave: the count only grows.
        window.known = Math.max(window.known, total);
        const room = limit - (total - waiting.length);
        waiting.forEach((resolve, i) => {
          resolve(i < room);
        });
        this.next(project, window, limit);
      },
      (error: unknown) => {
        this.options.onCounterError?.(error);
        for (const resolve of waiting) resolve(true);
        this.next(project, window, limit);
      },
    );
  }

  private next(project: string, window: Window, limit: number): void {
    window.reporting = 0;
    if (window.waiting.length > 0) this.report(project, window, limit);
  }
}

/** A quota as configured: a positive integer of requests a second, or absent. */
export function parseRequestsPerSecond(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_REQUESTS_PER_SECOND) {
    throw new ConfigError(
      where,
      `"requestsPerSecond" must be an integer from 1 to ${MAX_REQUESTS_PER_SECOND}, got ${JSON.stringify(value).slice(0, 40)}`,
    );
  }
  return value;
}

/** Each project's quota: its own `requestsPerSecond`, else `fallback` (null: no quota). */
export function quotaLimits(
  projects: ReadonlyArray<{ project: string; requestsPerSecond?: number }>,
  fallback: number | null,
): Map<string, number> {
  const limits = new Map<string, number>();
  for (const p of projects) {
    const limit = p.requestsPerSecond ?? fallback;
    if (limit !== null) limits.set(p.project, limit);
  }
  return limits;
}
