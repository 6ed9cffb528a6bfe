import { TallyError } from '../errors.js';
import { PROJECT_ID_PATTERN } from '../ingest/limits.js';
import { addDays } from './days.js';

/**
 * Who counts as one person. Both engines apply these rules; `test/helpers/brute.ts` applies them
 * again by brute force.
 *
 * 0. **Bots count nowhere.** Rows the lake flags `bot` (a crawler's or a headless browser's user
 *    agent, `enrich/agent.ts`) are kept in the lake and left out of everything below: they are no
 *    copy, no identity evidence and no activity. Rows without the flag (written before it, or
 *    without a user agent) count. A project whose setting `countBots` is true counts them too.
 * 1. **One copy of an event within the duplicate window.** Copies of a `(project, event_id)`
 *    are ordered by `received_at`, then `event_time`, then `user_hash`, then `anonymous_hash`
 *    (nulls first). A copy received within W (`dedupWindowHours`) after an earlier copy is a
 *    duplicate and counts nowhere; a copy received more than W after the previous copy counts
 *    again, as a new event. Copies identical in all four are one copy. SDK retries, producer
 *    retries and redelivered batches fall well within W (the last two carry the collector's
 *    `received_at`, so they are identical whatever W is); a counted copy's day is its event's day.
 * 2. **An anonymous visitor belongs to the first user it is seen with**: the earliest counted
 *    event (by `event_time`, then `received_at`, then `user_hash`) carrying both its
 *    `anonymous_hash` and a `user_hash`, or an alias whose previousId is that anonymousId. From
 *    then on, and back to its first anonymous event, it is that user's person. A device later
 *    shared with another user does not merge the two users.
 * 3. **An alias between two userIds merges them** (and whatever aliases them further): the person
 *    is the smallest `user_hash` of the group.
 * 4. Otherwise a user is their `user_hash`, an anonymous visitor their `anonymous_hash`.
 */

/** The id of a lake row (rule 4: user_hash, else anonymous_hash), as the day tables hold it. */
export const ROW_ID = 'coalesce(user_hash, anonymous_hash)';

/** Rule 0 as predicates on lake rows, in the SQL both engines speak: a bot's row, and a row that counts. */
export const BOT = 'coalesce(bot, false)';
export const NOT_BOT = `NOT ${BOT}`;

/**
 * Rule 0 of a deployment: the rows that count, where the projects in `countBots` (their setting
 * `countBots`) count their bots' rows like any other.
 */
export function countedRows(countBots: readonly string[] = []): string {
  if (countBots.length === 0) return NOT_BOT;
  for (const project of countBots) {
    if (!PROJECT_ID_PATTERN.test(project))
      throw new TallyError(
        'invalid_config',
        `countBots names an invalid project ${JSON.stringify(project).slice(0, 70)}`,
      );
  }
  return `(${NOT_BOT} OR project IN (${[...new Set(countBots)]
    .sort()
    .map((p) => `'${p}'`)
    .join(', ')}))`;
}

/**
 * W of rule 1, in hours. A day: the horizon of client resends (an SDK retrying a batch whose
 * answer it lost: seconds to hours; Segment's own deduplication keeps a day of messageIds).
 * Producer retries and stream redeliveries are identical copies, duplicates whatever W.
 */
export const DEFAULT_DEDUP_WINDOW_HOURS = 24;
/** The longest window accepted: 30 days. */
export const MAX_DEDUP_WINDOW_HOURS = 720;

/**
 * The oldest receipt day the event index keeps for a rollup on `today`: a copy received since
 * can be compared with every copy received within W before it, with a day to spare for batches
 * the rollup reads a day after they arrive. Older copies keep the verdict given when they were
 * first read (see `duplicates`).
 */
export function indexKeepFrom(today: string, windowHours: number): string {
  return addDays(today, -(Math.ceil(windowHours / 24) + 1));
}

/** Checks a duplicate window setting, naming the bad value. */
export function checkDedupWindow(hours: number): number {
  if (!Number.isInteger(hours) || hours < 1 || hours > MAX_DEDUP_WINDOW_HOURS) {
    throw new TallyError(
      'invalid_config',
      `dedupWindowHours must be an integer from 1 to ${MAX_DEDUP_WINDOW_HOURS}, got ${hours}`,
    );
  }
  return hours;
}
