import type { LakeEvent } from '../../lib/events.js';
import { utcDate } from '../../lib/events.js';
import { addDays, daysFrom } from '../../lib/warehouse/days.js';
import type { ActiveUsersDay } from '../../lib/warehouse/warehouse.js';

/** DAU/WAU/MAU by brute force: a set of users per day, unions over the windows. */
export function bruteForce(
  events: readonly LakeEvent[],
  project: string,
  from: string,
  to: string,
): ActiveUsersDay[] {
  const byDay = new Map<string, Set<bigint>>();
  for (const e of events) {
    if (e.project !== project) continue;
    const actor = e.userHash ?? e.anonymousHash;
    if (actor === null) continue;
    const dt = utcDate(e.eventTime);
    if (!byDay.has(dt)) byDay.set(dt, new Set());
    byDay.get(dt)!.add(actor);
  }
  const union = (end: string, days: number) => {
    const all = new Set<bigint>();
    for (const d of daysFrom(addDays(end, -(days - 1)), end)) for (const u of byDay.get(d) ?? []) all.add(u);
    return all.size;
  };
  return daysFrom(from, to).map((dt) => ({ dt, dau: union(dt, 1), wau: union(dt, 7), mau: union(dt, 30) }));
}
