import type { LakeEvent } from '../../lib/events.js';
import { addDays, daysFrom } from '../../lib/warehouse/days.js';
import { lakeEvent } from './events.js';
import { generator } from './random.js';
import { userHash } from './warehouse-workload.js';

/** The week the simulation covers; a rollup runs at 23:30 of each day. */
export const WEEK_FIRST = '2026-03-01';
export const WEEK_LAST = addDays(WEEK_FIRST, 6);
export const WEEK_PROJECTS = ['a', 'b'];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The copies received on one day, landed together and rolled up at 23:30. */
export interface WeekDay {
  dt: string;
  copies: LakeEvent[];
  rollupAt: Date;
}

interface Person {
  user: bigint | null;
  anonymous: bigint | null;
}

/**
 * A week (or `days`) of an id-heavy product, in two projects: every day 300 new visitors per project send
 * anonymous events, 40% of them identify the same day and 20% on a later day (moving their past
 * days to their user); 400 events of people already seen; aliases between users and from
 * visitors' anonymous ids; events up to four days late. Resends as SDKs make them (the same
 * timestamp, a corrected time off by the network's jitter): 4% of events seconds to 2 hours
 * later, 2% 30-40 hours later (an offline queue or a replayed batch), both on the same day; 1%
 * whose corrected time crosses midnight (another day of the lake, where the copy counts too).
 */
export function weekWorkload(
  seed: number,
  {
    days = 7,
    newVisitors = 300,
    returning = 400,
  }: { days?: number; newVisitors?: number; returning?: number } = {},
): WeekDay[] {
  const last = addDays(WEEK_FIRST, days - 1);
  const random = generator(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const copies: LakeEvent[] = [];
  let nextId = 0;
  let nextUser = 1;
  let nextAnonymous = 1;
  const people = new Map<string, Person[]>(WEEK_PROJECTS.map((p) => [p, []]));
  const later: Array<{ day: number; project: string; person: Person; user: bigint }> = [];
  const send = (project: string, at: number, ids: Partial<LakeEvent>, receivedAt?: number) => {
    const event = lakeEvent({
      project,
      eventId: `w${nextId++}`,
      userHash: null,
      anonymousHash: null,
      properties: null,
      ...ids,
      eventTime: at,
      receivedAt: receivedAt ?? at + Math.floor(random() * 120_000),
    });
    copies.push(event);
    // Resends: the same timestamp, corrected by a receipt time a few milliseconds apart; now and
    // then across midnight (the next day of the lake, where the copy counts its person too).
    const roll = random();
    const jitter = Math.floor(random() * 2_000);
    const midnight = Math.floor(at / DAY + 1) * DAY;
    if (roll < 0.04)
      copies.push({
        ...event,
        eventTime: event.eventTime + jitter,
        receivedAt: event.receivedAt + Math.floor(random() * 2 * HOUR),
      });
    else if (roll < 0.06) {
      const gap = 30 * HOUR + Math.floor(random() * 10 * HOUR);
      copies.push({ ...event, eventTime: event.eventTime + jitter, receivedAt: event.receivedAt + gap });
    } else if (roll < 0.07)
      copies.push({ ...event, eventTime: midnight + jitter, receivedAt: midnight + jitter + 1_000 });
  };
  const idsOf = (p: Person): Partial<LakeEvent> => ({ userHash: p.user, anonymousHash: p.anonymous });
  for (const [d, dt] of daysFrom(WEEK_FIRST, last).entries()) {
    const start = Date.parse(`${dt}T00:00:00Z`);
    const at = () => start + Math.floor(random() * 20 * HOUR);
    for (const project of WEEK_PROJECTS) {
      const known = people.get(project)!;
      // People seen before come back (a tenth of them late, sent up to four days back).
      for (let i = 0; i < returning && known.length > 0; i++) {
        const received = at();
        const late = random() < 0.1 ? Math.floor(random() * 4 + 1) * DAY : 0;
        send(project, received - late, idsOf(pick(known)), late > 0 ? received : undefined);
      }
      // Visitors who identified on an earlier day's promise do it today.
      for (const promise of later.filter((l) => l.day === d && l.project === project)) {
        promise.person.user = promise.user;
        send(project, at(), idsOf(promise.person));
      }
      // New visitors.
      for (let i = 0; i < newVisitors; i++) {
        const person: Person = { user: null, anonymous: BigInt(nextAnonymous++) };
        known.push(person);
        const first = at();
        for (let n = 1 + Math.floor(random() * 3); n > 0; n--)
          send(project, first + n * 60_000, idsOf(person));
        const fate = random();
        if (fate < 0.4) {
          person.user = userHash(nextUser++);
          send(project, first + 2 * HOUR, idsOf(person));
        } else if (fate < 0.6) {
          later.push({ day: d + 1 + Math.floor(random() * 3), project, person, user: userHash(nextUser++) });
        }
      }
      // Aliases: a user to another, and a visitor's anonymous id to a user.
      const users = known.filter((p) => p.user !== null);
      for (let i = 0; i < 10 && users.length > 1; i++) {
        const [to, from] = [pick(users), pick(users)];
        if (to.user !== from.user)
          send(project, at(), { type: 'alias', userHash: to.user, previousUserHash: from.user });
      }
      const visitors = known.filter((p) => p.user === null);
      for (let i = 0; i < 5 && visitors.length > 0 && users.length > 0; i++) {
        const visitor = pick(visitors);
        send(project, at(), {
          type: 'alias',
          userHash: pick(users).user,
          previousAnonymousHash: visitor.anonymous,
        });
      }
    }
  }
  // Each copy lands on the day it was received.
  return daysFrom(WEEK_FIRST, addDays(last, 2)).map((dt) => ({
    dt,
    copies: copies.filter((c) => new Date(c.receivedAt).toISOString().slice(0, 10) === dt),
    rollupAt: new Date(`${dt}T23:30:00Z`),
  }));
}
