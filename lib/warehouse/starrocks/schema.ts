import { LAKE_DIMENSIONS } from '../breakdowns.js';
import type { Run } from './sql.js';

/**
 * A dimension's value (breakdowns.ts): the enrichment cuts texts to 128 characters and referrer
 * hosts to 253, at most 4 bytes each in UTF-8.
 */
const VALUE = 'VARCHAR(1024)';

/** The lake columns a refresh reads. */
const COUNTED = `  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  received_at DATETIME NOT NULL,
  event_time DATETIME NOT NULL,
  user_hash BIGINT,
  anonymous_hash BIGINT,
  type VARCHAR(16),
  previous_user_hash BIGINT,
  previous_anonymous_hash BIGINT,
${LAKE_DIMENSIONS.map((d) => `  ${d} ${VALUE}`).join(',\n')}`;

export interface SchemaOptions {
  db: string;
  replicationNum: number;
}

/**
 * The native tables. Day tables are partitioned by day (`dt`) and replaced a whole day at a time;
 * `refresh_*` tables hold one refresh's intermediate rows (refreshes run one at a time).
 */
export function schemaStatements(options: SchemaOptions): string[] {
  const { db } = options;
  const replicas = `PROPERTIES ("replication_num" = "${options.replicationNum}")`;
  const byDay = `PARTITION BY date_trunc('day', dt)\nDISTRIBUTED BY HASH(project)\n${replicas}`;
  const scratch = `DISTRIBUTED BY HASH(project)\n${replicas}`;
  /** A table of ids per day (an id once or more). */
  const idsPerDay = (table: string) => `CREATE TABLE IF NOT EXISTS ${db}.${table} (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL
) DUPLICATE KEY(dt, project, id_hash)
${byDay}`;
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    // The persons active per day (rules in people.ts): what dau/wau/mau count.
    `CREATE TABLE IF NOT EXISTS ${db}.daily_users (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  users BITMAP BITMAP_UNION NOT NULL
) AGGREGATE KEY(dt, project)
${byDay}`,
    // The persons active per day with each value of each of the lake's dimensions (breakdowns.ts).
    `CREATE TABLE IF NOT EXISTS ${db}.daily_values (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  dim VARCHAR(32) NOT NULL,
  value ${VALUE} NOT NULL,
  users BITMAP BITMAP_UNION NOT NULL
) AGGREGATE KEY(dt, project, dim, value)
${byDay}`,
    // The persons first active on each day (new_vs_returning, breakdowns.ts): each person in one
    // day's set, so these sets together hold each person once.
    `CREATE TABLE IF NOT EXISTS ${db}.first_days (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  users BITMAP BITMAP_UNION NOT NULL
) AGGREGATE KEY(dt, project)
${byDay}`,
    `CREATE TABLE IF NOT EXISTS ${db}.active_users (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  dau BIGINT,
  wau BIGINT,
  mau BIGINT,
  computed_at DATETIME
) PRIMARY KEY(dt, project)
DISTRIBUTED BY HASH(project)
${replicas}`,
    // Each lake file a refresh read, with the version it read (a day whose files are all still
    // there as read is appended to) and the bots' rows of its partition's files read with it.
    `CREATE TABLE IF NOT EXISTS ${db}.day_files (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  file VARCHAR(1024) NOT NULL,
  version VARCHAR(256) NOT NULL,
  bot_rows BIGINT NOT NULL
) DUPLICATE KEY(dt, project)
${byDay}`,
    // Bots' ids per day of the lake (rule 0: counted nowhere, shown apart), an id once or more.
    idsPerDay('bot_ids'),
    // The counted lake rows of the days a refresh reads (rules 0-1 of people.ts).
    `CREATE TABLE IF NOT EXISTS ${db}.refresh_rows (
${COUNTED}
) DUPLICATE KEY(dt, project)
${scratch}`,
    // The ids (user_hash, else anonymous_hash) active per day, before they are mapped to persons.
    idsPerDay('day_ids'),
    // Each id's combinations of values of the lake's dimensions per day, before they are mapped
    // to persons.
    `CREATE TABLE IF NOT EXISTS ${db}.day_values (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
${LAKE_DIMENSIONS.map((d) => `  ${d} ${VALUE}`).join(',\n')}
) DUPLICATE KEY(dt, project, id_hash)
${byDay}`,
    // Each id's first active day: where the days of an id that changed person start.
    `CREATE TABLE IF NOT EXISTS ${db}.id_first_day (
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
  first_dt DATE NOT NULL
) PRIMARY KEY(project, id_hash)
DISTRIBUTED BY HASH(project, id_hash)
${replicas}`,
    // Identity evidence per day: each anonymous id's earliest user that day, and aliases.
    `CREATE TABLE IF NOT EXISTS ${db}.anon_links (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  anon_hash BIGINT NOT NULL,
  user_hash BIGINT NOT NULL,
  event_time DATETIME NOT NULL,
  received_at DATETIME NOT NULL
) DUPLICATE KEY(dt, project, anon_hash)
${byDay}`,
    `CREATE TABLE IF NOT EXISTS ${db}.alias_links (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  from_hash BIGINT NOT NULL,
  to_hash BIGINT NOT NULL
) DUPLICATE KEY(dt, project, from_hash)
${byDay}`,
    // A refresh's evidence: the stored and the new of its days, and what was added and removed.
    `CREATE TABLE IF NOT EXISTS ${db}.refresh_evidence (
  kind VARCHAR(12) NOT NULL,
  project VARCHAR(64) NOT NULL,
  dt DATE NOT NULL,
  a BIGINT NOT NULL,
  b BIGINT NOT NULL,
  event_time DATETIME,
  received_at DATETIME
) DUPLICATE KEY(kind, project)
${scratch}`,
    // Each linked anonymous id's earliest link over every day (rule 2).
    `CREATE TABLE IF NOT EXISTS ${db}.anon_first (
  project VARCHAR(64) NOT NULL,
  anon_hash BIGINT NOT NULL,
  user_hash BIGINT NOT NULL,
  event_time DATETIME NOT NULL,
  received_at DATETIME NOT NULL
) PRIMARY KEY(project, anon_hash)
DISTRIBUTED BY HASH(project, anon_hash)
${replicas}`,
    // A refresh's ids: anonymous ids touched and stale, users reached through aliases, and the
    // ids whose person changes (kind 'changed', with the old and new person).
    `CREATE TABLE IF NOT EXISTS ${db}.refresh_ids (
  kind VARCHAR(12) NOT NULL,
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
  start_hash BIGINT,
  person BIGINT,
  old_person BIGINT,
  user_hash BIGINT,
  event_time DATETIME,
  received_at DATETIME
) DUPLICATE KEY(kind, project, id_hash)
${scratch}`,
    // The person of every id that is not its own person.
    `CREATE TABLE IF NOT EXISTS ${db}.people (
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
  person BIGINT NOT NULL
) PRIMARY KEY(project, id_hash)
DISTRIBUTED BY HASH(project, id_hash)
${replicas}`,
    `CREATE TABLE IF NOT EXISTS ${db}.rollup_runs (
  name VARCHAR(16) NOT NULL,
  ran_at DATETIME NOT NULL
) PRIMARY KEY(name)
DISTRIBUTED BY HASH(name)
${replicas}`,
    `CREATE TABLE IF NOT EXISTS ${db}.rollup_manifests (
  manifest_digest VARCHAR(32) NOT NULL,
  manifest_key VARCHAR(1024) NOT NULL,
  processed_at DATETIME
) PRIMARY KEY(manifest_digest)
DISTRIBUTED BY HASH(manifest_digest)
${replicas}`,
  ];
}

/** Creates the database and tables; safe to run again. */
export async function createSchema(run: Run, options: SchemaOptions): Promise<void> {
  for (const statement of schemaStatements(options)) await run(statement);
}

/** The tables the schema creates that hold what the rollup derived (not one refresh's scratch rows). */
export function derivedTables(options: SchemaOptions): string[] {
  return schemaStatements(options)
    .map((statement) => /^CREATE TABLE IF NOT EXISTS \w+\.(\w+)/.exec(statement)?.[1])
    .filter((name): name is string => name !== undefined && !name.startsWith('refresh_'));
}
