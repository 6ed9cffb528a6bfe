import { TallyError } from '../errors.js';
import { PROJECT_ID_PATTERN } from '../ingest/limits.js';
import { LAKE_DIMENSIONS } from './breakdowns.js';

/**
 * Who counts as one person. Both engines apply these rules; `test/helpers/brute.ts` applies them
 * again by brute force.
 *
 * 0. **Bots count nowhere.** Rows the lake flags `bot` (a crawler's or a headless browser's user
 *    agent, `enrich/agent.ts`) are kept in the lake and left out of everything below: they are no
 *    copy, no identity evidence and no activity. Rows without the flag (written before it, or
 *    without a user agent) count. A project whose setting `countBots` is true counts them too.
 * 1. **Copies count once per event day, by construction.** A row counts on its event's UTC day
 *    (`dt`). Copies of an event (rows of a project and day with the same `event_id` and sender)
 *    name the same person on the same day, and a person active on a day is counted once however
 *    many rows they sent: no copy has to be found to count people, and the rollup keeps no index
 *    of events. A copy landing on another day (a resend whose corrected time crossed midnight)
 *    counts on that day too; a row reusing another sender's `event_id` is another event; copies
 *    that differ in a breakdown column (a resend from an address in another country) give the
 *    person each value. The `events` view and compaction keep one row of the rows of a day alike
 *    in `event_id` and every column a count reads (`alikeColumns`): the earliest by `event_time`,
 *    then `received_at`; counted again, they give the same numbers.
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

/**
 * The columns that make rows of a project and day copies of one event (rule 1): its id and all a
 * count reads (sender, identity evidence, bot flag, the breakdowns' columns).
 */
export function alikeColumns(): string[] {
  // A function: breakdowns.ts imports this module, so its dimensions are read when called.
  return [
    'event_id',
    'type',
    'user_hash',
    'anonymous_hash',
    'previous_user_hash',
    'previous_anonymous_hash',
    'bot',
    ...LAKE_DIMENSIONS,
  ];
}

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
 * Where a removed setting of the duplicate window (rule 1 before copies counted once per event
 * day) is still given: what to tell the operator.
 */
export function dedupWindowGone(value: string): string {
  return `is no longer read (got ${JSON.stringify(value).slice(0, 20)}): copies of an event count once per event day, with no window (docs/active-users.md); remove it`;
}
