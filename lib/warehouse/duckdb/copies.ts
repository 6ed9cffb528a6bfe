import { join } from 'node:path';
import { LAKE_DIMENSIONS } from '../breakdowns.js';
import { type ProjectDay, uniqueProjectDays } from '../days.js';
import { BOT, ROW_ID } from '../people.js';
import { type Db, deleteReadDays, EMPTY_EVENTS, hasParquet, lakeRows, pairsTable } from './sql.js';

export interface CopyOptions {
  lakeRoot: string;
  /** Rule 0: the predicate of lake rows that count (`countedRows`). */
  counted: string;
  /** Called with the days about to be read, before their files are listed. */
  onRead(days: readonly ProjectDay[]): Promise<void>;
}

/** The lake columns a refresh uses; files written before the alias columns existed read them as null. */
const COUNTED_COLUMNS = `project, dt, type, received_at, event_time, user_hash, anonymous_hash, previous_user_hash,
  previous_anonymous_hash, ${LAKE_DIMENSIONS.join(', ')}`;

/**
 * Reads these days' files: rule 1 needs no verdict (copies of an event name the same person on
 * the same day, which counts them once), so every row rule 0 counts is kept as it is. Leaves
 * `counted` (those rows, every lake column a refresh uses) and `scan_days`, and replaces the
 * days' bots' rows and ids in `bot_days`. Returns the days read.
 */
export async function readCounted(
  db: Db,
  requested: readonly ProjectDay[],
  options: CopyOptions,
): Promise<ProjectDay[]> {
  const days = uniqueProjectDays(requested);
  await options.onRead(days);
  const globs = days
    .map((d) => join(options.lakeRoot, 'events', `project=${d.project}`, `dt=${d.dt}`))
    // A day whose files were all removed reads as empty (a glob matching nothing fails).
    .filter((dir) => hasParquet(dir))
    .map((dir) => join(dir, '*.parquet'));
  await db.run(`CREATE OR REPLACE TEMP TABLE scan_days AS SELECT * FROM ${pairsTable(days)}`);
  await db.run(
    `CREATE OR REPLACE TEMP TABLE counted AS SELECT ${COUNTED_COLUMNS}
     FROM ${globs.length > 0 ? lakeRows(globs) : `(${EMPTY_EVENTS})`} WHERE ${options.counted}`,
  );
  // Rule 0's rows, counted apart for the days read (their four columns read again).
  await db.run(deleteReadDays('bot_days'));
  if (globs.length > 0) {
    await db.run(
      `INSERT INTO bot_days SELECT project, dt, count(*), count(DISTINCT ${ROW_ID})
       FROM ${lakeRows(globs)} WHERE ${BOT} GROUP BY project, dt`,
    );
  }
  return days;
}
