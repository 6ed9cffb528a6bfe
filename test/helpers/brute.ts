import { enrich } from '../../lib/enrich/context.js';
import type { LakeEvent } from '../../lib/events.js';
import { utcDate } from '../../lib/events.js';
import type { Breakdown, Dimension } from '../../lib/warehouse/breakdowns.js';
import { addDays, daysFrom } from '../../lib/warehouse/days.js';
import { DEFAULT_DEDUP_WINDOW_HOURS } from '../../lib/warehouse/people.js';
import type { ActiveUsersDay } from '../../lib/warehouse/warehouse.js';

/**
 * The rules of `lib/warehouse/people.ts`, applied again by brute force with none of the engines'
 * code: the ground truth the engines are compared with.
 */

function compare(a: readonly (bigint | number)[], b: readonly (bigint | number)[]): number {
  for (let i = 0; i < a.length; i++) if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

const HOUR = 3_600_000;
const copyOrder = (e: LakeEvent) => [e.receivedAt, e.eventTime, e.userHash ?? -1n, e.anonymousHash ?? -1n];

/** Rule 0: an event the lake writer flags as a bot's (from its context's user agent). */
export function isBot(e: LakeEvent): boolean {
  return (e.enriched ?? enrich(e.context, e.channel)).bot === true;
}

/**
 * Rules 0-1: bots' events left out (but for projects that count them); per (project, event_id),
 * copies in their order; a copy received within `windowHours` after the previous copy is a
 * duplicate, and copies identical in that order are one copy.
 */
export function countedCopies(
  events: readonly LakeEvent[],
  windowHours = DEFAULT_DEDUP_WINDOW_HOURS,
  countBots: ReadonlySet<string> = new Set(),
): LakeEvent[] {
  const byEvent = new Map<string, LakeEvent[]>();
  for (const e of events) {
    if (isBot(e) && !countBots.has(e.project)) continue;
    const key = `${e.project}\0${e.eventId}`;
    byEvent.set(key, [...(byEvent.get(key) ?? []), e]);
  }
  const counted: LakeEvent[] = [];
  for (const copies of byEvent.values()) {
    // A stable sort: of copies identical in the order, the first one met stands for them.
    const sorted = [...copies].sort((a, b) => compare(copyOrder(a), copyOrder(b)));
    let previous: LakeEvent | null = null;
    for (const copy of sorted) {
      if (previous && compare(copyOrder(previous), copyOrder(copy)) === 0) continue;
      if (!previous || previous.receivedAt < copy.receivedAt - windowHours * HOUR) counted.push(copy);
      previous = copy;
    }
  }
  return counted;
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
  windowHours = DEFAULT_DEDUP_WINDOW_HOURS,
  countBots: ReadonlySet<string> = new Set(),
): ActiveUsersDay[] {
  const counted = countedCopies(events, windowHours, countBots);
  const person = personOf(
    identitiesFrom ? countedCopies(identitiesFrom, windowHours, countBots) : counted,
    project,
  );
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
 * What a live scan of today adds to the last rollup: the copies of today in a batch `fresh` not
 * rolled up yet (the lake writer keeps one of copies alike), except those with a rolled-up copy of
 * another day received within the window before them; each counts (renamed apart). Fresh copies of
 * other days are not seen: they are judged by the next rollup.
 */
export function liveCopies(
  rolled: readonly LakeEvent[],
  fresh: readonly LakeEvent[],
  today: string,
  windowHours = DEFAULT_DEDUP_WINDOW_HOURS,
  countBots: ReadonlySet<string> = new Set(),
): LakeEvent[] {
  const others = new Map<string, number[]>();
  for (const e of rolled) {
    if (utcDate(e.eventTime) === today) continue;
    const key = `${e.project}\0${e.eventId}`;
    others.set(key, [...(others.get(key) ?? []), e.receivedAt]);
  }
  // The live scan reads today's new files only: a fresh copy of another day is not seen.
  return countedCopies(
    fresh.filter((e) => utcDate(e.eventTime) === today),
    windowHours,
    countBots,
  )
    .filter((e) => {
      const before = others.get(`${e.project}\0${e.eventId}`) ?? [];
      return !before.some((at) => at <= e.receivedAt && at >= e.receivedAt - windowHours * HOUR);
    })
    .map((e, i) => ({ ...e, eventId: `${e.eventId}#live${i}` }));
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
  const counted = countedCopies(events, DEFAULT_DEDUP_WINDOW_HOURS, countBots);
  const person = personOf(
    identitiesFrom ? countedCopies(identitiesFrom, DEFAULT_DEDUP_WINDOW_HOURS, countBots) : counted,
    project,
  );
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
