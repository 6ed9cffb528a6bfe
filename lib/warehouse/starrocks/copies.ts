import { LAKE_DIMENSIONS } from '../breakdowns.js';
import { type ProjectDay, uniqueProjectDays } from '../days.js';
import { BOT, ROW_ID } from '../people.js';
import { markers, marks, pairsOf, type Run, refreshPartitions } from './sql.js';

/** Where a refresh or a live scan reads the lake. */
export interface CopyOptions {
  db: string;
  /** The external catalog's events table. */
  events: string;
  /** Rule 0: the predicate of lake rows that count (`countedRows`). */
  counted: string;
}

/** The lake columns a refresh reads, as `refresh_rows` holds them. */
const COUNTED = `dt, project, received_at, event_time, user_hash, anonymous_hash, type, previous_user_hash,
  previous_anonymous_hash, ${LAKE_DIMENSIONS.join(', ')}`;

/**
 * The external table's partitions of these days that a refresh reads: those the rollup was
 * handed, and every project's partition of those days read before (its ids or bots are in
 * `day_ids`, `bot_days`).
 * They are refreshed before the read: compaction and erasure replace files that the catalog's
 * cached file lists would still name.
 */
async function refreshDays(
  run: Run,
  options: CopyOptions,
  dts: readonly string[],
  known: readonly ProjectDay[],
): Promise<void> {
  // Every partition of these days read before leaves a trace in one of these: its ids, or its
  // bots (a day of bots only has no ids).
  const seen = pairsOf(
    await run(
      ['day_ids', 'bot_days']
        .map(
          (table) => `SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM ${options.db}.${table}
WHERE dt IN (${marks(dts)}) AND project <> ''`,
        )
        .join('\nUNION '),
      [...dts, ...dts],
    ),
  );
  const names = uniqueProjectDays([...known.filter((d) => dts.includes(d.dt)), ...seen]).map(
    (d) => `project=${d.project}/dt=${d.dt}`,
  );
  await refreshPartitions(run, options.events, names);
}

/**
 * Reads these days of the lake (every project's) into `refresh_rows`: the rows rule 0 counts, as
 * they are (rule 1 needs no verdict: copies of an event name the same person on the same day,
 * which counts them once). Returns the days read.
 */
export async function readCounted(
  run: Run,
  options: CopyOptions,
  requested: readonly ProjectDay[],
): Promise<string[]> {
  const dts = [...new Set(requested.map((d) => d.dt))].sort();
  await refreshDays(run, options, dts, requested);
  await run(
    `INSERT OVERWRITE ${options.db}.refresh_rows (${COUNTED})
SELECT CAST(dt AS DATE), ${COUNTED.replace('dt, ', '')}
FROM ${options.events} WHERE dt IN (${marks(dts)}) AND ${options.counted}`,
    dts,
  );
  return dts;
}

/**
 * Counts rule 0's rows apart: the bots' rows and distinct ids of the days read, every project's
 * partition of them replaced whole (a marker row where none is left).
 */
export async function recordBots(run: Run, options: CopyOptions, dts: readonly string[]): Promise<void> {
  const { db } = options;
  await run(
    `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${db}.bot_days (dt, project, events, ids)
SELECT CAST(dt AS DATE), project, count(*), count(DISTINCT ${ROW_ID})
FROM ${options.events} WHERE dt IN (${marks(dts)}) AND ${BOT}
GROUP BY dt, project
UNION ALL ${markers(dts, `'', 0, 0`)}`,
    [...dts, ...dts],
  );
}
