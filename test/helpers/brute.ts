import { enrich } from '../../lib/enrich/context.js';
import type { LakeEvent } from '../../lib/events.js';
import { utcDate } from '../../lib/events.js';
import type { Breakdown, Dimension } from '../../lib/warehouse/breakdowns.js';
import { addDays, daysFrom } from '../../lib/warehouse/days.js';
import type { ActiveUsersDay } from '../../lib/warehouse/warehouse.js';

/**
 * The rules of `lib/warehouse/people.ts`, applied again by brute force with none of the engines'
 * code: the ground truth the engines are compared with.
 */

function compare(a: readonly (bigint | number)[], b: readonly (bigint | number)[]): number {
  for (let i = 0; i < a.length; i++) if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

/** Rule 0: an event the lake writer flags as a bot's (from its context's user agent). */
export function isBot(e: LakeEvent): boolean {
  return (e.enriched ?? enrich(e.context, e.channel)).bot === true;
}

const LAKE_DIMENSIONS = [
  'platform',
  'os',
  'browser',
  'device_type',
  'app_version',
  'utm_source',
  'utm_campaign',
  'referrer_domain',
  'country',
] as const;

/**
 * Rules 0-1: bots' events left out (but for projects that count them); of the rows of a project
 * and event day alike in their id and in all a count reads (type, sender, identity evidence, every
 * dimension), the earliest by event time, then receipt: the rows of the `events` view.
 */
export function countedCopies(
  events: readonly LakeEvent[],
  countBots: ReadonlySet<string> = new Set(),
): LakeEvent[] {
  const earliest = new Map<string, LakeEvent>();
  for (const e of events) {
    if (isBot(e) && !countBots.has(e.project)) continue;
    const key = JSON.stringify(
      [
        e.project,
        utcDate(e.eventTime),
        e.eventId,
        e.type,
        e.userHash,
        e.anonymousHash,
        e.previousUserHash ?? null,
        e.previousAnonymousHash ?? null,
        isBot(e),
        ...LAKE_DIMENSIONS.map((d) => dimensionValue(e, d)),
      ],
      (_, v) => (typeof v === 'bigint' ? String(v) : v),
    );
    const seen = earliest.get(key);
    if (!seen || compare([e.eventTime, e.receivedAt], [seen.eventTime, seen.receivedAt]) < 0)
      earliest.set(key, e);
  }
  return [...earliest.values()];
}

/** Rules 2-4: a function from an id (user_hash, else anonymous_hash) to its person, for one project. */
export function personOf(counted: readonly LakeEvent[], project: string): (id: bigint) => bigint {
  const mine = counted.filter((e) => e.project === project);
  // Users joined by aliases: connected components, each named by its smallest user_hash.
  const neighbours = new Map<bigint, bigint[]>();
  const connect = (a: bigint, b: bigint) => neighbours.set(a, [...(neighbours.get(a) ?? []), b]);
  for (const e of mine) {
    if (e.type !== 'alias' || e.userHash === null || e.previousUserHash == null) continue;
    connect(e.userHash, e.previousUserHash);
    connect(e.previousUserHash, e.userHash);
  }
  const group = new Map<bigint, bigint>();
  for (const start of neighbours.keys()) {
    if (group.has(start)) continue;
    const members = [start];
    for (let i = 0; i < members.length; i++)
      for (const n of neighbours.get(members[i]!) ?? []) if (!members.includes(n)) members.push(n);
    let smallest = start;
    for (const m of members) if (m < smallest) smallest = m;
    for (const m of members) group.set(m, smallest);
  }
  const userPerson = (u: bigint) => group.get(u) ?? u;
  // Anonymous ids: the user of their earliest link.
  const firstLink = new Map<bigint, { at: bigint[]; user: bigint }>();
  const link = (anon: bigint, user: bigint, e: LakeEvent) => {
    const at = [BigInt(e.eventTime), BigInt(e.receivedAt), user];
    const seen = firstLink.get(anon);
    if (!seen || compare(at, seen.at) < 0) firstLink.set(anon, { at, user });
  };
  for (const e of mine) {
    if (e.userHash === null) continue;
    if (e.anonymousHash !== null) link(e.anonymousHash, e.userHash, e);
    if (e.type === 'alias' && e.previousAnonymousHash != null) link(e.previousAnonymousHash, e.userHash, e);
  }
  return (id) => {
    const linked = firstLink.get(id);
    return linked ? userPerson(linked.user) : userPerson(id);
  };
}

/**
 * DAU/WAU/MAU by brute force: the persons of the counted copies per day, unions over the windows.
 * `identitiesFrom`: resolve persons from these events only (what a live scan knows: the links
 * of the last rollup).
 */
export function bruteForce(
  events: readonly LakeEvent[],
  project: string,
  from: string,
  to: string,
  identitiesFrom?: readonly LakeEvent[],
  countBots: ReadonlySet<string> = new Set(),
): ActiveUsersDay[] {
  const counted = countedCopies(events, countBots);
  const person = personOf(identitiesFrom ? countedCopies(identitiesFrom, countBots) : counted, project);
  const byDay = new Map<string, Set<bigint>>();
  for (const e of counted) {
    if (e.project !== project) continue;
    const id = e.userHash ?? e.anonymousHash;
    if (id === null) continue;
    const dt = utcDate(e.eventTime);
    if (!byDay.has(dt)) byDay.set(dt, new Set());
    byDay.get(dt)!.add(person(id));
  }
  const union = (end: string, days: number) => {
    const all = new Set<bigint>();
    for (const d of daysFrom(addDays(end, -(days - 1)), end)) for (const u of byDay.get(d) ?? []) all.add(u);
    return all.size;
  };
  return daysFrom(from, to).map((dt) => ({ dt, dau: union(dt, 1), wau: union(dt, 7), mau: union(dt, 30) }));
}

/**
 * What a live scan of today adds to the last rollup: the events of today in a batch `fresh` not
 * rolled up yet. Fresh events of other days are not seen: they count at the next rollup.
 */
export function liveCopies(fresh: readonly LakeEvent[], today: string): LakeEvent[] {
  return fresh.filter((e) => utcDate(e.eventTime) === today);
}

/** The value of a lake dimension an event carries, by brute force (null: unknown). */
function dimensionValue(e: LakeEvent, by: Exclude<Dimension, 'new_vs_returning'>): string | null {
  if (by === 'country') return e.country ?? null;
  const enriched = e.enriched ?? enrich(e.context, e.channel);
  const member = {
    platform: enriched.platform,
    os: enriched.os,
    browser: enriched.browser,
    device_type: enriched.deviceType,
    app_version: enriched.appVersion,
    utm_source: enriched.utmSource,
    utm_campaign: enriched.utmCampaign,
    referrer_domain: enriched.referrerDomain,
  }[by];
  return member ?? null;
}

/**
 * A breakdown by brute force: each value's persons per day (a person's first day `new`, later
 * days `returning`), unions over the windows, the top `limit` values by MAU of `to` (ties by
 * value, unknown sorting first) and the union of the rest as `other`.
 */
export function bruteBreakdown(
  events: readonly LakeEvent[],
  project: string,
  by: Dimension,
  from: string,
  to: string,
  limit: number,
  identitiesFrom?: readonly LakeEvent[],
  countBots: ReadonlySet<string> = new Set(),
): Breakdown {
  const counted = countedCopies(events, countBots);
  const person = personOf(identitiesFrom ? countedCopies(identitiesFrom, countBots) : counted, project);
  const active: Array<{ dt: string; person: bigint; value: string | null }> = [];
  for (const e of counted) {
    if (e.project !== project) continue;
    const id = e.userHash ?? e.anonymousHash;
    const dt = utcDate(e.eventTime);
    if (id === null || dt > to) continue;
    active.push({ dt, person: person(id), value: by === 'new_vs_returning' ? null : dimensionValue(e, by) });
  }
  if (by === 'new_vs_returning') {
    const first = new Map<bigint, string>();
    for (const a of active)
      if (!first.has(a.person) || a.dt < first.get(a.person)!) first.set(a.person, a.dt);
    for (const a of active) a.value = first.get(a.person) === a.dt ? 'new' : 'returning';
  }
  const persons = (end: string, days: number, keep: (value: string | null) => boolean) => {
    const start = addDays(end, -(days - 1));
    return new Set(active.filter((a) => a.dt >= start && a.dt <= end && keep(a.value)).map((a) => a.person))
      .size;
  };
  const series = (keep: (value: string | null) => boolean) =>
    daysFrom(from, to).map((dt) => ({
      dt,
      dau: persons(dt, 1, keep),
      wau: persons(dt, 7, keep),
      mau: persons(dt, 30, keep),
    }));
  const windowFrom = addDays(from, -29);
  const values = [...new Set(active.filter((a) => a.dt >= windowFrom).map((a) => a.value))];
  const mau = new Map(values.map((v) => [v, persons(to, 30, (x) => x === v)]));
  // Ties by value in the order of its UTF-8 bytes, as SQL engines sort text.
  const order = (v: string | null) => Buffer.from(v ?? '', 'utf8');
  values.sort((a, b) => mau.get(b)! - mau.get(a)! || Buffer.compare(order(a), order(b)));
  const top = values.slice(0, limit);
  return {
    by,
    values: top.map((value) => ({ value, days: series((v) => v === value) })),
    other:
      values.length > limit ? { values: values.length - limit, days: series((v) => !top.includes(v)) } : null,
  };
}
