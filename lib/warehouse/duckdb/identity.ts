import type { ProjectDay } from '../days.js';
import { type Db, projectDays } from './sql.js';

const on = (a: string, b: string, columns: string[]) =>
  columns.map((c) => `${a}.${c} = ${b}.${c}`).join(' AND ');
const ANON = ['project', 'anon_hash'];
const ANON_DAY = ['project', 'dt', 'anon_hash'];

/**
 * Brings a day table of evidence up to date with `counted`'s (`candidates`): a day read whole
 * gets exactly the evidence of `counted` (`winners` of the candidates); a day appended to, the
 * winners of its candidates and of its stored rows they compete with (same `key`), its other
 * rows left as they are. Writes only the difference, and keeps what went away and what came in as
 * `<table>_removed` and `<table>_added`.
 */
async function replaceEvidence(
  db: Db,
  table: string,
  key: string[],
  candidates: string,
  winners: (rows: string) => string,
): Promise<void> {
  await db.run(`CREATE OR REPLACE TEMP TABLE candidate_${table} AS ${candidates}`);
  await db.run(
    `CREATE OR REPLACE TEMP TABLE old_${table} AS
     SELECT l.* FROM ${table} l SEMI JOIN whole_days d ON l.project = d.project AND l.dt = d.dt
     UNION ALL SELECT l.* FROM ${table} l SEMI JOIN append_days d ON l.project = d.project AND l.dt = d.dt
       SEMI JOIN candidate_${table} c ON ${on('l', 'c', key)}`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE fresh_${table} AS ${winners(
      `SELECT * FROM candidate_${table}
       UNION ALL SELECT o.* FROM old_${table} o SEMI JOIN append_days d ON o.project = d.project AND o.dt = d.dt`,
    )}`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE ${table}_added AS SELECT * FROM fresh_${table} EXCEPT SELECT * FROM old_${table}`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE ${table}_removed AS SELECT * FROM old_${table} EXCEPT SELECT * FROM fresh_${table}`,
  );
  await db.run(`DELETE FROM ${table} USING ${table}_removed r WHERE ${on(table, 'r', key)}`);
  await db.run(`INSERT INTO ${table} SELECT * FROM ${table}_added ORDER BY project, dt`);
}

/**
 * Brings the identity evidence of the days in `scan_days` up to date with `counted` (a day
 * appended to keeps the evidence it had), then brings the
 * people of the ids that evidence touches up to date (rules 2-3 of people.ts), in statements on
 * the engine: each anonymous id's first user is kept in `anon_first` and only the anonymous ids
 * of changed evidence are looked at again; alias groups are walked from the users of changed
 * aliases only. Leaves `move_pairs` (each day an id that changed person was active on, with
 * its person before and after) and returns those days.
 */
export async function updateIdentity(db: Db): Promise<ProjectDay[]> {
  await replaceEvidence(
    db,
    'anon_links',
    [...ANON_DAY],
    `SELECT project, dt, anonymous_hash AS anon_hash, user_hash, event_time, received_at FROM counted
     WHERE anonymous_hash IS NOT NULL AND user_hash IS NOT NULL
     UNION ALL
     SELECT project, dt, previous_anonymous_hash, user_hash, event_time, received_at FROM counted
     WHERE type = 'alias' AND previous_anonymous_hash IS NOT NULL AND user_hash IS NOT NULL`,
    (rows) => `SELECT * FROM (${rows})
      QUALIFY row_number() OVER (PARTITION BY project, dt, anon_hash ORDER BY event_time, received_at, user_hash) = 1`,
  );
  await replaceEvidence(
    db,
    'alias_links',
    ['project', 'dt', 'from_hash', 'to_hash'],
    `SELECT DISTINCT project, dt, previous_user_hash AS from_hash, user_hash AS to_hash FROM counted
     WHERE type = 'alias' AND previous_user_hash IS NOT NULL AND user_hash IS NOT NULL
       AND previous_user_hash <> user_hash`,
    (rows) => `SELECT DISTINCT * FROM (${rows})`,
  );
  const [changes] = await db.rows(
    `SELECT (SELECT count(*) FROM anon_links_added) + (SELECT count(*) FROM anon_links_removed)
       + (SELECT count(*) FROM alias_links_added) + (SELECT count(*) FROM alias_links_removed)`,
  );
  if (Number(changes?.[0] ?? 0) === 0) {
    await db.run(
      `CREATE OR REPLACE TEMP TABLE move_pairs (project VARCHAR, dt DATE, old_person BIGINT, new_person BIGINT)`,
    );
    await db.run(
      `CREATE OR REPLACE TEMP TABLE changed_ids (project VARCHAR, id_hash BIGINT, old_person BIGINT, new_person BIGINT)`,
    );
    return [];
  }

  // Rule 2: the first link of every anonymous id whose evidence changed. Where the stored first
  // link went away, every day's evidence of that id is read again.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE touched_anons AS
     SELECT DISTINCT project, anon_hash FROM (
       SELECT project, anon_hash FROM anon_links_added UNION ALL SELECT project, anon_hash FROM anon_links_removed)`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE stale_anons AS
     SELECT DISTINCT f.project, f.anon_hash FROM anon_first f JOIN anon_links_removed r
       ON ${on('f', 'r', [...ANON, 'user_hash', 'event_time', 'received_at'])}`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE anon_new AS
     SELECT project, anon_hash, user_hash, event_time, received_at FROM (
       SELECT f.* FROM anon_first f
         SEMI JOIN touched_anons t ON ${on('f', 't', ANON)}
         ANTI JOIN stale_anons s ON ${on('f', 's', ANON)}
       UNION ALL SELECT project, anon_hash, user_hash, event_time, received_at FROM anon_links_added
       UNION ALL SELECT l.project, l.anon_hash, l.user_hash, l.event_time, l.received_at FROM anon_links l
         SEMI JOIN stale_anons s ON ${on('l', 's', ANON)}
     ) QUALIFY row_number() OVER (PARTITION BY project, anon_hash ORDER BY event_time, received_at, user_hash) = 1`,
  );
  await db.run(`DELETE FROM anon_first USING touched_anons t WHERE ${on('anon_first', 't', ANON)}`);
  await db.run(`INSERT INTO anon_first SELECT * FROM anon_new`);

  // Rule 3: the groups of the users at either end of a changed alias, walked over every alias.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE alias_groups AS
     WITH RECURSIVE edges AS (
       SELECT DISTINCT project, from_hash AS a, to_hash AS b FROM alias_links
       UNION SELECT DISTINCT project, to_hash, from_hash FROM alias_links
     ),
     touched AS (
       SELECT DISTINCT project, u FROM (
         SELECT project, from_hash AS u FROM alias_links_added UNION ALL SELECT project, to_hash FROM alias_links_added
         UNION ALL SELECT project, from_hash FROM alias_links_removed UNION ALL SELECT project, to_hash FROM alias_links_removed)
     ),
     reach(project, start, node) AS (
       SELECT project, u, u FROM touched
       UNION SELECT r.project, r.start, e.b FROM reach r JOIN edges e ON e.project = r.project AND e.a = r.node
     )
     SELECT DISTINCT r.project, r.node AS user_hash, m.root FROM reach r
     JOIN (SELECT project, start, min(node) AS root FROM reach GROUP BY project, start) m
       ON m.project = r.project AND m.start = r.start`,
  );

  // The person of every id whose person may have changed: the users of those groups, the
  // anonymous ids of changed evidence and those whose first user is in one of the groups.
  await db.run(
    `CREATE OR REPLACE TEMP TABLE affected AS
     SELECT project, user_hash AS id_hash, root AS person FROM alias_groups
     UNION ALL
     SELECT a.project, a.anon_hash, coalesce(g.root, p.person, a.user_hash) FROM (
       SELECT f.project, f.anon_hash, f.user_hash FROM anon_first f
         SEMI JOIN alias_groups g ON f.project = g.project AND f.user_hash = g.user_hash
       UNION SELECT f.project, f.anon_hash, f.user_hash FROM anon_first f SEMI JOIN touched_anons t ON ${on('f', 't', ANON)}
     ) a
     LEFT JOIN alias_groups g ON g.project = a.project AND g.user_hash = a.user_hash
     LEFT JOIN people p ON p.project = a.project AND p.id_hash = a.user_hash
     UNION ALL
     SELECT t.project, t.anon_hash, t.anon_hash FROM touched_anons t ANTI JOIN anon_first f ON ${on('f', 't', ANON)}`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE changed_ids AS
     SELECT a.project, a.id_hash, coalesce(p.person, a.id_hash) AS old_person, a.person AS new_person FROM affected a
     LEFT JOIN people p ON p.project = a.project AND p.id_hash = a.id_hash
     WHERE coalesce(p.person, a.id_hash) <> a.person`,
  );
  await db.run(
    `DELETE FROM people USING changed_ids c WHERE people.project = c.project AND people.id_hash = c.id_hash`,
  );
  await db.run(
    `INSERT INTO people SELECT a.project, a.id_hash, a.person FROM affected a
     SEMI JOIN changed_ids c ON a.project = c.project AND a.id_hash = c.id_hash
     WHERE a.person <> a.id_hash`,
  );
  await db.run(
    `CREATE OR REPLACE TEMP TABLE move_pairs AS
     SELECT d.project, d.dt, c.old_person, c.new_person FROM changed_ids c
     JOIN day_ids d ON d.project = c.project AND d.id_hash = c.id_hash`,
  );
  return projectDays(await db.rows(`SELECT DISTINCT project, strftime(dt, '%Y-%m-%d') FROM move_pairs`));
}
