import { LAKE_DIMENSIONS } from '../breakdowns.js';
import type { Db } from './sql.js';

/**
 * The layout's version: a database written by an older layout has its derived tables dropped
 * and its rollup watermark cleared, so the next full rollup rebuilds them from the lake.
 */
export const SCHEMA_VERSION = 10;

/**
 * Tables derived from the lake, rebuilt whole when the layout changes (`event_index` and
 * `duplicates`: the duplicate window of layouts before 9, dropped and not made again).
 */
const DERIVED = [
  'daily_users',
  'daily_users_rows',
  'daily_users_gone',
  'person_last',
  'person_first',
  'event_index',
  'duplicates',
  'day_ids',
  'day_values',
  'links',
  'anon_links',
  'alias_links',
  'anon_first',
  'people',
  'active_users',
  'active_values',
  'value_tops',
  'day_reads',
  'day_files',
  'bot_days',
  'bot_ids',
];

const TABLES = [
  // The persons active per day (rules in people.ts), what dau/wau/mau count: the view
  // `daily_users` is these rows without those of `daily_users_gone`. A person a day loses because
  // an id of theirs changed person is written there instead of deleted here: DuckDB's delete
  // costs a step for every 2,048-row vector it touches, and such persons lie on days all over the
  // history. `foldGone` (windows.ts) deletes them in one statement once they are 1% of the rows.
  `CREATE TABLE IF NOT EXISTS daily_users_rows (project VARCHAR NOT NULL, dt DATE NOT NULL, user_hash BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS daily_users_gone (project VARCHAR NOT NULL, dt DATE NOT NULL, user_hash BIGINT NOT NULL)`,
  `CREATE OR REPLACE VIEW daily_users AS SELECT r.project, r.dt, r.user_hash FROM daily_users_rows r
     ANTI JOIN daily_users_gone g ON g.project = r.project AND g.dt = r.dt AND g.user_hash = r.user_hash`,
  // Each person's last active day: the latest day's WAU and MAU are counts of this table. Tables
  // that grow with every person ever seen have no key: DuckDB loads a key's ART index whole and
  // writes all of it at every checkpoint, a cost of the history; the refresh keeps them unique.
  `CREATE TABLE IF NOT EXISTS person_last (project VARCHAR NOT NULL, user_hash BIGINT NOT NULL, last_dt DATE NOT NULL)`,
  // Each person's first active day: `new` on it, `returning` after (new_vs_returning, breakdowns.ts).
  `CREATE TABLE IF NOT EXISTS person_first (project VARCHAR NOT NULL, user_hash BIGINT NOT NULL, first_dt DATE NOT NULL)`,
  // The ids (user_hash, else anonymous_hash) active per day, before they are mapped to persons.
  `CREATE TABLE IF NOT EXISTS day_ids (project VARCHAR NOT NULL, dt DATE NOT NULL, id_hash BIGINT NOT NULL)`,
  // Each id's combinations of values of the lake's dimensions per day (breakdowns.ts), before
  // they are mapped to persons: a breakdown maps them as `people` holds them when it is asked.
  `CREATE TABLE IF NOT EXISTS day_values (project VARCHAR NOT NULL, dt DATE NOT NULL, id_hash BIGINT NOT NULL,
     ${LAKE_DIMENSIONS.map((d) => `${d} VARCHAR`).join(', ')})`,
  // Identity evidence per day: each anonymous id's earliest user that day, and aliases between users.
  `CREATE TABLE IF NOT EXISTS anon_links (project VARCHAR NOT NULL, dt DATE NOT NULL, anon_hash BIGINT NOT NULL,
     user_hash BIGINT NOT NULL, event_time TIMESTAMPTZ NOT NULL, received_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS alias_links (project VARCHAR NOT NULL, dt DATE NOT NULL, from_hash BIGINT NOT NULL,
     to_hash BIGINT NOT NULL)`,
  // Each linked anonymous id's earliest link over every day (rule 2).
  `CREATE TABLE IF NOT EXISTS anon_first (project VARCHAR NOT NULL, anon_hash BIGINT NOT NULL, user_hash BIGINT NOT NULL,
     event_time TIMESTAMPTZ NOT NULL, received_at TIMESTAMPTZ NOT NULL)`,
  // The person of every id that is not its own person (one row per id, no key: see person_last).
  `CREATE TABLE IF NOT EXISTS people (project VARCHAR NOT NULL, id_hash BIGINT NOT NULL, person BIGINT NOT NULL)`,
  // The lake files each day was read from, with the time and size they had: a refresh reads only
  // the files new since, unless one of these was replaced or rewritten (copies.ts).
  `CREATE TABLE IF NOT EXISTS day_files (project VARCHAR NOT NULL, dt DATE NOT NULL, file VARCHAR NOT NULL,
     version VARCHAR NOT NULL)`,
  // Bots' distinct ids per day, so a day read in parts counts them once.
  `CREATE TABLE IF NOT EXISTS bot_ids (project VARCHAR NOT NULL, dt DATE NOT NULL, id_hash BIGINT NOT NULL)`,
  // Bots' rows and distinct ids per day of the lake (rule 0: counted nowhere, shown apart).
  `CREATE TABLE IF NOT EXISTS bot_days (project VARCHAR NOT NULL, dt DATE NOT NULL, events BIGINT NOT NULL,
     ids BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS active_users (project VARCHAR NOT NULL, dt DATE NOT NULL, dau BIGINT NOT NULL,
     wau BIGINT NOT NULL, mau BIGINT NOT NULL, computed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (project, dt))`,
  // dau/wau/mau per value of every dimension (breakdowns.ts; unknown as ''), written with
  // `active_users` for the same days; a value without a row on a rolled-up day has no person in
  // that day's month. `other:<dimension>` (value '') counts the persons of the values not in
  // `value_tops` together.
  `CREATE TABLE IF NOT EXISTS active_values (project VARCHAR NOT NULL, dim VARCHAR NOT NULL, value VARCHAR NOT NULL,
     dt DATE NOT NULL, dau BIGINT NOT NULL, wau BIGINT NOT NULL, mau BIGINT NOT NULL)`,
  // The values of each lake dimension whose persons `other:<dimension>` leaves out (values.ts).
  `CREATE TABLE IF NOT EXISTS value_tops (project VARCHAR NOT NULL, dim VARCHAR NOT NULL, value VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS rollup_manifests (key VARCHAR PRIMARY KEY, processed_at TIMESTAMPTZ NOT NULL)`,
  // When the last rollup run finished.
  `CREATE TABLE IF NOT EXISTS rollup_runs (name VARCHAR PRIMARY KEY, ran_at TIMESTAMPTZ NOT NULL)`,
  // When each day's files were last read, so a query can tell which files of today are newer.
  `CREATE TABLE IF NOT EXISTS day_reads (project VARCHAR NOT NULL, dt DATE NOT NULL, read_at_ms BIGINT NOT NULL,
     PRIMARY KEY (project, dt))`,
];

/** Creates the tables; a database of an older layout loses its derived tables and watermark first. */
export async function createSchema(db: Db): Promise<void> {
  await db.run(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`);
  const [row] = await db.rows(`SELECT max(version) FROM schema_version`);
  if (Number(row?.[0] ?? 0) !== SCHEMA_VERSION) {
    for (const name of DERIVED) {
      const [kind] = await db.rows(
        `SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' AND table_name = '${name}'`,
      );
      if (kind) await db.run(`DROP ${kind[0] === 'VIEW' ? 'VIEW' : 'TABLE'} ${name}`);
    }
    await db.run(`DROP TABLE IF EXISTS rollup_manifests`);
    await db.run(`DELETE FROM schema_version`);
    await db.run(`INSERT INTO schema_version VALUES (${SCHEMA_VERSION})`);
  }
  for (const statement of TABLES) await db.run(statement);
}
