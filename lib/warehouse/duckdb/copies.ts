import { join } from 'node:path';
import { LAKE_DIMENSIONS } from '../breakdowns.js';
import { type ProjectDay, uniqueProjectDays } from '../days.js';
import { BOT, ROW_ID } from '../people.js';
import {
  COPY_ORDER,
  type Db,
  dayStart,
  deleteReadDays,
  EMPTY_EVENTS,
  hasParquet,
  inDays,
  lakeRows,
  pairsTable,
  projectDays,
  windowInterval,
} from './sql.js';

export interface CopyOptions {
  lakeRoot: string;
  /** W of rule 1 (people.ts). */
  windowHours: number;
  /** The event index's horizon (`indexKeepFrom`): older receipt days are dropped. */
  keepFrom: string;
  /** Rule 0: the predicate of lake rows that count (`countedRows`). */
  counted: string;
  /** Called with the days about to be read, before their files are listed. */
  onRead(days: readonly ProjectDay[]): Promise<void>;
}

/** Columns a refresh reads; files written before the alias columns existed read them as null. */
const SCAN_COLUMNS = `project, dt, md5_number(event_id) AS digest, type, received_at, event_time, user_hash,
  anonymous_hash, previous_user_hash, previous_anonymous_hash, ${LAKE_DIMENSIONS.join(', ')}`;
const COPY = 'project, dt, digest, received_at, event_time, user_hash, anonymous_hash';

/** The same copy in two tables (a copy is its day, digest and the four values that order it). */
function sameCopy(a: string, b: string): string {
  return `${a}.project = ${b}.project AND ${a}.dt = ${b}.dt AND ${a}.digest = ${b}.digest
    AND ${a}.received_at = ${b}.received_at AND ${a}.event_time = ${b}.event_time
    AND coalesce(${a}.user_hash, -1) = coalesce(${b}.user_hash, -1)
    AND coalesce(${a}.anonymous_hash, -1) = coalesce(${b}.anonymous_hash, -1)`;
}

/**
 * Reads these days' files and judges each copy by rule 1: a duplicate when a copy of its event
 * was received within W before it (in these days, or in the event index), or when it was found
 * one before and is too old for the index to tell again. Days holding an indexed copy whose
 * verdict this changes are read too, until none is left. Leaves `counted` (the counted copies of
 * the days read, every lake column a refresh uses) and `scan_days`; updates `duplicates` and the
 * event index, and drops the index's rows older than its horizon. Returns the days read.
 */
export async function judgeCopies(
  db: Db,
  requested: readonly ProjectDay[],
  options: CopyOptions,
): Promise<ProjectDay[]> {
  const within = windowInterval(options.windowHours);
  const horizon = dayStart(options.keepFrom);
  let days = uniqueProjectDays(requested);
  let globs: string[];
  for (;;) {
    await options.onRead(days);
    globs = days
      .map((d) => join(options.lakeRoot, 'events', `project=${d.project}`, `dt=${d.dt}`))
      // A day whose files were all removed reads as empty (a glob matching nothing fails).
      .filter((dir) => hasParquet(dir))
      .map((dir) => join(dir, '*.parquet'));
    await db.run(`CREATE OR REPLACE TEMP TABLE scan_days AS SELECT * FROM ${pairsTable(days)}`);
    // Copies identical in all that orders them are one copy.
    await db.run(
      `CREATE OR REPLACE TEMP TABLE scan AS SELECT * FROM (
         SELECT ${SCAN_COLUMNS} FROM ${globs.length > 0 ? lakeRows(globs) : `(${EMPTY_EVENTS})`} WHERE ${options.counted}
       ) QUALIFY row_number() OVER (PARTITION BY ${COPY}
         ORDER BY type, previous_user_hash, previous_anonymous_hash) = 1`,
    );
    // Indexed copies of other days that share an event with a copy of these days, read now or
    // before (a copy gone from a day can change the verdict of another's). The verdicts recorded
    // for other days' copies are the index's own rows: `duplicates` is read for these days only.
    await db.run(
      `CREATE OR REPLACE TEMP TABLE others AS
       SELECT i.* FROM event_index i
       SEMI JOIN (
         SELECT project, digest FROM scan
         UNION ALL SELECT e.project, e.digest FROM event_index e WHERE ${inDays('e', days)}
       ) k ON i.project = k.project AND i.digest = k.digest
       WHERE NOT ${inDays('i', days)}`,
    );
    await db.run(
      `CREATE OR REPLACE TEMP TABLE verdicts AS
       SELECT c.*, r.digest IS NOT NULL AS recorded,
         (c.previous_copy_at IS NOT NULL AND c.previous_copy_at >= c.received_at - ${within})
           OR (c.received_at - ${within} < ${horizon} AND r.digest IS NOT NULL) AS duplicate
       FROM (
         SELECT *, lag(received_at) OVER (PARTITION BY project, digest ORDER BY ${COPY_ORDER}) AS previous_copy_at
         FROM (
           SELECT *, true AS scanned FROM scan
           UNION ALL BY NAME SELECT *, false AS scanned FROM others
         )
       ) c
       LEFT JOIN (SELECT * FROM duplicates WHERE ${inDays('duplicates', days)}) r ON ${sameCopy('r', 'c')}`,
    );
    const flipped = projectDays(
      await db.rows(
        `SELECT DISTINCT project, strftime(dt, '%Y-%m-%d') FROM verdicts WHERE NOT scanned AND duplicate <> recorded`,
      ),
    );
    const more = uniqueProjectDays([...days, ...flipped]);
    if (more.length === days.length) break;
    days = more;
  }
  // Rule 0's rows, counted apart for the days read (their four columns read again).
  await db.run(deleteReadDays('bot_days'));
  if (globs.length > 0) {
    await db.run(
      `INSERT INTO bot_days SELECT project, dt, count(*), count(DISTINCT ${ROW_ID})
       FROM ${lakeRows(globs)} WHERE ${BOT} GROUP BY project, dt`,
    );
  }
  await db.run(deleteReadDays('duplicates'));
  await db.run(`INSERT INTO duplicates SELECT ${COPY} FROM verdicts WHERE scanned AND duplicate`);
  await db.run(deleteReadDays('event_index'));
  await db.run(
    `INSERT INTO event_index SELECT ${COPY} FROM scan WHERE received_at >= ${horizon} ORDER BY received_at`,
  );
  await db.run(`DELETE FROM event_index WHERE received_at < ${horizon}`);
  await db.run(
    `CREATE OR REPLACE TEMP TABLE counted AS
     SELECT project, dt, type, received_at, event_time, user_hash, anonymous_hash, previous_user_hash,
       previous_anonymous_hash, ${LAKE_DIMENSIONS.join(', ')}
     FROM verdicts WHERE scanned AND NOT duplicate`,
  );
  return days;
}
