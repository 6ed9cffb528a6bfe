import { LAKE_DIMENSIONS } from '../breakdowns.js';
import { type ProjectDay, uniqueProjectDays } from '../days.js';
import { BOT, ROW_ID } from '../people.js';
import { date, EPOCH, markers, marks, pairsOf, type Run, refreshPartitions } from './sql.js';

/** Where a refresh or a live scan reads the lake and the event index. */
export interface CopyOptions {
  db: string;
  /** The external catalog's events table. */
  events: string;
  windowHours: number;
  /** The event index's horizon (`indexKeepFrom`), as `YYYY-MM-DD`. */
  keepFrom: string;
  /** Rule 0: the predicate of lake rows that count (`countedRows`). */
  counted: string;
}

const COPY = 'dt, project, digest, received_at, event_time, user_hash, anonymous_hash';
const PAYLOAD = `type, previous_user_hash, previous_anonymous_hash, ${LAKE_DIMENSIONS.join(', ')}`;
const ORDER = 'received_at, event_time, coalesce(user_hash, -1), coalesce(anonymous_hash, -1)';

/**
 * The external table's partitions of these days that a refresh reads: those the rollup was
 * handed, and every project's partition of those days read before (its ids, bots or duplicates
 * are in `day_ids`, `bot_days`, `duplicates`).
 * They are refreshed before the read: compaction and erasure replace files that the catalog's
 * cached file lists would still name.
 */
async function refreshDays(
  run: Run,
  options: CopyOptions,
  dts: readonly string[],
  known: readonly ProjectDay[],
  refreshed: Set<string>,
): Promise<void> {
  // Every partition of these days read before leaves a trace in one of these: its ids, its bots
  // (a day of bots only has no ids), or its duplicates (nor has a day of resent copies only).
  const seen = pairsOf(
    await run(
      ['day_ids', 'bot_days', 'duplicates']
        .map(
          (table) => `SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM ${options.db}.${table}
WHERE dt IN (${marks(dts)}) AND project <> ''`,
        )
        .join('\nUNION '),
      [...dts, ...dts, ...dts],
    ),
  );
  const names = uniqueProjectDays([...known.filter((d) => dts.includes(d.dt)), ...seen])
    .map((d) => `project=${d.project}/dt=${d.dt}`)
    .filter((name) => !refreshed.has(name));
  await refreshPartitions(run, options.events, names);
  // A partition the metastore lacks is not asked for again either: it reads as empty.
  for (const name of names) refreshed.add(name);
}

/**
 * Reads these days of the lake (every project's) and judges each copy by rule 1 of people.ts:
 * a duplicate when a copy of its event was received within W before it (in these days, or in
 * the event index's days), or when it was found one before and is too old for the index to tell
 * again. Days holding an indexed copy whose verdict this changes are read too, until none is
 * left. Leaves the verdicts in `refresh_verdicts` and returns the days read. Writes nothing else:
 * `recordCopies` does, once the refresh's other writes are done.
 */
export async function judgeCopies(
  run: Run,
  options: CopyOptions,
  requested: readonly ProjectDay[],
): Promise<string[]> {
  const { db } = options;
  const refreshed = new Set<string>();
  const known: ProjectDay[] = [...requested];
  let dts = [...new Set(requested.map((d) => d.dt))].sort();
  const horizon = `${options.keepFrom} 00:00:00`;
  const within = `INTERVAL ${options.windowHours} HOUR`;
  for (;;) {
    await refreshDays(run, options, dts, known, refreshed);
    // The lake's rows of these days, read once; copies alike kept once.
    await run(
      `INSERT OVERWRITE ${db}.refresh_rows (${COPY}, ${PAYLOAD})
SELECT ${COPY}, ${PAYLOAD} FROM (
  SELECT CAST(dt AS DATE) AS dt, project, md5sum_numeric(event_id) AS digest, received_at, event_time,
    user_hash, anonymous_hash, ${PAYLOAD},
    row_number() OVER (PARTITION BY project, dt, event_id, received_at, event_time, user_hash, anonymous_hash
      ORDER BY type, previous_user_hash, previous_anonymous_hash) AS alike
  FROM ${options.events} WHERE dt IN (${marks(dts)}) AND ${options.counted}
) l WHERE alike = 1`,
      dts,
    );
    // Each copy's previous copy (in these days, or indexed on another day of the index), and the
    // verdict found before: in `duplicates` for a copy read, in the index for an indexed one.
    await run(
      `INSERT OVERWRITE ${db}.refresh_verdicts (${COPY}, scanned, duplicate, recorded, ${PAYLOAD})
SELECT ${COPY}, scanned,
  (previous_at IS NOT NULL AND previous_at >= received_at - ${within})
    OR (received_at - ${within} < ? AND recorded) AS duplicate,
  recorded, ${PAYLOAD}
FROM (
  SELECT x.*, lag(received_at) OVER (PARTITION BY project, digest ORDER BY ${ORDER}) AS previous_at
  FROM (
    SELECT s.dt, s.project, s.digest, s.received_at, s.event_time, s.user_hash, s.anonymous_hash, true AS scanned,
      r.digest IS NOT NULL AS recorded, ${PAYLOAD.split(', ')
        .map((c) => `s.${c}`)
        .join(', ')}
    FROM ${db}.refresh_rows s
    LEFT JOIN (SELECT * FROM ${db}.duplicates WHERE dt IN (${marks(dts)}) AND project <> '') r
      ON r.dt = s.dt AND r.project = s.project AND r.digest = s.digest
      AND r.received_at = s.received_at AND r.event_time = s.event_time
      AND coalesce(r.user_hash, -1) = coalesce(s.user_hash, -1)
      AND coalesce(r.anonymous_hash, -1) = coalesce(s.anonymous_hash, -1)
    UNION ALL
    SELECT i.dt, i.project, i.digest, i.received_at, i.event_time, i.user_hash, i.anonymous_hash, false,
      i.duplicate, ${PAYLOAD.split(', ')
        .map(() => 'NULL')
        .join(', ')}
    FROM ${db}.event_index i
    JOIN (
      SELECT project, digest FROM ${db}.refresh_rows
      UNION SELECT project, digest FROM ${db}.event_index WHERE received_day >= ? AND dt IN (${marks(dts)})
    ) k ON k.project = i.project AND k.digest = i.digest
    WHERE i.received_day >= ? AND i.dt NOT IN (${marks(dts)})
  ) x
) c`,
      [horizon, ...dts, options.keepFrom, ...dts, options.keepFrom, ...dts],
    );
    const flipped = pairsOf(
      await run(
        `SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM ${db}.refresh_verdicts
WHERE NOT scanned AND duplicate <> recorded`,
      ),
    );
    known.push(...flipped);
    const more = [...new Set([...dts, ...flipped.map((f) => date(f.dt))])].sort();
    if (more.length === dts.length) return dts;
    dts = more;
  }
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

/**
 * Writes the verdicts of `refresh_verdicts`: the duplicates of the days read (their partitions
 * replaced whole), and the copies received since the index's horizon in place of the index's
 * rows of those days.
 */
export async function recordCopies(run: Run, options: CopyOptions, dts: readonly string[]): Promise<void> {
  const { db } = options;
  await run(
    `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${db}.duplicates (${COPY})
SELECT ${COPY} FROM ${db}.refresh_verdicts WHERE scanned AND duplicate
UNION ALL ${markers(dts, `'', 0, ${EPOCH}, ${EPOCH}, NULL, NULL`)}`,
    dts,
  );
  await run(`DELETE FROM ${db}.event_index WHERE received_day >= ? AND dt IN (${marks(dts)})`, [
    options.keepFrom,
    ...dts,
  ]);
  await run(
    `INSERT INTO ${db}.event_index (received_day, ${COPY}, duplicate)
SELECT CAST(received_at AS DATE), ${COPY}, duplicate FROM ${db}.refresh_verdicts
WHERE scanned AND received_at >= ?`,
    [`${options.keepFrom} 00:00:00`],
  );
}
