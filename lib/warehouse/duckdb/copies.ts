import { LAKE_DIMENSIONS } from '../breakdowns.js';
import { dayKey, type ProjectDay, uniqueProjectDays } from '../days.js';
import { BOT, ROW_ID } from '../people.js';
import {
  type Db,
  dayFiles,
  EMPTY_EVENTS,
  type LakeFile,
  lakeRows,
  literal,
  pairsTable,
  sqlPath,
} from './sql.js';

export interface CopyOptions {
  lakeRoot: string;
  /** Rule 0: the predicate of lake rows that count (`countedRows`). */
  counted: string;
  /** Read every file of the days again, not only those new since they were read. */
  reread: boolean;
  /** Called with the days read and when their files were listed (before). */
  onRead(days: readonly ProjectDay[], listedAt: number): Promise<void>;
}

/** The lake columns a refresh uses; files written before the alias columns existed read them as null. */
const COUNTED_COLUMNS = `project, dt, type, received_at, event_time, user_hash, anonymous_hash, previous_user_hash,
  previous_anonymous_hash, ${LAKE_DIMENSIONS.join(', ')}`;

/**
 * Reads what is new of these days: rule 1 needs no verdict (copies of an event name the same
 * person on the same day, which counts them once), so a day whose files read before are all still
 * there as they were read (`day_files`) is **appended to**: only its files new since are read,
 * and what they add is merged into the day's rows. A day read for the first time, or whose files
 * were replaced or rewritten since (compaction, erasure, a retried batch writing its file again),
 * or every day with `reread`, is read whole and its rows replaced. A day in append mode with no new
 * file is left out: nothing of it changed.
 *
 * Leaves `counted` (the rows read that rule 0 counts, every lake column a refresh uses),
 * `scan_days` (the days read), `append_days` and `whole_days` (their two kinds); brings
 * `bot_days`, `bot_ids` and `day_files` up to date. Returns the days read, those of them
 * appended to, and the files read.
 */
export async function readCounted(
  db: Db,
  requested: readonly ProjectDay[],
  options: CopyOptions,
): Promise<{ days: ProjectDay[]; appended: ProjectDay[]; filesRead: number }> {
  const candidates = uniqueProjectDays(requested);
  const listedAt = Date.now();
  const recorded = new Map<string, Map<string, string>>();
  if (candidates.length > 0 && !options.reread) {
    for (const [project, dt, file, version] of await db.rows(
      `SELECT f.project, strftime(f.dt, '%Y-%m-%d'), f.file, f.version FROM day_files f
       SEMI JOIN (SELECT * FROM ${pairsTable(candidates)}) d ON d.project = f.project AND d.dt = f.dt`,
    )) {
      const key = `${project}/${dt}`;
      if (!recorded.has(key)) recorded.set(key, new Map());
      recorded.get(key)!.set(String(file), String(version));
    }
  }
  const whole: ProjectDay[] = [];
  const append: ProjectDay[] = [];
  const reads: Array<{ day: ProjectDay; files: LakeFile[] }> = [];
  for (const day of candidates) {
    const listed = await dayFiles(options.lakeRoot, day.project, day.dt);
    const before = recorded.get(dayKey(day));
    const versions = new Map(listed.map((f) => [f.name, f.version]));
    const appendable =
      before !== undefined && [...before].every(([name, version]) => versions.get(name) === version);
    if (!appendable) {
      whole.push(day);
      reads.push({ day, files: listed });
      continue;
    }
    const fresh = listed.filter((f) => !before.has(f.name));
    if (fresh.length === 0) continue;
    append.push(day);
    reads.push({ day, files: fresh });
  }
  const days = [...whole, ...append];
  await options.onRead(days, listedAt);
  await db.run(`CREATE OR REPLACE TEMP TABLE scan_days AS SELECT * FROM ${pairsTable(days)}`);
  await db.run(`CREATE OR REPLACE TEMP TABLE whole_days AS SELECT * FROM ${pairsTable(whole)}`);
  await db.run(`CREATE OR REPLACE TEMP TABLE append_days AS SELECT * FROM ${pairsTable(append)}`);
  const paths = reads.flatMap(({ files }) => files.map((f) => f.path));
  const source = paths.length > 0 ? lakeRows(paths) : `(${EMPTY_EVENTS})`;
  await db.run(
    `CREATE OR REPLACE TEMP TABLE counted AS SELECT ${COUNTED_COLUMNS} FROM ${source} WHERE ${options.counted}`,
  );
  // Rule 0's rows, counted apart: the bots' ids of each day kept, so a day appended to counts
  // its distinct bots with those of the files read before.
  await db.run(
    `DELETE FROM bot_ids USING whole_days d WHERE bot_ids.project = d.project AND bot_ids.dt = d.dt`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE new_bots AS SELECT project, dt, ${ROW_ID} AS id_hash FROM ${source} WHERE ${BOT}`,
  );
  await db.run(
    `INSERT INTO bot_ids SELECT DISTINCT n.project, n.dt, n.id_hash FROM new_bots n
     WHERE n.id_hash IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM bot_ids b WHERE b.project = n.project AND b.dt = n.dt AND b.id_hash = n.id_hash)`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE bots_now AS
     SELECT s.project, s.dt,
       coalesce((SELECT count(*) FROM new_bots n WHERE n.project = s.project AND n.dt = s.dt), 0)
         + CASE WHEN a.project IS NULL THEN 0
                ELSE coalesce((SELECT b.events FROM bot_days b WHERE b.project = s.project AND b.dt = s.dt), 0) END AS events,
       (SELECT count(*) FROM bot_ids i WHERE i.project = s.project AND i.dt = s.dt) AS ids
     FROM scan_days s LEFT JOIN append_days a ON a.project = s.project AND a.dt = s.dt`,
  );
  await db.run(
    `DELETE FROM bot_days USING scan_days d WHERE bot_days.project = d.project AND bot_days.dt = d.dt`,
  );
  await db.run(`INSERT INTO bot_days SELECT project, dt, events, ids FROM bots_now WHERE events > 0`);
  // What was read, so the next refresh of these days reads only what is new.
  await db.run(
    `DELETE FROM day_files USING whole_days d WHERE day_files.project = d.project AND day_files.dt = d.dt`,
  );
  const rows = reads.flatMap(({ day, files }) =>
    files.map(
      (f) =>
        `(${literal(day.project, 'project')}, ${literal(day.dt, 'date')}, ${sqlPath(f.name)}, ${sqlPath(f.version)})`,
    ),
  );
  for (let i = 0; i < rows.length; i += 1000)
    await db.run(`INSERT INTO day_files VALUES ${rows.slice(i, i + 1000).join(', ')}`);
  return { days, appended: append, filesRead: paths.length };
}
