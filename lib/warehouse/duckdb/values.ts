import {
  DEFAULT_BREAKDOWN_LIMIT,
  DIMENSIONS,
  type Dimension,
  idValues,
  LAKE_DIMENSIONS,
  type LakeDimension,
  NEW,
  RETURNING,
  UNKNOWN,
} from '../breakdowns.js';
import { MAU_DAYS, type ProjectDay, WAU_DAYS } from '../days.js';
import { type Db, literal, pairsTable, projectDays, text } from './sql.js';
import { contiguousRanges, runningByValue } from './windows.js';

/**
 * The persons of each value of the dimensions per day, as the rollup leaves them, and the
 * dau/wau/mau per value it writes from them (`active_values`): a lake dimension's from each id's
 * values (`day_values`) mapped by `people`, `new_vs_returning`'s from `daily_users` and each
 * person's first day (`person_first`). For each lake dimension the rollup also keeps the
 * `STORED_TOP` values with the most persons in the month of the project's latest day
 * (`value_tops`), and the persons of all its other values together as the dimension
 * `other:<dimension>` (value ''): a breakdown showing those values reads its `other` too.
 */

/** How many values of a dimension the rollup keeps `other` for: the default limit of a breakdown. */
export const STORED_TOP = DEFAULT_BREAKDOWN_LIMIT;

/** How `active_values` names the dimension of a lake dimension's values not in `value_tops`. */
const OTHER = 'other:';

/** The dimension under which `active_values` holds the persons of a dimension's values not in `value_tops`. */
export function otherOf(dim: LakeDimension): string {
  return `${OTHER}${dim}`;
}

/** A person's new_vs_returning value on `day`, from their first day (none yet: new). */
function newOrReturning(day: string, first: string): string {
  return `CASE WHEN ${first} IS NULL OR ${day} <= ${first} THEN '${NEW}' ELSE '${RETURNING}' END`;
}

/**
 * `(project, id_hash, person)`: the ids of the persons in `persons` (a table or parenthesized
 * query of distinct `(project, user_hash)`): those `people` maps to them, and each one's own id
 * unless `people` maps it to another person.
 */
function personIds(persons: string): string {
  return `SELECT m.project, m.id_hash, m.person FROM people m
    SEMI JOIN ${persons} k ON k.project = m.project AND k.user_hash = m.person
    UNION ALL SELECT k.project, k.user_hash, k.user_hash FROM ${persons} k
    ANTI JOIN people m ON m.project = k.project AND m.id_hash = k.user_hash`;
}

/**
 * `(dt, value, user_hash)` of one dimension for a project's days from `start` to `end` (SQL
 * expressions); for a lake dimension with `persons` (as `personIds` takes them), only theirs.
 */
export function storedRows(by: Dimension, p: string, start: string, end: string, persons?: string): string {
  if (by === 'new_vs_returning') {
    return `SELECT u.dt, ${newOrReturning('u.dt', 'f.first_dt')} AS value, u.user_hash FROM daily_users u
      LEFT JOIN person_first f ON f.project = u.project AND f.user_hash = u.user_hash
      WHERE u.project = ${p} AND u.dt BETWEEN ${start} AND ${end}`;
  }
  if (persons === undefined) {
    return `SELECT v.dt, coalesce(v.${by}, '${UNKNOWN}') AS value, coalesce(m.person, v.id_hash) AS user_hash
      FROM day_values v LEFT JOIN people m ON m.project = v.project AND m.id_hash = v.id_hash
      WHERE v.project = ${p} AND v.dt BETWEEN ${start} AND ${end}`;
  }
  return `SELECT v.dt, coalesce(v.${by}, '${UNKNOWN}') AS value, i.person AS user_hash FROM day_values v
    JOIN (${personIds(persons)}) i ON i.project = v.project AND i.id_hash = v.id_hash
    WHERE v.project = ${p} AND v.dt BETWEEN ${start} AND ${end}`;
}

/**
 * `(dt, value, user_hash)` of one dimension in `live`, the judged rows of today's files not rolled
 * up yet (`LiveRows`); a person without a first day before today is new.
 */
export function liveRows(project: string, by: Dimension, live: string): string {
  if (by === 'new_vs_returning') {
    // person_first looked up for the live persons only (it holds every person ever seen).
    return `WITH l AS MATERIALIZED (SELECT DISTINCT dt, user_hash FROM ${live})
      SELECT l.dt, ${newOrReturning('l.dt', 'f.first_dt')} AS value, l.user_hash FROM l
      LEFT JOIN (
        SELECT user_hash, first_dt FROM person_first
        WHERE project = ${literal(project, 'project')} AND user_hash IN (SELECT user_hash FROM l)
      ) f ON f.user_hash = l.user_hash`;
  }
  return `SELECT dt, coalesce(${by}, '${UNKNOWN}') AS value, user_hash FROM ${live}`;
}

/**
 * Distinct `(project, dt, dim, value, user_hash)` of every lake dimension, and of each
 * dimension's values not in `value_tops` as `other:<dimension>`, from rows of `day_values`' columns
 * with `user_hash`.
 */
function unpivoted(rows: string): string {
  return `SELECT * FROM (
    WITH u AS (
      SELECT DISTINCT project, dt, dim, value, user_hash FROM (
        UNPIVOT (SELECT project, dt, user_hash, ${LAKE_DIMENSIONS.map((d) => `coalesce(${d}, '${UNKNOWN}') AS ${d}`).join(', ')} FROM (${rows}))
        ON ${LAKE_DIMENSIONS.join(', ')} INTO NAME dim VALUE value)
    )
    SELECT * FROM u
    UNION ALL SELECT DISTINCT project, dt, '${OTHER}' || dim, '', user_hash FROM u
    ANTI JOIN value_tops t ON t.project = u.project AND t.dim = u.dim AND t.value = u.value
  )`;
}

/** Distinct `(project, dt, dim, value, user_hash)` of every dimension (and `other:`) for a project's days from `start` to `end`. */
function everyDimension(p: string, start: string, end: string): string {
  return `${unpivoted(
    `SELECT v.*, coalesce(m.person, v.id_hash) AS user_hash
     FROM day_values v LEFT JOIN people m ON m.project = v.project AND m.id_hash = v.id_hash
     WHERE v.project = ${p} AND v.dt BETWEEN ${start} AND ${end}`,
  )}
  UNION ALL SELECT DISTINCT ${p}, dt, 'new_vs_returning', value, user_hash FROM (${storedRows('new_vs_returning', p, start, end)})`;
}

/**
 * `(dt, value, user_hash)` of a dimension, or of `other:<dimension>` (value ''), for a project's
 * days from `start` to `end`, distinct.
 */
function dimensionRows(dim: string, p: string, start: string, end: string): string {
  const lake = dim.startsWith(OTHER) ? dim.slice(OTHER.length) : null;
  if (lake === null)
    return `SELECT DISTINCT dt, value, user_hash FROM (${storedRows(dim as Dimension, p, start, end)})`;
  return `SELECT DISTINCT dt, '' AS value, user_hash FROM (${storedRows(lake as Dimension, p, start, end)})
    WHERE value NOT IN (SELECT value FROM value_tops WHERE project = ${p} AND dim = ${text(lake)})`;
}

/**
 * Inserts dau/wau/mau per value of `dim` (a dimension or `other:`) for a project's days
 * `from`-`to` (SQL dates) by coverage. A lake dimension with one value in those days' months (a
 * column the product never fills reads '' everywhere) has the totals' numbers under that value.
 */
async function insertCoverage(db: Db, p: string, dim: string, from: string, to: string): Promise<void> {
  if (dim === 'new_vs_returning') return insertNewAndReturning(db, p, from, to);
  if ((LAKE_DIMENSIONS as readonly string[]).includes(dim)) {
    const [row] = await db.rows(
      `SELECT count(DISTINCT coalesce(${dim}, '${UNKNOWN}')), min(coalesce(${dim}, '${UNKNOWN}')) FROM day_values
       WHERE project = ${p} AND dt BETWEEN ${from} - ${MAU_DAYS - 1} AND ${to}`,
    );
    if (Number(row?.[0]) === 1) {
      await db.run(
        `INSERT INTO active_values SELECT project, ${text(dim)}, ${text(String(row?.[1]))}, dt, dau, wau, mau
         FROM active_users WHERE project = ${p} AND dt BETWEEN ${from} AND ${to} AND mau > 0`,
      );
      return;
    }
  }
  await db.run(
    `INSERT INTO active_values
     WITH r AS MATERIALIZED (${dimensionRows(dim, p, `${from} - ${MAU_DAYS - 1}`, to)}),
     ${runningByValue('r')},
     calendar AS (
       SELECT CAST(g.day AS DATE) AS dt, k.value
       FROM generate_series(CAST(${from} AS TIMESTAMP), CAST(${to} AS TIMESTAMP), INTERVAL 1 DAY) g(day)
       CROSS JOIN (SELECT DISTINCT value FROM r) k
       SEMI JOIN active_users a ON a.project = ${p} AND a.dt = CAST(g.day AS DATE)
     )
     SELECT ${p}, ${text(dim)}, c.value, c.dt, x.dau, x.wau, x.mau
     FROM calendar c ASOF JOIN running x ON x.value = c.value AND x.day <= c.dt
     WHERE x.mau > 0`,
  );
}

/** Rows of `table` (with `project`, `dt`) on the days a refresh reads (`scan_days`). */
function onReadDays(table: string): string {
  return `SELECT v.* FROM ${table} v SEMI JOIN scan_days s ON v.project = s.project AND v.dt = s.dt`;
}

/** The columns of `day_values`, of the table `alias` when given. */
function valueColumns(alias?: string): string {
  return ['project', 'dt', 'id_hash', ...LAKE_DIMENSIONS]
    .map((c) => (alias ? `${alias}.${c}` : c))
    .join(', ');
}
const VALUE_COLUMNS = valueColumns();

/**
 * Brings the read days' `day_values` to the combinations of values of `counted` (a day read
 * whole: exactly those; a day appended to: those it had and these), writing only the difference
 * (`day_values_diff`, sign -1 for a row gone, 1 for a row new): a day appended to gains its few
 * new rows, found among the rows of the ids read (not all of the day's). Keeps the rows of the
 * days read whole as they were (`old_day_values`) and the days of their projects that had
 * dau/wau/mau rows (`rolled_before`: those a refresh corrects rather than computes; identity is
 * per project, so no other project's days change).
 */
export async function replaceDayValues(db: Db): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TEMP TABLE old_day_values AS
     SELECT v.* FROM day_values v SEMI JOIN whole_days s ON v.project = s.project AND v.dt = s.dt`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE rolled_before AS SELECT a.project, a.dt FROM active_users a
     SEMI JOIN (SELECT DISTINCT project FROM scan_days) s ON s.project = a.project`,
  );
  const [held] = await db.rows(
    `SELECT (SELECT count(*) FROM old_day_values) + (SELECT count(*) FROM append_days)`,
  );
  if (Number(held?.[0] ?? 0) === 0) {
    // Days read for the first time: every row is new, nothing to compare (the difference is
    // needed only where days had dau/wau/mau rows to correct).
    await db.run(
      `INSERT INTO day_values SELECT ${VALUE_COLUMNS} FROM (${idValues('counted')}) ORDER BY project, dt`,
    );
    const [rolled] = await db.rows(`SELECT count(*) FROM rolled_before`);
    await db.run(
      `CREATE OR REPLACE TEMP TABLE day_values_diff AS SELECT ${VALUE_COLUMNS}, 1 AS sign FROM (${onReadDays('day_values')})
       ${Number(rolled?.[0] ?? 0) === 0 ? 'WHERE false' : ''}`,
    );
    return;
  }
  await db.run(
    `CREATE OR REPLACE TEMP TABLE new_day_values AS SELECT ${VALUE_COLUMNS} FROM (${idValues('counted')})`,
  );
  // A day read whole loses the rows its files no longer give; a day appended to keeps them, and
  // gains those of its ids' rows it did not have.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE day_values_diff AS
     SELECT *, -1 AS sign FROM (SELECT ${VALUE_COLUMNS} FROM old_day_values EXCEPT SELECT ${VALUE_COLUMNS} FROM new_day_values)
     UNION ALL SELECT *, 1 FROM (
       SELECT ${VALUE_COLUMNS} FROM new_day_values
       EXCEPT SELECT ${VALUE_COLUMNS} FROM old_day_values
       EXCEPT SELECT ${valueColumns('v')} FROM day_values v
         SEMI JOIN append_days a ON a.project = v.project AND a.dt = v.dt
         SEMI JOIN (SELECT DISTINCT project, dt, id_hash FROM new_day_values) n
           ON n.project = v.project AND n.dt = v.dt AND n.id_hash = v.id_hash
     )`,
  );
  await db.run(
    `DELETE FROM day_values USING (SELECT * FROM day_values_diff WHERE sign = -1) g
     WHERE day_values.project = g.project AND day_values.dt = g.dt AND day_values.id_hash = g.id_hash
       AND ${LAKE_DIMENSIONS.map((d) => `day_values.${d} IS NOT DISTINCT FROM g.${d}`).join(' AND ')}`,
  );
  await db.run(
    `INSERT INTO day_values SELECT ${VALUE_COLUMNS} FROM day_values_diff WHERE sign = 1 ORDER BY project, dt`,
  );
}

/**
 * The changes of the refresh's days to each value's persons, as `value_changes (project, dt, dim,
 * value, user_hash, sign)`, on days whose windows hold a day that had rows before. A lake
 * dimension's: for each day and person with an id whose values or person changed (rows of the
 * read days that differ from before, every day of an id that changed person), the person's values
 * before and after. `new_vs_returning`'s: for each person whose days or first day changed, the
 * label of those days before and after.
 */
async function valueChanges(db: Db): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TEMP TABLE value_changes (project VARCHAR, dt DATE, dim VARCHAR, value VARCHAR, user_hash BIGINT, sign INTEGER)`,
  );
  // A first build: no day had rows before, nothing to correct.
  const [before] = await db.rows(`SELECT count(*) FROM rolled_before`);
  if (Number(before?.[0] ?? 0) === 0) return;
  // Days whose windows hold a day rolled up before.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE correctable AS
     SELECT DISTINCT r.project, CAST(r.dt - CAST(k.i AS INTEGER) AS DATE) AS dt
     FROM rolled_before r CROSS JOIN range(${MAU_DAYS}) k(i)`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE value_days AS
     SELECT s.project, s.dt FROM scan_days s SEMI JOIN correctable c ON c.project = s.project AND c.dt = s.dt`,
  );
  const onValueDays = (table: string) =>
    `SELECT v.* FROM ${table} v SEMI JOIN value_days s ON v.project = s.project AND v.dt = s.dt`;
  await db.run(
    `CREATE OR REPLACE TEMP TABLE value_ids AS
     SELECT DISTINCT project, dt, id_hash FROM (${onValueDays('day_values_diff')})
     UNION
     SELECT d.project, d.dt, d.id_hash FROM day_ids d
     SEMI JOIN changed_ids c ON c.project = d.project AND c.id_hash = d.id_hash
     SEMI JOIN correctable k ON k.project = d.project AND k.dt = d.dt`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE value_persons AS
     SELECT i.project, i.dt, coalesce(m.person, i.id_hash) AS user_hash FROM value_ids i
     LEFT JOIN people m ON m.project = i.project AND m.id_hash = i.id_hash
     UNION
     SELECT i.project, i.dt, coalesce(c.old_person, m.person, i.id_hash) FROM value_ids i
     LEFT JOIN people m ON m.project = i.project AND m.id_hash = i.id_hash
     LEFT JOIN changed_ids c ON c.project = i.project AND c.id_hash = i.id_hash`,
  );
  // The ids whose person is one of these, before or after: the rows read are theirs alone.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE value_id_hashes AS
     SELECT DISTINCT project, id_hash FROM (
       SELECT project, id_hash FROM (${personIds('(SELECT DISTINCT project, user_hash FROM value_persons)')})
       UNION ALL SELECT c.project, c.id_hash FROM changed_ids c
       SEMI JOIN value_persons p ON p.project = c.project AND p.user_hash = c.old_person
     )`,
  );
  const days =
    'SEMI JOIN (SELECT DISTINCT project, dt FROM value_persons) d ON d.project = v.project AND d.dt = v.dt';
  const ids = 'SEMI JOIN value_id_hashes h ON h.project = v.project AND h.id_hash = v.id_hash';
  const persons =
    'SEMI JOIN value_persons p ON p.project = x.project AND p.dt = x.dt AND p.user_hash = x.user_hash';
  await db.run(
    `CREATE OR REPLACE TEMP TABLE values_after AS ${unpivoted(
      `SELECT x.* FROM (
         SELECT v.*, coalesce(m.person, v.id_hash) AS user_hash FROM day_values v ${days} ${ids}
         LEFT JOIN people m ON m.project = v.project AND m.id_hash = v.id_hash
       ) x ${persons}`,
    )}`,
  );
  // Before: the rows of the days read whole as they were, and of the other days without those
  // the refresh added.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE values_before AS ${unpivoted(
      `SELECT x.* FROM (
         SELECT v.*, coalesce(c.old_person, m.person, v.id_hash) AS user_hash FROM (
           SELECT v.* FROM old_day_values v ${days} ${ids}
           UNION ALL (
             SELECT ${valueColumns('v')} FROM day_values v ${days} ${ids}
             ANTI JOIN whole_days s ON v.project = s.project AND v.dt = s.dt
             EXCEPT SELECT ${VALUE_COLUMNS} FROM day_values_diff WHERE sign = 1
           )
         ) v
         LEFT JOIN people m ON m.project = v.project AND m.id_hash = v.id_hash
         LEFT JOIN changed_ids c ON c.project = v.project AND c.id_hash = v.id_hash
       ) x ${persons}`,
    )}`,
  );
  // new_vs_returning: the days whose label may differ (each changed day, the old and new first day).
  // Every person whose first day moved, on any day read (a new day too: a person first seen
  // long before now has a later day that is no longer their first).
  await db.run(
    `CREATE OR REPLACE TEMP TABLE first_changes AS
     SELECT t.project, t.user_hash, b.first_dt AS old_dt, f.first_dt AS new_dt FROM (
       SELECT project, user_hash FROM new_users UNION SELECT project, user_hash FROM lost_users
       UNION SELECT project, user_hash FROM day_changes
     ) t
     LEFT JOIN first_before b ON b.project = t.project AND b.user_hash = t.user_hash
     LEFT JOIN person_first f ON f.project = t.project AND f.user_hash = t.user_hash
     WHERE b.first_dt IS DISTINCT FROM f.first_dt`,
  );
  const [changed] = await db.rows(
    `SELECT (SELECT count(*) FROM value_ids) + (SELECT count(*) FROM person_changes) + (SELECT count(*) FROM first_changes)`,
  );
  if (Number(changed?.[0] ?? 0) === 0) return;
  await db.run(
    `CREATE OR REPLACE TEMP TABLE label_days AS
     SELECT DISTINCT c.project, c.user_hash, c.dt,
       u.user_hash IS NOT NULL AS active_after,
       (u.user_hash IS NOT NULL AND g.sign IS DISTINCT FROM 1) OR g.sign = -1 AS active_before
     FROM (
       SELECT project, user_hash, dt FROM person_changes
       UNION SELECT project, user_hash, old_dt FROM first_changes WHERE old_dt IS NOT NULL
       UNION SELECT project, user_hash, new_dt FROM first_changes WHERE new_dt IS NOT NULL
     ) c
     SEMI JOIN correctable k ON k.project = c.project AND k.dt = c.dt
     LEFT JOIN daily_users u ON u.project = c.project AND u.dt = c.dt AND u.user_hash = c.user_hash
     LEFT JOIN person_changes g ON g.project = c.project AND g.dt = c.dt AND g.user_hash = c.user_hash`,
  );
  await db.run(
    `INSERT INTO values_after SELECT l.project, l.dt, 'new_vs_returning', ${newOrReturning('l.dt', 'f.first_dt')}, l.user_hash
     FROM label_days l LEFT JOIN person_first f ON f.project = l.project AND f.user_hash = l.user_hash
     WHERE l.active_after`,
  );
  await db.run(
    `INSERT INTO values_before SELECT l.project, l.dt, 'new_vs_returning',
       ${newOrReturning('l.dt', 'CASE WHEN c.user_hash IS NOT NULL THEN c.old_dt ELSE f.first_dt END')}, l.user_hash
     FROM label_days l LEFT JOIN person_first f ON f.project = l.project AND f.user_hash = l.user_hash
     LEFT JOIN first_changes c ON c.project = l.project AND c.user_hash = l.user_hash
     WHERE l.active_before`,
  );
  await db.run(
    `INSERT INTO value_changes
     SELECT *, 1 AS sign FROM (SELECT * FROM values_after EXCEPT SELECT * FROM values_before)
     UNION ALL SELECT *, -1 FROM (SELECT * FROM values_before EXCEPT SELECT * FROM values_after)`,
  );
}

/** The same (value, person) key in two tables with `project, dim, value, user_hash`. */
function sameKey(a: string, b: string): string {
  return `${a}.project = ${b}.project AND ${a}.dim = ${b}.dim AND ${a}.value = ${b}.value AND ${a}.user_hash = ${b}.user_hash`;
}

/**
 * Applies `value_changes` to the per-value rows of the days rolled up before. A (value, person)
 * changed on one day (a late event, a new day: nearly all) moves the windows from that day up to
 * the key's next day, as far as its previous day no longer reaches: closed form from those two
 * days. A key changed on several days (a first day moved, an id that changed person) is in the
 * day, week and month of each rolled-up day whose month holds a change before and after as its
 * last day up to that day says, so its changes are counted once. A value's row is added where it
 * had none, removed where its month is left empty.
 */
async function correctValues(db: Db): Promise<void> {
  await valueChanges(db);
  const [count] = await db.rows(`SELECT count(*) FROM value_changes`);
  if (Number(count?.[0] ?? 0) === 0) return;
  await db.run(
    `CREATE OR REPLACE TEMP TABLE key_days AS
     SELECT project, dim, value, user_hash, count(*) AS days, min(dt) AS dt, min(sign) AS sign
     FROM value_changes GROUP BY project, dim, value, user_hash`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE key_persons AS SELECT DISTINCT project, user_hash FROM key_days`,
  );
  // Each key's days after the refresh, from the changes' first day minus a month to their last
  // plus one: a lake dimension's from its persons' ids, new_vs_returning's from daily_users, each
  // over the days of its own changes (a first day that moved reaches far from the read days).
  const bounds = async (kind: string) => {
    const [row] = await db.rows(
      `SELECT strftime(min(dt), '%Y-%m-%d'), strftime(max(dt), '%Y-%m-%d') FROM value_changes WHERE ${kind}`,
    );
    return row?.[0] === null || row?.[0] === undefined
      ? null
      : {
          lo: `${literal(String(row[0]), 'date')} - ${MAU_DAYS - 1}`,
          hi: `${literal(String(row[1]), 'date')} + ${MAU_DAYS - 1}`,
        };
  };
  const lake = await bounds("dim <> 'new_vs_returning'");
  const labels = await bounds("dim = 'new_vs_returning'");
  // Per dimension, the rows of the changed keys alone (unpivoting every dimension of these
  // persons' rows first writes them all).
  const keyed = (dim: string, value: string) =>
    `SEMI JOIN key_days k ON k.project = b.project AND k.dim = ${text(dim)} AND k.value = ${value} AND k.user_hash = b.user_hash`;
  const lakeRows = lake
    ? `WITH b AS MATERIALIZED (
       SELECT v.*, i.person AS user_hash FROM day_values v
       JOIN (${personIds('key_persons')}) i ON i.project = v.project AND i.id_hash = v.id_hash
       WHERE v.dt BETWEEN ${lake.lo} AND ${lake.hi}
     )
     ${LAKE_DIMENSIONS.map(
       (
         d,
       ) => `SELECT b.project, b.dt, ${text(d)} AS dim, coalesce(b.${d}, '${UNKNOWN}') AS value, b.user_hash FROM b
           ${keyed(d, `coalesce(b.${d}, '${UNKNOWN}')`)}
         UNION ALL SELECT b.project, b.dt, ${text(otherOf(d))}, '', b.user_hash FROM b ${keyed(otherOf(d), "''")}
           ANTI JOIN value_tops t ON t.project = b.project AND t.dim = ${text(d)} AND t.value = coalesce(b.${d}, '${UNKNOWN}')`,
     ).join('\n       UNION ALL ')}`
    : null;
  const labelRows = labels
    ? `SELECT u.project, u.dt, 'new_vs_returning' AS dim, ${newOrReturning('u.dt', 'f.first_dt')} AS value, u.user_hash
       FROM daily_users u SEMI JOIN key_persons k ON k.project = u.project AND k.user_hash = u.user_hash
       LEFT JOIN person_first f ON f.project = u.project AND f.user_hash = u.user_hash
       WHERE u.dt BETWEEN ${labels.lo} AND ${labels.hi}`
    : null;
  await db.run(
    `CREATE OR REPLACE TEMP TABLE key_rows_after AS
     SELECT DISTINCT * FROM (
       ${[lakeRows, labelRows]
         .filter((part) => part !== null)
         .map((part) => `(${part})`)
         .join('\n       UNION ALL ')}
     ) r SEMI JOIN key_days c ON ${sameKey('c', 'r')}`,
  );
  // One day c, sign s: the key's other days are the same before and after; with prev and next the
  // nearest of them, the day c is in the windows w from c to next - 1 where prev is not: w = c
  // (DAU), prev + 7 <= w <= c + 6 (WAU), prev + 30 <= w <= c + 29 (MAU).
  await db.run(
    `CREATE OR REPLACE TEMP TABLE value_deltas AS
     WITH near AS (
       SELECT k.project, k.dim, k.value, k.dt AS c, k.sign,
         max(r.dt) FILTER (WHERE r.dt < k.dt) AS prev, min(r.dt) FILTER (WHERE r.dt > k.dt) AS next
       FROM key_days k
       LEFT JOIN key_rows_after r ON ${sameKey('r', 'k')} AND r.dt BETWEEN k.dt - ${MAU_DAYS - 1} AND k.dt + ${MAU_DAYS - 1}
       WHERE k.days = 1
       GROUP BY k.project, k.dim, k.value, k.user_hash, k.dt, k.sign
     )
     SELECT n.project, n.dim, n.value, w.dt,
       sum(CASE WHEN w.dt = n.c THEN n.sign ELSE 0 END) AS dd,
       sum(CASE WHEN w.dt <= n.c + ${WAU_DAYS - 1} AND (n.prev IS NULL OR w.dt >= n.prev + ${WAU_DAYS}) THEN n.sign ELSE 0 END) AS dw,
       sum(CASE WHEN n.prev IS NULL OR w.dt >= n.prev + ${MAU_DAYS} THEN n.sign ELSE 0 END) AS dm
     FROM near n JOIN rolled_before w ON w.project = n.project
       AND w.dt BETWEEN n.c AND least(n.c + ${MAU_DAYS - 1}, coalesce(n.next - 1, n.c + ${MAU_DAYS - 1}))
     GROUP BY n.project, n.dim, n.value, w.dt`,
  );
  const [several] = await db.rows(`SELECT count(*) FROM key_days WHERE days > 1`);
  if (Number(several?.[0] ?? 0) > 0) await addSeveralDayDeltas(db);
  const match = (t: string) =>
    `${t}.project = d.project AND ${t}.dim = d.dim AND ${t}.value = d.value AND ${t}.dt = d.dt`;
  await db.run(
    `CREATE OR REPLACE TEMP TABLE value_sums AS
     SELECT project, dim, value, dt, sum(dd) AS dd, sum(dw) AS dw, sum(dm) AS dm FROM value_deltas
     GROUP BY project, dim, value, dt HAVING sum(dd) <> 0 OR sum(dw) <> 0 OR sum(dm) <> 0`,
  );
  await db.run(
    `UPDATE active_values SET dau = dau + d.dd, wau = wau + d.dw, mau = mau + d.dm
     FROM value_sums d WHERE ${match('active_values')}`,
  );
  await db.run(
    `INSERT INTO active_values SELECT d.project, d.dim, d.value, d.dt, d.dd, d.dw, d.dm FROM value_sums d
     ANTI JOIN active_values a ON ${match('a')}`,
  );
  await db.run(
    `DELETE FROM active_values USING value_sums d WHERE ${match('active_values')} AND active_values.mau = 0`,
  );
}

/**
 * Adds to `value_deltas` those of the keys changed on several days: for each rolled-up day whose
 * month holds a change of the key, its last day up to that day before and after, by a running max
 * over the key's days and those windows in order (a window function; an ASOF join partitioned by
 * so many keys is far slower in DuckDB).
 */
async function addSeveralDayDeltas(db: Db): Promise<void> {
  const keys = `SEMI JOIN key_days k ON ${sameKey('k', 'x')} AND k.days > 1`;
  await db.run(`CREATE OR REPLACE TEMP TABLE several_changes AS SELECT x.* FROM value_changes x ${keys}`);
  await db.run(
    `CREATE OR REPLACE TEMP TABLE key_rows_before AS
     (SELECT x.* FROM key_rows_after x ${keys}
      EXCEPT SELECT project, dt, dim, value, user_hash FROM several_changes WHERE sign = 1)
     UNION SELECT project, dt, dim, value, user_hash FROM several_changes WHERE sign = -1`,
  );
  const flags = (column: string) =>
    [`${column} = w`, `${column} > w - ${WAU_DAYS}`, `${column} > w - ${MAU_DAYS}`].map(
      (test) => `CASE WHEN ${test} THEN 1 ELSE 0 END`,
    );
  const [nd, nw, nm] = flags('after_dt');
  const [od, ow, om] = flags('before_dt');
  await db.run(
    `INSERT INTO value_deltas
     WITH marks AS (
       SELECT x.project, x.dim, x.value, x.user_hash, x.dt AS day, 0 AS k, 1 AS after FROM key_rows_after x ${keys}
       UNION ALL SELECT project, dim, value, user_hash, dt, 0, 0 FROM key_rows_before
       UNION ALL SELECT DISTINCT c.project, c.dim, c.value, c.user_hash, r.dt, 1, NULL FROM several_changes c
         JOIN rolled_before r ON r.project = c.project AND r.dt BETWEEN c.dt AND c.dt + ${MAU_DAYS - 1}
     ),
     lasts AS (
       SELECT project, dim, value, day AS w, k,
         max(CASE WHEN k = 0 AND after = 1 THEN day END) OVER s AS after_dt,
         max(CASE WHEN k = 0 AND after = 0 THEN day END) OVER s AS before_dt
       FROM marks
       WINDOW s AS (PARTITION BY project, dim, value, user_hash ORDER BY day, k
         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
     )
     SELECT project, dim, value, w AS dt,
       sum(${nd} - ${od}) AS dd, sum(${nw} - ${ow}) AS dw, sum(${nm} - ${om}) AS dm
     FROM lasts WHERE k = 1
     GROUP BY project, dim, value, w`,
  );
}

/**
 * `insertCoverage` for new_vs_returning: `new` counts each person once, on their first day, so its
 * numbers are counts of `person_first` by day summed over each window; `returning` is coverage of
 * `daily_users` without each person's first day.
 */
async function insertNewAndReturning(db: Db, p: string, from: string, to: string): Promise<void> {
  const calendar = `SELECT CAST(g.day AS DATE) AS dt
    FROM generate_series(CAST(${from} AS TIMESTAMP), CAST(${to} AS TIMESTAMP), INTERVAL 1 DAY) g(day)
    SEMI JOIN active_users a ON a.project = ${p} AND a.dt = CAST(g.day AS DATE)`;
  await db.run(
    `INSERT INTO active_values
     WITH firsts AS (
       SELECT first_dt, count(*) AS n FROM person_first
       WHERE project = ${p} AND first_dt BETWEEN ${from} - ${MAU_DAYS - 1} AND ${to} GROUP BY first_dt
     )
     SELECT ${p}, 'new_vs_returning', '${NEW}', c.dt,
       coalesce(sum(f.n) FILTER (WHERE f.first_dt = c.dt), 0),
       coalesce(sum(f.n) FILTER (WHERE f.first_dt > c.dt - ${WAU_DAYS}), 0), sum(f.n)
     FROM (${calendar}) c JOIN firsts f ON f.first_dt BETWEEN c.dt - ${MAU_DAYS - 1} AND c.dt
     GROUP BY c.dt`,
  );
  await db.run(
    `INSERT INTO active_values
     WITH r AS MATERIALIZED (
       SELECT u.dt, '${RETURNING}' AS value, u.user_hash FROM daily_users u
       ANTI JOIN person_first f ON f.project = u.project AND f.user_hash = u.user_hash AND f.first_dt = u.dt
       WHERE u.project = ${p} AND u.dt BETWEEN ${from} - ${MAU_DAYS - 1} AND ${to}
     ),
     ${runningByValue('r')}
     SELECT ${p}, 'new_vs_returning', '${RETURNING}', c.dt, x.dau, x.wau, x.mau
     FROM (${calendar}) c ASOF JOIN running x ON x.day <= c.dt
     WHERE x.mau > 0`,
  );
}

/** Every dimension `active_values` holds: the dimensions, and each lake dimension's `other:`. */
const STORED_DIMENSIONS = [...DIMENSIONS, ...LAKE_DIMENSIONS.map(otherOf)];

/**
 * Keeps `value_tops` the `STORED_TOP` values of each lake dimension with the most persons in the
 * month of each project's latest day (ties by value), and, where they change, computes that
 * dimension's `other:` anew for every day of the project (rare: a value entering or leaving the
 * top).
 */
async function updateTops(db: Db, projects: readonly string[]): Promise<void> {
  for (const project of projects) {
    const p = literal(project, 'project');
    const top = `SELECT dim, value FROM (
        SELECT dim, value, row_number() OVER (PARTITION BY dim ORDER BY mau DESC, value) AS n FROM active_values
        WHERE project = ${p} AND dim IN (${LAKE_DIMENSIONS.map(text).join(', ')})
          AND dt = (SELECT max(dt) FROM active_users WHERE project = ${p})
      ) WHERE n <= ${STORED_TOP}`;
    const kept = `SELECT dim, value FROM value_tops WHERE project = ${p}`;
    const changed = (
      await db.rows(
        `SELECT DISTINCT dim FROM ((${top} EXCEPT ${kept}) UNION ALL (${kept} EXCEPT ${top})) ORDER BY 1`,
      )
    ).map(([dim]) => String(dim) as LakeDimension);
    if (changed.length === 0) continue;
    const dims = changed.map(text).join(', ');
    await db.run(`DELETE FROM value_tops WHERE project = ${p} AND dim IN (${dims})`);
    await db.run(`INSERT INTO value_tops SELECT ${p}, dim, value FROM (${top}) WHERE dim IN (${dims})`);
    const [span] = await db.rows(
      `SELECT strftime(min(dt), '%Y-%m-%d'), strftime(max(dt), '%Y-%m-%d') FROM active_users WHERE project = ${p}`,
    );
    for (const dim of changed) {
      await db.run(`DELETE FROM active_values WHERE project = ${p} AND dim = ${text(otherOf(dim))}`);
      await insertCoverage(
        db,
        p,
        otherOf(dim),
        literal(String(span![0]), 'date'),
        literal(String(span![1]), 'date'),
      );
    }
  }
}

/**
 * Brings dau/wau/mau per value of every dimension up to date: the days rolled up before are
 * corrected by the persons the refresh changed (`correctValues`); of these days (those whose
 * totals the refresh wrote), those new since are written: a lone day by each (value, person)'s
 * last day in its month, runs of days by coverage (`coverageChanges`, a dimension at a time: a
 * sort of its rows, not of every dimension's at once), only values with a person in the day's
 * month. Then the top values kept for `other` (`updateTops`).
 */
export async function writeValueWindows(db: Db, days: readonly ProjectDay[]): Promise<void> {
  await correctValues(db);
  const fresh =
    days.length === 0
      ? []
      : projectDays(
          await db.rows(
            `SELECT t.project, strftime(t.dt, '%Y-%m-%d') FROM ${pairsTable(days)}
             SEMI JOIN active_users a ON a.project = t.project AND a.dt = t.dt
             ANTI JOIN rolled_before b ON b.project = t.project AND b.dt = t.dt ORDER BY 1, 2`,
          ),
        );
  for (const range of contiguousRanges(fresh)) {
    const p = literal(range.project, 'project');
    const from = literal(range.from, 'date');
    const to = literal(range.to, 'date');
    await db.run(`DELETE FROM active_values WHERE project = ${p} AND dt BETWEEN ${from} AND ${to}`);
    if (range.from !== range.to) {
      // other: only for dimensions with top values kept (`updateTops` counts the others' whole).
      const kept = new Set(
        (await db.rows(`SELECT DISTINCT dim FROM value_tops WHERE project = ${p}`)).map(([d]) =>
          otherOf(d as LakeDimension),
        ),
      );
      for (const dim of STORED_DIMENSIONS) {
        if (dim.startsWith(OTHER) && !kept.has(dim)) continue;
        await insertCoverage(db, p, dim, from, to);
      }
      continue;
    }
    await db.run(
      `INSERT INTO active_values
       SELECT ${p}, dim, value, ${from}, count(*) FILTER (WHERE last_dt = ${from}),
         count(*) FILTER (WHERE last_dt > ${from} - ${WAU_DAYS}), count(*)
       FROM (
         SELECT dim, value, user_hash, max(dt) AS last_dt FROM (${everyDimension(p, `${from} - ${MAU_DAYS - 1}`, to)})
         GROUP BY dim, value, user_hash
       ) GROUP BY dim, value`,
    );
  }
  const projects = await db.rows(`SELECT DISTINCT project FROM scan_days ORDER BY 1`);
  await updateTops(
    db,
    projects.map(([project]) => String(project)),
  );
}
