import { idValues, LAKE_DIMENSIONS } from '../breakdowns.js';
import type { ProjectDay } from '../days.js';
import { date, EPOCH, markers, marks, pairsOf, type Run, storedRows } from './sql.js';

/** The counted rows of a refresh (rules 0-1 of people.ts). */
export function counted(db: string): string {
  return `${db}.refresh_rows`;
}

/** A refresh's ids of one kind (see `resolveChanges`). */
export const ids = (db: string, kind: string) => `(SELECT * FROM ${db}.refresh_ids WHERE kind = '${kind}')`;

/**
 * Stages the identity evidence of these days in `refresh_evidence`: what the day tables hold
 * ('anon-old', 'alias-old'), what the day gives now ('anon-new', 'alias-new': each anonymous id's
 * earliest user of the day, every alias pair once; from the rows read, and of a day appended to
 * also from what its tables hold) and the difference ('anon+', 'anon-', 'alias+', 'alias-').
 * Returns how many rows of evidence changed.
 */
export async function stageEvidence(
  run: Run,
  db: string,
  dts: readonly string[],
  appended: readonly string[],
): Promise<number> {
  const rows = counted(db);
  const kept = (table: string, columns: string) => storedRows(db, table, `project, dt, ${columns}`, appended);
  await run(
    `INSERT OVERWRITE ${db}.refresh_evidence (kind, project, dt, a, b, event_time, received_at)
SELECT 'anon-old', project, dt, anon_hash, user_hash, event_time, received_at FROM ${db}.anon_links
WHERE dt IN (${marks(dts)}) AND project <> ''
UNION ALL
SELECT 'alias-old', project, dt, from_hash, to_hash, NULL, NULL FROM ${db}.alias_links
WHERE dt IN (${marks(dts)}) AND project <> ''
UNION ALL
SELECT 'anon-new', project, dt, anon, user_hash, event_time, received_at FROM (
  SELECT project, dt, anon, user_hash, event_time, received_at,
    row_number() OVER (PARTITION BY project, dt, anon ORDER BY event_time, received_at, user_hash) AS nth
  FROM (
    SELECT project, dt, anonymous_hash AS anon, user_hash, event_time, received_at FROM ${rows} c1
    WHERE anonymous_hash IS NOT NULL AND user_hash IS NOT NULL
    UNION ALL
    SELECT project, dt, previous_anonymous_hash, user_hash, event_time, received_at FROM ${rows} c2
    WHERE type = 'alias' AND previous_anonymous_hash IS NOT NULL AND user_hash IS NOT NULL
    ${kept('anon_links', 'anon_hash, user_hash, event_time, received_at')}
  ) e
) f WHERE nth = 1
UNION ALL
SELECT DISTINCT 'alias-new', project, dt, a, b, NULL, NULL FROM (
  SELECT project, dt, previous_user_hash AS a, user_hash AS b FROM ${rows} c3
  WHERE type = 'alias' AND previous_user_hash IS NOT NULL AND user_hash IS NOT NULL AND previous_user_hash <> user_hash
  ${kept('alias_links', 'from_hash, to_hash')}
) l`,
    [...dts, ...dts, ...appended, ...appended],
  );
  const side = (kind: string) =>
    `SELECT project, dt, a, b, event_time, received_at FROM ${db}.refresh_evidence WHERE kind = '${kind}'`;
  await run(
    `INSERT INTO ${db}.refresh_evidence (kind, project, dt, a, b, event_time, received_at)
SELECT 'anon+', project, dt, a, b, event_time, received_at FROM (${side('anon-new')} EXCEPT ${side('anon-old')}) d1
UNION ALL
SELECT 'anon-', project, dt, a, b, event_time, received_at FROM (${side('anon-old')} EXCEPT ${side('anon-new')}) d2
UNION ALL
SELECT 'alias+', project, dt, a, b, NULL, NULL FROM (${side('alias-new')} EXCEPT ${side('alias-old')}) d3
UNION ALL
SELECT 'alias-', project, dt, a, b, NULL, NULL FROM (${side('alias-old')} EXCEPT ${side('alias-new')}) d4`,
  );
  const [row] = await run(
    `SELECT count(*) AS n FROM ${db}.refresh_evidence WHERE kind IN ('anon+', 'anon-', 'alias+', 'alias-')`,
  );
  return Number(row?.n ?? 0);
}

/**
 * Finds the ids whose person changes with the staged evidence (rules 2-3 of people.ts), in
 * statements on the engine, into `refresh_ids`: 'first' (the new first link of each anonymous id
 * whose evidence changed), 'group' (the users of the alias groups at either end of a changed
 * alias, walked a step per statement, with the group's smallest user), 'changed' (each id whose
 * person changes: `person` now, `old_person` before). Writes nothing but `refresh_ids`.
 */
export async function resolveChanges(run: Run, db: string, dts: readonly string[]): Promise<void> {
  const evidence = (kinds: string) => `(SELECT * FROM ${db}.refresh_evidence WHERE kind IN (${kinds}))`;
  await run(
    `INSERT OVERWRITE ${db}.refresh_ids (kind, project, id_hash)
SELECT DISTINCT 'touched', project, a FROM ${evidence("'anon+', 'anon-'")} t`,
  );
  await run(
    `INSERT INTO ${db}.refresh_ids (kind, project, id_hash)
SELECT DISTINCT 'stale', f.project, f.anon_hash FROM ${db}.anon_first f
JOIN ${evidence("'anon-'")} r ON r.project = f.project AND r.a = f.anon_hash AND r.b = f.user_hash
  AND r.event_time = f.event_time AND r.received_at = f.received_at`,
  );
  // Rule 2: the first link of each touched anonymous id: the stored one unless it went away (then
  // every day's evidence of that id: the other days' stored, these days' new), or an added one.
  await run(
    `INSERT INTO ${db}.refresh_ids (kind, project, id_hash, user_hash, event_time, received_at)
SELECT 'first', project, anon_hash, user_hash, event_time, received_at FROM (
  SELECT c.*, row_number() OVER (PARTITION BY project, anon_hash ORDER BY event_time, received_at, user_hash) AS nth
  FROM (
    SELECT f.project, f.anon_hash, f.user_hash, f.event_time, f.received_at FROM ${db}.anon_first f
    JOIN ${ids(db, 'touched')} t ON t.project = f.project AND t.id_hash = f.anon_hash
    LEFT JOIN ${ids(db, 'stale')} s ON s.project = f.project AND s.id_hash = f.anon_hash
    WHERE s.id_hash IS NULL
    UNION ALL
    SELECT project, a, b, event_time, received_at FROM ${evidence("'anon+'")} n
    UNION ALL
    SELECT l.project, l.anon_hash, l.user_hash, l.event_time, l.received_at FROM ${db}.anon_links l
    JOIN ${ids(db, 'stale')} s ON s.project = l.project AND s.id_hash = l.anon_hash
    WHERE l.dt NOT IN (${marks(dts)}) AND l.project <> ''
    UNION ALL
    SELECT e.project, e.a, e.b, e.event_time, e.received_at FROM ${evidence("'anon-new'")} e
    JOIN ${ids(db, 'stale')} s ON s.project = e.project AND s.id_hash = e.a
  ) c
) r WHERE nth = 1`,
    dts,
  );
  // Rule 3: the alias groups of the users at either end of a changed alias.
  const edges = `(
  SELECT project, from_hash AS a, to_hash AS b FROM ${db}.alias_links WHERE dt NOT IN (${marks(dts)}) AND project <> ''
  UNION ALL SELECT project, to_hash, from_hash FROM ${db}.alias_links WHERE dt NOT IN (${marks(dts)}) AND project <> ''
  UNION ALL SELECT project, a, b FROM ${evidence("'alias-new'")} n1
  UNION ALL SELECT project, b, a FROM ${evidence("'alias-new'")} n2
)`;
  await run(
    `INSERT INTO ${db}.refresh_ids (kind, project, id_hash, start_hash)
SELECT DISTINCT 'reach', project, u, u FROM (
  SELECT project, a AS u FROM ${evidence("'alias+', 'alias-'")} x1
  UNION ALL SELECT project, b FROM ${evidence("'alias+', 'alias-'")} x2
) t`,
  );
  const reached = async () =>
    Number((await run(`SELECT count(*) AS n FROM ${db}.refresh_ids WHERE kind = 'reach'`))[0]?.n ?? 0);
  for (let before = await reached(); before > 0; ) {
    await run(
      `INSERT INTO ${db}.refresh_ids (kind, project, id_hash, start_hash)
SELECT DISTINCT 'reach', r.project, e.b, r.start_hash FROM ${ids(db, 'reach')} r
JOIN ${edges} e ON e.project = r.project AND e.a = r.id_hash
LEFT JOIN ${ids(db, 'reach')} q ON q.project = r.project AND q.start_hash = r.start_hash AND q.id_hash = e.b
WHERE q.id_hash IS NULL`,
      [...dts, ...dts],
    );
    const after = await reached();
    if (after === before) break;
    before = after;
  }
  await run(
    `INSERT INTO ${db}.refresh_ids (kind, project, id_hash, person)
SELECT DISTINCT 'group', r.project, r.id_hash, m.root FROM ${ids(db, 'reach')} r
JOIN (SELECT project, start_hash, min(id_hash) AS root FROM ${ids(db, 'reach')} x GROUP BY project, start_hash) m
  ON m.project = r.project AND m.start_hash = r.start_hash`,
  );
  // The person of every id whose person may have changed: the users of those groups, the touched
  // anonymous ids, and those whose first user is in one of the groups.
  await run(
    `INSERT INTO ${db}.refresh_ids (kind, project, id_hash, person)
SELECT 'affected', project, id_hash, person FROM ${ids(db, 'group')} g0
UNION ALL
SELECT 'affected', a.project, a.anon_hash, coalesce(g.person, p.person, a.user_hash) FROM (
  SELECT project, id_hash AS anon_hash, user_hash FROM ${ids(db, 'first')} f1
  UNION
  SELECT f.project, f.anon_hash, f.user_hash FROM ${db}.anon_first f
  JOIN (SELECT DISTINCT project, id_hash FROM ${ids(db, 'group')} g1) g ON g.project = f.project AND g.id_hash = f.user_hash
  LEFT JOIN ${ids(db, 'touched')} t ON t.project = f.project AND t.id_hash = f.anon_hash
  WHERE t.id_hash IS NULL
) a
LEFT JOIN ${ids(db, 'group')} g ON g.project = a.project AND g.id_hash = a.user_hash
LEFT JOIN ${db}.people p ON p.project = a.project AND p.id_hash = a.user_hash
UNION ALL
SELECT 'affected', t.project, t.id_hash, t.id_hash FROM ${ids(db, 'touched')} t
LEFT JOIN ${ids(db, 'first')} f ON f.project = t.project AND f.id_hash = t.id_hash
WHERE f.id_hash IS NULL`,
  );
  await run(
    `INSERT INTO ${db}.refresh_ids (kind, project, id_hash, person, old_person)
SELECT 'changed', a.project, a.id_hash, a.person, coalesce(p.person, a.id_hash) FROM ${ids(db, 'affected')} a
LEFT JOIN ${db}.people p ON p.project = a.project AND p.id_hash = a.id_hash
WHERE coalesce(p.person, a.id_hash) <> a.person`,
  );
}

/**
 * The days not among these whose ids changed person (`refresh_ids` 'changed'): `day_ids` is read
 * from the earliest first active day of those ids on, so an id seen first today reads one day.
 */
export async function movedDays(run: Run, db: string, dts: readonly string[]): Promise<ProjectDay[]> {
  const [first] = await run(
    `SELECT CAST(min(f.first_dt) AS VARCHAR) AS dt FROM ${db}.id_first_day f
JOIN ${ids(db, 'changed')} c ON c.project = f.project AND c.id_hash = f.id_hash`,
  );
  if (first?.dt === null || first?.dt === undefined) return [];
  return pairsOf(
    await run(
      `SELECT DISTINCT d.project, CAST(d.dt AS VARCHAR) AS dt FROM ${db}.day_ids d
JOIN ${ids(db, 'changed')} c ON c.project = d.project AND c.id_hash = d.id_hash
WHERE d.dt >= ? AND d.dt NOT IN (${marks(dts)}) AND d.project <> ''`,
      [date(String(first.dt)), ...dts],
    ),
  );
}

/**
 * Writes what the refresh found: people and first links (upserts, then the ids that are their own
 * person again or lost their link), then the day tables of these days: ids and evidence (of a day
 * appended to, what they held with what its new files add).
 */
export async function recordIdentity(
  run: Run,
  db: string,
  dts: readonly string[],
  appended: readonly string[],
  hadChanges: boolean,
): Promise<void> {
  if (hadChanges) {
    await run(
      `INSERT INTO ${db}.people (project, id_hash, person)
SELECT project, id_hash, person FROM ${ids(db, 'changed')} c WHERE person <> id_hash`,
    );
    await run(
      `DELETE FROM ${db}.people USING ${db}.refresh_ids r
WHERE r.kind = 'changed' AND r.person = r.id_hash AND people.project = r.project AND people.id_hash = r.id_hash`,
    );
    await run(
      `INSERT INTO ${db}.anon_first (project, anon_hash, user_hash, event_time, received_at)
SELECT project, id_hash, user_hash, event_time, received_at FROM ${ids(db, 'first')} f`,
    );
    await run(
      `DELETE FROM ${db}.anon_first USING ${db}.refresh_ids r
WHERE r.kind = 'affected' AND r.person = r.id_hash AND anon_first.project = r.project AND anon_first.anon_hash = r.id_hash`,
    );
  }
  const rows = counted(db);
  // First active days move earlier only (a day that went away leaves an earlier bound: safe).
  await run(
    `INSERT INTO ${db}.id_first_day (project, id_hash, first_dt)
SELECT c.project, c.id_hash, c.first_dt FROM (
  SELECT project, coalesce(user_hash, anonymous_hash) AS id_hash, min(dt) AS first_dt FROM ${rows} r
  WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
  GROUP BY project, coalesce(user_hash, anonymous_hash)
) c
LEFT JOIN ${db}.id_first_day f ON f.project = c.project AND f.id_hash = c.id_hash
WHERE f.first_dt IS NULL OR f.first_dt > c.first_dt`,
  );
  const kept = (table: string, columns: string) => storedRows(db, table, `dt, project, ${columns}`, appended);
  await run(
    `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${db}.day_ids (dt, project, id_hash)
SELECT DISTINCT dt, project, id_hash FROM (
  SELECT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash FROM ${rows} c
  WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
  ${kept('day_ids', 'id_hash')}
) i
UNION ALL ${markers(dts, "'', 0")}`,
    [...appended, ...dts],
  );
  const dimensions = LAKE_DIMENSIONS.join(', ');
  await run(
    `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${db}.day_values (dt, project, id_hash, ${dimensions})
SELECT DISTINCT dt, project, id_hash, ${dimensions} FROM (
  ${idValues(`${rows} c`)}
  ${kept('day_values', `id_hash, ${dimensions}`)}
) v
UNION ALL ${markers(dts, `'', 0, ${LAKE_DIMENSIONS.map(() => 'NULL').join(', ')}`)}`,
    [...appended, ...dts],
  );
  await run(
    `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${db}.anon_links
  (dt, project, anon_hash, user_hash, event_time, received_at)
SELECT dt, project, a, b, event_time, received_at FROM ${db}.refresh_evidence WHERE kind = 'anon-new'
UNION ALL ${markers(dts, `'', 0, 0, ${EPOCH}, ${EPOCH}`)}`,
    dts,
  );
  await run(
    `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${db}.alias_links (dt, project, from_hash, to_hash)
SELECT dt, project, a, b FROM ${db}.refresh_evidence WHERE kind = 'alias-new'
UNION ALL ${markers(dts, "'', 0, 0")}`,
    dts,
  );
}
