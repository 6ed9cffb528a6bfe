import { addDays, daysFrom, MAU_DAYS, WAU_DAYS } from '../../lib/warehouse/days.js';

/** A deterministic generator (so a seed reproduces a workload). */
function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export interface WorkloadOptions {
  users: number;
  days: number;
  seed: number;
  now: Date;
}

/** One call as a client makes it. */
export interface DemoCall {
  kind: 'track' | 'page' | 'identify' | 'alias';
  messageId: string;
  userId?: string;
  /** An alias' earlier userId. */
  previousId?: string;
  anonymousId: string;
  /** The true time of the event. */
  time: Date;
  event?: string;
  name?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  /** Sent raw by a device whose clock is off by this many ms (0: the official client sends it). */
  clockSkewMs: number;
}

export interface Workload {
  /** Sent first. */
  main: DemoCall[];
  /** Held back and sent after the first rollup: events 31+ days old that arrive late. */
  late: DemoCall[];
  /** The first and last day of the ground truth. */
  from: string;
  to: string;
  /** Exact dau/wau/mau per day, counted from the calls themselves. */
  truth: Map<string, { dau: number; wau: number; mau: number }>;
  stats: {
    users: number;
    identified: number;
    aliased: number;
    events: number;
    resent: number;
    skewed: number;
    late: number;
  };
}

const DAY = 86_400_000;
const EVENTS = [
  'Product Viewed',
  'Product Added',
  'Checkout Started',
  'Order Completed',
  'Search Performed',
  'Video Played',
];
const PAGES = ['Home', 'Pricing', 'Docs', 'Blog', 'Account'];
const SKEWS = [-3 * DAY, -2 * 3_600_000, 5 * 3_600_000, 20 * 3_600_000];

/** Pareto-distributed value >= 1 (heavy tail: a few users do most of the activity). */
function pareto(random: () => number, alpha: number): number {
  return (1 - random()) ** (-1 / alpha);
}

/**
 * A product's traffic over `days` days: users sign up over time, a power-law share of them is
 * active most days, some churn, most identify at some point (before that they are anonymous),
 * some later change their userId (an alias from the old one), 2% of calls are resent with the
 * same messageId, 5% come from devices with wrong clocks, and a few old events arrive late. The
 * ground truth counts people, as Tally defines them: a visitor who ever identified is one person
 * from their first anonymous event on, under every userId an alias joined; one who never did is
 * their anonymousId.
 */
export function generateWorkload(options: WorkloadOptions): Workload {
  const random = seeded(options.seed);
  const now = options.now.getTime();
  const to = new Date(now).toISOString().slice(0, 10);
  const from = addDays(to, -(options.days - 1));
  const dayList = daysFrom(from, to);
  const calls: Array<DemoCall & { person: number; dt: string }> = [];
  let identified = 0;
  let n = 0;
  for (let u = 0; u < options.users; u++) {
    const start = Math.floor(random() ** 0.8 * options.days);
    const end = random() < 0.3 ? start + Math.floor(random() * (options.days - start)) : options.days - 1;
    const rate = Math.min(0.9, 0.04 * pareto(random, 1.3));
    const identifiesOn = random() < 0.7 ? start + Math.floor(random() * 10) : Number.POSITIVE_INFINITY;
    if (identifiesOn < options.days) identified++;
    // Some identified users change their userId later: an alias links the new one to the old.
    const aliasOn = random() < 0.15 ? identifiesOn + 1 + Math.floor(random() * 20) : Number.POSITIVE_INFINITY;
    let aliasSent = false;
    for (let d = start; d <= end; d++) {
      if (random() >= rate) continue;
      const dt = dayList[d]!;
      const dayStart = Date.parse(`${dt}T00:00:00Z`);
      // Keep events 5 minutes away from midnight and in the past, so no latency moves their day.
      const latest = Math.min(dayStart + DAY - 5 * 60_000, now - 2 * 60_000);
      const earliest = dayStart + 5 * 60_000;
      if (latest <= earliest) continue;
      const isUser = d >= identifiesOn;
      const userId = d > aliasOn ? `user-${u}-b` : `user-${u}`;
      if (d >= aliasOn && !aliasSent) {
        aliasSent = true;
        calls.push({
          kind: 'alias',
          messageId: `demo-${options.seed}-${n++}`,
          userId: `user-${u}-b`,
          previousId: `user-${u}`,
          anonymousId: `anon-${u}`,
          time: new Date(earliest),
          clockSkewMs: 0,
          person: u,
          dt,
        });
      }
      const count = Math.min(12, Math.floor(pareto(random, 1.5)));
      for (let e = 0; e < count; e++) {
        const time = new Date(earliest + Math.floor(random() * (latest - earliest)));
        const roll = random();
        const kind = d === identifiesOn && e === 0 ? 'identify' : roll < 0.8 ? 'track' : 'page';
        calls.push({
          kind,
          messageId: `demo-${options.seed}-${n++}`,
          ...(isUser ? { userId } : {}),
          anonymousId: `anon-${u}`,
          time,
          ...(kind === 'track'
            ? {
                event: EVENTS[Math.floor(random() * EVENTS.length)]!,
                properties: { value: Math.round(random() * 100) },
              }
            : {}),
          ...(kind === 'page' ? { name: PAGES[Math.floor(random() * PAGES.length)]! } : {}),
          ...(kind === 'identify'
            ? { traits: { email: `user-${u}@example.com`, plan: random() < 0.3 ? 'pro' : 'free' } }
            : {}),
          clockSkewMs: random() < 0.05 ? SKEWS[Math.floor(random() * SKEWS.length)]! : 0,
          person: u,
          dt,
        });
      }
    }
  }
  const lateBefore = addDays(to, -31);
  const late = calls.filter((c) => c.dt <= lateBefore && random() < 0.03);
  const lateIds = new Set(late.map((c) => c.messageId));
  const main = calls.filter((c) => !lateIds.has(c.messageId));
  // Resends: the same call again, later in the stream (as an SDK retrying after a timeout would).
  const resent = main.filter(() => random() < 0.02);
  for (let i = main.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [main[i], main[j]] = [main[j]!, main[i]!];
  }
  main.push(...resent);

  // One person per visitor who ever sent a userId (every call carries their anonymousId, and an
  // alias joins their second userId); a visitor who never did is their anonymousId alone.
  const identifiedEver = new Set(calls.filter((c) => c.userId !== undefined).map((c) => c.person));
  const actor = (c: { person: number }) =>
    identifiedEver.has(c.person) ? `user-${c.person}` : `anon-${c.person}`;
  const byDay = new Map<string, Set<string>>();
  for (const c of calls) {
    if (!byDay.has(c.dt)) byDay.set(c.dt, new Set());
    byDay.get(c.dt)!.add(actor(c));
  }
  const union = (end: string, span: number) => {
    const all = new Set<string>();
    for (const d of daysFrom(addDays(end, -(span - 1)), end)) for (const a of byDay.get(d) ?? []) all.add(a);
    return all.size;
  };
  const truth = new Map(
    dayList.map((dt) => [dt, { dau: union(dt, 1), wau: union(dt, WAU_DAYS), mau: union(dt, MAU_DAYS) }]),
  );
  const strip = ({ person: _p, dt: _d, ...call }: DemoCall & { person: number; dt: string }): DemoCall =>
    call;
  return {
    main: main.map(strip),
    late: late.map(strip),
    from,
    to,
    truth,
    stats: {
      users: options.users,
      identified,
      aliased: calls.filter((c) => c.kind === 'alias').length,
      events: calls.length,
      resent: resent.length,
      skewed: calls.filter((c) => c.clockSkewMs !== 0).length,
      late: late.length,
    },
  };
}
