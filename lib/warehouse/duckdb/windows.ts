import { addDays, affectedDays, dayKey, dayNumber, MAU_DAYS, type ProjectDay, WAU_DAYS } from '../days.js';
import { type Db, dayRange, inDays, literal, pairsTable, projectDays } from './sql.js';

/** Affected days grouped into runs of consecutive days per project (one window query each). */
export function contiguousRanges(
  days: readonly ProjectDay[],
): Array<{ project: string; from: string; to: string }> {
  const ranges: Array<{ project: string; from: string; to: string }> = [];
  for (const d of days) {
    const last = ranges[ranges.length - 1];
    if (last && last.project === d.project && dayNumber(d.dt) === dayNumber(last.to) + 1) last.to = d.dt;
    else ranges.push({ project: d.project, from: d.dt, to: d.dt });
  }
  return ranges;
}

/**
 * Coverage instead of one distinct count per window: each active day of a user counts them in the
 * MAU of the next 30 days, up to (not including) their next active day, which starts a new
 * stretch; likewise 7 days for WAU and 1 for DAU. Summing +1 at each stretch's start and -1 at its
 * end, day by day, gives the exact number of distinct users of every window after one sort of the
 * (user, day) rows. These are the CTEs `days` and `changes (<keys>, day, d, w, m)` over `source`,
 * distinct rows of `(<keys>, user_hash, dt)`; each combination of the keys is counted apart.
 */
export function coverageChanges(source: string, keys: readonly string[] = []): string {
  const k = keys.map((key) => `${key}, `).join('');
  return `days AS (
      SELECT ${k}dt, lead(dt) OVER (PARTITION BY ${k}user_hash ORDER BY dt) AS next_dt FROM ${source}
    ),
    changes AS (
      SELECT ${k}dt AS day, 1 AS d, 1 AS w, 1 AS m FROM days
      UNION ALL SELECT ${k}dt + 1, -1, 0, 0 FROM days
      UNION ALL SELECT ${k}least(coalesce(next_dt, dt + ${WAU_DAYS}), dt + ${WAU_DAYS}), 0, -1, 0 FROM days
      UNION ALL SELECT ${k}least(coalesce(next_dt, dt + ${MAU_DAYS}), dt + ${MAU_DAYS}), 0, 0, -1 FROM days
    )`;
}

/**
 * `coverageChanges` over `source` (distinct `(value, user_hash, dt)`), then `running (value, day,
 * dau, wau, mau)`: each value's numbers from the day of each change on.
 */
export function runningByValue(source: string): string {
  return `${coverageChanges(source, ['value'])},
    running AS (
      SELECT value, day, sum(sum(d)) OVER w AS dau, sum(sum(w)) OVER w AS wau, sum(sum(m)) OVER w AS mau
      FROM changes GROUP BY value, day
      WINDOW w AS (PARTITION BY value ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )`;
}

/** dau/wau/mau of every day of a range, by coverage (`coverageChanges`). */
function windowsSql(range: { project: string; from: string; to: string }): string {
  const project = literal(range.project, 'project');
  const from = literal(range.from, 'date');
  const to = literal(range.to, 'date');
  return `INSERT INTO active_users
    WITH ${coverageChanges(
      `(SELECT user_hash, dt FROM daily_users WHERE project = ${project} AND dt BETWEEN ${from} - ${MAU_DAYS - 1} AND ${to})`,
    )},
    per_day AS (SELECT day, sum(d) AS d, sum(w) AS w, sum(m) AS m FROM changes GROUP BY day),
    calendar AS (
      SELECT CAST(day AS DATE) AS day FROM generate_series(CAST(${from} - ${MAU_DAYS - 1} AS TIMESTAMP), CAST(${to} AS TIMESTAMP), INTERVAL 1 DAY) g(day)
    ),
    running AS (
      SELECT c.day,
        sum(coalesce(p.d, 0)) OVER w AS dau,
        sum(coalesce(p.w, 0)) OVER w AS wau,
        sum(coalesce(p.m, 0)) OVER w AS mau
      FROM calendar c LEFT JOIN per_day p ON p.day = c.day
      WINDOW w AS (ORDER BY c.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )
    SELECT ${project}, day, dau, wau, mau, now() FROM running WHERE day BETWEEN ${from} AND ${to}`;
}

/** A single new day's numbers: three distinct counts over its windows, read by their days. */
function oneDaySql(day: ProjectDay): string {
  const p = literal(day.project, 'project');
  const d = literal(day.dt, 'date');
  return `INSERT INTO active_users
    SELECT ${p}, ${d},
      count(DISTINCT user_hash) FILTER (WHERE dt = ${d}),
      count(DISTINCT user_hash) FILTER (WHERE dt > ${d} - ${WAU_DAYS}),
      count(DISTINCT user_hash), now()
    FROM daily_users WHERE project = ${p} AND dt BETWEEN ${d} - ${MAU_DAYS - 1} AND ${d}`;
}

/**
 * The numbers of a project's latest day (no person active after it): its persons are those whose
 * last active day it is, its week's and month's those whose last active day falls in them, three
 * counts of one column of `person_last` instead of a distinct count of the month's persons.
 * Writes nothing when a person is active after it.
 */
function latestDaySql(day: ProjectDay): string {
  const p = literal(day.project, 'project');
  const d = literal(day.dt, 'date');
  return `INSERT INTO active_users
    SELECT ${p}, ${d}, count(*) FILTER (WHERE last_dt = ${d}),
      count(*) FILTER (WHERE last_dt > ${d} - ${WAU_DAYS}), count(*) FILTER (WHERE last_dt > ${d} - ${MAU_DAYS}), now()
    FROM person_last WHERE project = ${p}
    HAVING coalesce(max(last_dt), ${d}) <= ${d}`;
}

/** The last day whose window holds `day`, up to today; null when that is before `day`. */
function horizon(day: ProjectDay, today: string): string | null {
  const last = Math.min(dayNumber(day.dt) + MAU_DAYS - 1, dayNumber(today));
  return last >= dayNumber(day.dt) ? addDays(day.dt, last - dayNumber(day.dt)) : null;
}

/** Whether a project has dau/wau/mau rows from `from` to `to`. */
async function hasRows(db: Db, project: string, from: string, to: string): Promise<boolean> {
  const [row] = await db.rows(
    `SELECT count(*) FROM active_users WHERE project = ${literal(project, 'project')}
     AND dt BETWEEN ${literal(from, 'date')} AND ${literal(to, 'date')}`,
  );
  return Number(row?.[0] ?? 0) > 0;
}

/** Whether rows exist for the days whose windows hold this day. */
async function hasWindowRows(db: Db, day: ProjectDay, today: string): Promise<boolean> {
  const last = horizon(day, today);
  return last !== null && hasRows(db, day.project, day.dt, last);
}

/** Deletes the persons of these days and their marks (`daily_users_gone`), before they are written again. */
async function clearDays(db: Db, days: readonly ProjectDay[]): Promise<void> {
  for (const table of ['daily_users_rows', 'daily_users_gone']) {
    await db.run(`DELETE FROM ${table} WHERE ${inDays(table, days)}`);
  }
}

/** Replaces the persons of these days with `new_users`'. */
async function replaceDays(db: Db, days: readonly ProjectDay[]): Promise<void> {
  await clearDays(db, days);
  await db.run(
    `INSERT INTO daily_users_rows SELECT n.project, n.dt, n.user_hash FROM new_users n
     JOIN ${pairsTable(days)} ON n.project = t.project AND n.dt = t.dt ORDER BY n.project, n.dt`,
  );
}

/** Applies the change of one day's user set to the existing rows of the windows holding it. */
async function correctWindows(db: Db, p: string, d: string, h: string): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TEMP TABLE day_diff AS
     SELECT user_hash, 1 AS sign FROM (
       SELECT user_hash FROM day_users EXCEPT SELECT user_hash FROM daily_users WHERE project = ${p} AND dt = ${d})
     UNION ALL
     SELECT user_hash, -1 AS sign FROM (
       SELECT user_hash FROM daily_users WHERE project = ${p} AND dt = ${d} EXCEPT SELECT user_hash FROM day_users)`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE day_around AS
     SELECT f.user_hash, f.sign,
       max(u.dt) FILTER (WHERE u.dt < ${d}) AS prev_dt,
       min(u.dt) FILTER (WHERE u.dt > ${d}) AS next_dt
     FROM day_diff f LEFT JOIN daily_users u
       ON u.user_hash = f.user_hash AND u.project = ${p}
      AND u.dt BETWEEN ${d} - ${MAU_DAYS - 1} AND ${d} + ${MAU_DAYS - 1} AND u.dt <> ${d}
     GROUP BY f.user_hash, f.sign`,
  );
  await db.run(
    `UPDATE active_users SET
       dau = dau + x.ddau, wau = wau + x.dwau, mau = mau + x.dmau, computed_at = now()
     FROM (
       SELECT CAST(t.day AS DATE) AS day,
         coalesce(sum(a.sign) FILTER (WHERE CAST(t.day AS DATE) = ${d}), 0) AS ddau,
         coalesce(sum(a.sign) FILTER (WHERE CAST(t.day AS DATE) <= ${d} + ${WAU_DAYS - 1}
           AND (a.prev_dt IS NULL OR a.prev_dt < CAST(t.day AS DATE) - ${WAU_DAYS - 1})
           AND (a.next_dt IS NULL OR a.next_dt > CAST(t.day AS DATE))), 0) AS dwau,
         coalesce(sum(a.sign) FILTER (WHERE (a.prev_dt IS NULL OR a.prev_dt < CAST(t.day AS DATE) - ${MAU_DAYS - 1})
           AND (a.next_dt IS NULL OR a.next_dt > CAST(t.day AS DATE))), 0) AS dmau
       FROM generate_series(CAST(${d} AS TIMESTAMP), CAST(${h} AS TIMESTAMP), INTERVAL 1 DAY) t(day)
       CROSS JOIN day_around a
       GROUP BY t.day
     ) x
     WHERE active_users.project = ${p} AND active_users.dt = x.day`,
  );
}

/** Replaces one day's persons, correcting the existing rows of the windows that hold it. */
async function refreshDay(db: Db, day: ProjectDay, today: string): Promise<void> {
  const p = literal(day.project, 'project');
  const d = literal(day.dt, 'date');
  await db.run(
    `CREATE OR REPLACE TEMP TABLE day_users AS
     SELECT user_hash FROM new_users WHERE project = ${p} AND dt = ${d}`,
  );
  const last = horizon(day, today);
  if (last !== null) await correctWindows(db, p, d, literal(last, 'date'));
  await clearDays(db, [day]);
  await db.run(`INSERT INTO daily_users_rows SELECT ${p}, ${d}, user_hash FROM day_users ORDER BY user_hash`);
}

/**
 * The persons gained (+1) and lost (-1) by days read before, whose ids changed person
 * (`move_pairs`): an id's new person is gained where the day did not have it, its old person
 * lost where the day had it and no id active that day still maps to it (an id new to a day
 * appended to was never counted as its old person). Reads those ids' days and persons only.
 */
async function movedChanges(db: Db, days: readonly ProjectDay[]): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TEMP TABLE moved_pairs AS
     SELECT m.* FROM move_pairs m SEMI JOIN ${pairsTable(days)} ON m.project = t.project AND m.dt = t.dt`,
  );
  // The ids that map to each old person now: the ids it holds in people, and itself when it is
  // its own person.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE holders AS
     WITH olds AS (SELECT DISTINCT project, old_person FROM moved_pairs)
     SELECT p.project, p.person, p.id_hash FROM people p
       SEMI JOIN olds o ON p.project = o.project AND p.person = o.old_person
     UNION ALL
     SELECT o.project, o.old_person, o.old_person FROM olds o
       ANTI JOIN people p ON p.project = o.project AND p.id_hash = o.old_person`,
  );
  await db.run(
    `INSERT INTO day_changes
     SELECT DISTINCT m.project, m.dt, m.new_person, 1 FROM moved_pairs m
     ANTI JOIN (
       SELECT u.project, u.dt, u.user_hash FROM daily_users u
       SEMI JOIN (SELECT DISTINCT project, new_person FROM moved_pairs) n ON u.project = n.project AND u.user_hash = n.new_person
     ) u ON u.project = m.project AND u.dt = m.dt AND u.user_hash = m.new_person
     UNION ALL
     SELECT DISTINCT m.project, m.dt, m.old_person, -1 FROM moved_pairs m
     ANTI JOIN (
       SELECT d.project, d.dt, h.person FROM day_ids d JOIN holders h ON d.project = h.project AND d.id_hash = h.id_hash
     ) k ON k.project = m.project AND k.dt = m.dt AND k.person = m.old_person
     SEMI JOIN (
       SELECT u.project, u.dt, u.user_hash FROM daily_users u
       SEMI JOIN (SELECT DISTINCT project, old_person FROM moved_pairs) o ON u.project = o.project AND u.user_hash = o.old_person
     ) u ON u.project = m.project AND u.dt = m.dt AND u.user_hash = m.old_person`,
  );
}

/**
 * Applies `day_changes` to the existing dau/wau/mau rows, then to `daily_users`. For every
 * person changed and every existing row whose 30-day window holds one of that person's days, it
 * compares whether the person was active in the row's day, week and month before and after, so
 * several changed days of one person are counted once.
 */
async function applyChanges(db: Db): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TEMP TABLE person_days_old AS
     SELECT u.project, u.dt, u.user_hash FROM daily_users u
     SEMI JOIN (SELECT DISTINCT project, user_hash FROM day_changes) t ON u.project = t.project AND u.user_hash = t.user_hash
     WHERE u.dt BETWEEN (SELECT min(dt) FROM day_changes) - ${MAU_DAYS - 1} AND (SELECT max(dt) FROM day_changes) + ${MAU_DAYS - 1}`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE person_days_new AS
     (SELECT * FROM person_days_old EXCEPT SELECT project, dt, user_hash FROM day_changes WHERE sign = -1)
     UNION SELECT project, dt, user_hash FROM day_changes WHERE sign = 1`,
  );
  await db.run(
    `UPDATE active_users SET
       dau = dau + x.dd, wau = wau + x.dw, mau = mau + x.dm, computed_at = now()
     FROM (
       SELECT project, w, sum(nd - od) AS dd, sum(nw - ow) AS dw, sum(nm - om) AS dm FROM (
         SELECT x.project, x.user_hash, a.dt AS w,
           max(CASE WHEN x.after = 0 AND x.dt = a.dt THEN 1 ELSE 0 END) AS od,
           max(CASE WHEN x.after = 0 AND x.dt > a.dt - ${WAU_DAYS} THEN 1 ELSE 0 END) AS ow,
           max(CASE WHEN x.after = 0 THEN 1 ELSE 0 END) AS om,
           max(CASE WHEN x.after = 1 AND x.dt = a.dt THEN 1 ELSE 0 END) AS nd,
           max(CASE WHEN x.after = 1 AND x.dt > a.dt - ${WAU_DAYS} THEN 1 ELSE 0 END) AS nw,
           max(CASE WHEN x.after = 1 THEN 1 ELSE 0 END) AS nm
         FROM (SELECT 0 AS after, * FROM person_days_old UNION ALL SELECT 1, * FROM person_days_new) x
         JOIN active_users a ON a.project = x.project AND a.dt BETWEEN x.dt AND x.dt + ${MAU_DAYS - 1}
         GROUP BY x.project, x.user_hash, a.dt
       ) GROUP BY project, w
     ) x
     WHERE active_users.project = x.project AND active_users.dt = x.w`,
  );
  // A person lost is marked gone; a person gained is unmarked where they were marked, else added.
  await db.run(`INSERT INTO daily_users_gone SELECT project, dt, user_hash FROM day_changes WHERE sign = -1`);
  await db.run(
    `CREATE OR REPLACE TEMP TABLE regained AS
     SELECT g.* FROM daily_users_gone g
     SEMI JOIN (SELECT * FROM day_changes WHERE sign = 1) c
       ON g.project = c.project AND g.dt = c.dt AND g.user_hash = c.user_hash`,
  );
  await db.run(
    `DELETE FROM daily_users_gone USING regained r
     WHERE daily_users_gone.project = r.project AND daily_users_gone.dt = r.dt AND daily_users_gone.user_hash = r.user_hash`,
  );
  await db.run(
    `INSERT INTO daily_users_rows SELECT c.project, c.dt, c.user_hash FROM day_changes c
     ANTI JOIN regained r ON r.project = c.project AND r.dt = c.dt AND r.user_hash = c.user_hash
     WHERE c.sign = 1`,
  );
  await foldGone(db);
}

/** Deletes the rows marked gone, in one statement, once they are 1% of the rows. */
async function foldGone(db: Db): Promise<void> {
  const [row] = await db.rows(
    `SELECT (SELECT count(*) FROM daily_users_gone) * 100 > (SELECT count(*) FROM daily_users_rows)`,
  );
  if (row?.[0] !== true) return;
  await db.run(
    `DELETE FROM daily_users_rows USING daily_users_gone g
     WHERE daily_users_rows.project = g.project AND daily_users_rows.dt = g.dt AND daily_users_rows.user_hash = g.user_hash`,
  );
  await db.run(`DELETE FROM daily_users_gone`);
}

/** Each person's last active day (`person_last`) or first (`person_first`). */
const BOUNDS = {
  last: { table: 'person_last', column: 'last_dt', pick: 'max', beyond: '<' },
  first: { table: 'person_first', column: 'first_dt', pick: 'min', beyond: '>' },
} as const;

/**
 * Brings `person_last` or `person_first` up to date with the days just written: persons gaining
 * a day past their bound move it; a person losing the day that was their bound gets it again from
 * `daily_users` (rare: late identity links and erasures), or leaves the table when no day is left.
 */
async function updateBound(db: Db, bound: (typeof BOUNDS)[keyof typeof BOUNDS]): Promise<void> {
  const { table, column, pick, beyond } = bound;
  // Without a key index: DuckDB keeps an ART index whole in memory and writes all of it at every
  // checkpoint, a cost of every person ever seen; these joins read the new persons and the table.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE gained_bound AS
     SELECT project, user_hash, ${pick}(dt) AS dt FROM (
       SELECT project, dt, user_hash FROM new_users
       UNION ALL SELECT project, dt, user_hash FROM day_changes WHERE sign = 1
     ) GROUP BY project, user_hash`,
  );
  await db.run(
    `DELETE FROM ${table} USING gained_bound g
     WHERE ${table}.project = g.project AND ${table}.user_hash = g.user_hash AND ${table}.${column} ${beyond} g.dt`,
  );
  await db.run(
    `INSERT INTO ${table} SELECT g.project, g.user_hash, g.dt FROM gained_bound g
     ANTI JOIN ${table} l ON l.project = g.project AND l.user_hash = g.user_hash`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE lost_bound AS
     SELECT DISTINCT l.project, l.user_hash FROM ${table} l
     JOIN (
       SELECT project, dt, user_hash FROM lost_users
       UNION ALL SELECT project, dt, user_hash FROM day_changes WHERE sign = -1
     ) x ON x.project = l.project AND x.user_hash = l.user_hash AND x.dt = l.${column}`,
  );
  const [row] = await db.rows(`SELECT count(*) FROM lost_bound`);
  if (Number(row?.[0] ?? 0) === 0) return;
  await db.run(
    `DELETE FROM ${table} USING lost_bound x
     WHERE ${table}.project = x.project AND ${table}.user_hash = x.user_hash`,
  );
  await db.run(
    `INSERT INTO ${table} SELECT u.project, u.user_hash, ${pick}(u.dt) FROM daily_users u
     SEMI JOIN lost_bound x ON x.project = u.project AND x.user_hash = u.user_hash
     GROUP BY u.project, u.user_hash`,
  );
}

/**
 * Brings `person_last` and `person_first` up to date; what `person_first` held before for the
 * persons touched is left in `first_before` (new_vs_returning's corrections read it).
 */
async function updateBounds(db: Db): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TEMP TABLE first_before AS
     SELECT f.* FROM person_first f SEMI JOIN (
       SELECT project, user_hash FROM new_users UNION SELECT project, user_hash FROM lost_users
       UNION SELECT project, user_hash FROM day_changes
     ) t ON t.project = f.project AND t.user_hash = f.user_hash`,
  );
  await updateBound(db, BOUNDS.last);
  await updateBound(db, BOUNDS.first);
}

/**
 * The persons gained (+1) by days appended to (`grown`): the persons of the ids each gained
 * (`added_ids`, mapped by `people` as it now is) that it did not have. Reads those ids and
 * persons only, not the day's.
 */
async function grownChanges(db: Db, grown: readonly ProjectDay[]): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TEMP TABLE grown_users AS
     SELECT DISTINCT a.project, a.dt, coalesce(p.person, a.id_hash) AS user_hash FROM added_ids a
     SEMI JOIN ${pairsTable(grown)} ON a.project = t.project AND a.dt = t.dt
     LEFT JOIN people p ON p.project = a.project AND p.id_hash = a.id_hash`,
  );
  await db.run(
    `INSERT INTO day_changes
     SELECT g.project, g.dt, g.user_hash, 1 FROM grown_users g
     ANTI JOIN (
       SELECT u.project, u.dt, u.user_hash FROM daily_users u
       SEMI JOIN grown_users g ON g.project = u.project AND g.dt = u.dt AND g.user_hash = u.user_hash
       WHERE u.dt ${dayRange(grown)}
       UNION ALL SELECT project, dt, user_hash FROM day_changes WHERE sign = 1
     ) u ON u.project = g.project AND u.dt = g.dt AND u.user_hash = g.user_hash`,
  );
}

/**
 * Brings the persons per day and dau/wau/mau up to date. A day appended to whose windows have
 * rows (`grown`) changes by the persons of the ids it gained and of its ids that changed person,
 * as a day not read changes by the latter: its persons are not read again. Other days read
 * (`scanned`: read whole, or without rows yet) get their persons from `day_ids` and `people`:
 * where dau/wau/mau rows already exist for the days whose windows hold such a day, they are
 * corrected by the persons who joined or left it (a person changes a window's count only
 * without another active day in that window), so a late event costs a lookup of the few persons
 * it adds, not a recount of 30 windows. Days not read whose ids changed person (`moved`) are
 * changed by those ids alone. Rows that do not exist yet are computed at the end: a lone new day
 * by three distinct counts, runs of days (a first build) by coverage. Returns the days whose rows
 * were written. Leaves each day's persons gained (+1) and lost (-1) in `person_changes`, and what
 * `person_first` held before in `first_before`.
 */
export async function updateWindows(
  db: Db,
  read: { scanned: readonly ProjectDay[]; appended: readonly ProjectDay[]; moved: readonly ProjectDay[] },
  today: string,
): Promise<ProjectDay[]> {
  const { scanned, appended, moved } = read;
  const appendedKeys = new Set(appended.map(dayKey));
  // Days with rows of their windows to correct (`corrected`; appended to: `grown`), and days whose
  // windows have no rows yet (first build, new days), replaced in bulk: their windows are
  // computed whole below, and they lie in no existing row's window.
  const grown: ProjectDay[] = [];
  const corrected: ProjectDay[] = [];
  const bulk: ProjectDay[] = [];
  for (const day of scanned) {
    if (!(await hasWindowRows(db, day, today))) bulk.push(day);
    else (appendedKeys.has(dayKey(day)) ? grown : corrected).push(day);
  }
  const rebuilt = [...corrected, ...bulk];
  const rebuiltKeys = new Set(rebuilt.map(dayKey));
  await db.run(
    `CREATE OR REPLACE TEMP TABLE new_users AS
     SELECT DISTINCT d.project, d.dt, coalesce(p.person, d.id_hash) AS user_hash
     FROM day_ids d JOIN ${pairsTable(rebuilt)} ON d.project = t.project AND d.dt = t.dt
     LEFT JOIN people p ON p.project = d.project AND p.id_hash = d.id_hash
     ${rebuilt.length > 0 ? `WHERE d.dt ${dayRange(rebuilt)}` : ''}`,
  );
  // The persons the days rebuilt lose, for their last active day.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE lost_users AS
     SELECT u.project, u.dt, u.user_hash FROM daily_users u
     SEMI JOIN ${pairsTable(rebuilt)} ON u.project = t.project AND u.dt = t.dt
     ${rebuilt.length > 0 ? `WHERE u.dt ${dayRange(rebuilt)}` : ''}
     EXCEPT SELECT project, dt, user_hash FROM new_users`,
  );
  // The persons each day gained and lost, where rows of its windows exist to correct.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE person_changes (project VARCHAR, dt DATE, user_hash BIGINT, sign INTEGER)`,
  );
  if (corrected.length > 0) {
    await db.run(
      `INSERT INTO person_changes
       SELECT project, dt, user_hash, 1 FROM (
         SELECT n.project, n.dt, n.user_hash FROM new_users n
         SEMI JOIN ${pairsTable(corrected)} ON n.project = t.project AND n.dt = t.dt
         EXCEPT SELECT u.project, u.dt, u.user_hash FROM daily_users u
         SEMI JOIN ${pairsTable(corrected)} ON u.project = t.project AND u.dt = t.dt
         WHERE u.dt ${dayRange(corrected)}
       )
       UNION ALL SELECT l.project, l.dt, l.user_hash, -1 FROM lost_users l
       SEMI JOIN ${pairsTable(corrected)} ON l.project = t.project AND l.dt = t.dt`,
    );
  }
  if (bulk.length > 0) await replaceDays(db, bulk);
  for (const day of corrected) await refreshDay(db, day, today);
  const movedOnly = moved.filter((d) => !rebuiltKeys.has(dayKey(d)));
  await db.run(
    `CREATE OR REPLACE TEMP TABLE day_changes (project VARCHAR, dt DATE, user_hash BIGINT, sign INTEGER)`,
  );
  if (movedOnly.length > 0) await movedChanges(db, movedOnly);
  if (grown.length > 0) await grownChanges(db, grown);
  const [changes] = await db.rows(`SELECT count(*) FROM day_changes`);
  if (Number(changes?.[0] ?? 0) > 0) await applyChanges(db);
  await db.run(`INSERT INTO person_changes SELECT project, dt, user_hash, sign FROM day_changes`);
  await updateBounds(db);
  const windows = affectedDays([...scanned, ...movedOnly], today);
  if (windows.length > 0) {
    const missing = projectDays(
      await db.rows(
        `SELECT t.project, strftime(t.dt, '%Y-%m-%d') FROM ${pairsTable(windows)}
         ANTI JOIN active_users a ON a.project = t.project AND a.dt = t.dt ORDER BY 1, 2`,
      ),
    );
    for (const range of contiguousRanges(missing)) {
      if (range.from !== range.to) {
        await db.run(windowsSql(range));
        continue;
      }
      const day = { project: range.project, dt: range.from };
      await db.run(latestDaySql(day));
      if (!(await hasRows(db, day.project, day.dt, day.dt))) await db.run(oneDaySql(day));
    }
  }
  return windows;
}
