import { createHash } from 'node:crypto';
import { PROJECT_ID_PATTERN } from '../ingest/limits.js';
import {
  addDays,
  affectedDays,
  dayNumber,
  daysFrom,
  MAU_DAYS,
  type ProjectDay,
  uniqueProjectDays,
  WAU_DAYS,
} from './days.js';
import { changedIds, resolvePeople } from './people.js';
import type { ActiveUsersDay, QueryResult, RefreshStats, Warehouse } from './warehouse.js';
import { WarehouseError } from './warehouse.js';

/**
 * What the StarRocks engine needs from a MySQL-protocol client: `query()` with client-side
 * placeholders, one statement per call (mysql2's `query`, never `execute`: StarRocks' binary
 * protocol takes SELECT only).
 */
export interface SqlClient {
  query(sql: string, values?: readonly SqlValue[]): Promise<Array<Record<string, unknown>>>;
}

/** The only values the engine passes: mysql2 would expand arrays and objects into SQL. */
export type SqlValue = string | number;

/** Where the lake's external catalog reads its metadata. */
export type CatalogConfig =
  | { type: 'glue'; region: string; iamRoleArn?: string }
  | {
      type: 'hive';
      metastoreUris: string;
      /** An S3-compatible store instead of AWS S3 (MinIO): path-style access. */
      s3Endpoint?: string;
      s3Region?: string;
      /** Read S3 as this role (with the instance profile's credentials). */
      iamRoleArn?: string;
      /** Keys for a store that takes no instance profile; by default the instance profile. */
      s3Keys?: { accessKey: string; secretKey: string };
    };

export interface StarRocksConfig {
  /** Native database of the rollup tables. @default 'tally' */
  database?: string;
  /** External catalog over the lake. @default 'lake' */
  catalog?: string;
  /** Database of the events table inside the catalog (the Glue database). @default 'tally_lake' */
  lakeDatabase?: string;
  /** @default 'events' */
  eventsTable?: string;
  /** Replicas of the native tables (1 for a single-node cluster). @default 3 */
  replicationNum?: number;
  /** Seconds for `query_timeout` and `insert_timeout`. @default 600 */
  timeoutSeconds?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function identifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name))
    throw new WarehouseError(
      'invalid_identifier',
      `${what} ${JSON.stringify(name).slice(0, 70)} is not a plain identifier`,
    );
  return name;
}

function checkValues(values: readonly unknown[]): SqlValue[] {
  return values.map((v, i) => {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
    throw new WarehouseError(
      'invalid_value',
      `value ${i} of a statement is ${Array.isArray(v) ? 'an array' : typeof v}, not a string or number`,
    );
  });
}

function project(value: string): string {
  if (!PROJECT_ID_PATTERN.test(value))
    throw new WarehouseError(
      'invalid_value',
      `project ${JSON.stringify(value).slice(0, 70)} is not a project id`,
    );
  return value;
}

function date(value: string): string {
  dayNumber(value);
  return value;
}

/** The session settings every pooled connection gets before its first statement. */
export function sessionStatements(config: StarRocksConfig = {}): string[] {
  const timeout = config.timeoutSeconds ?? 600;
  if (!Number.isInteger(timeout) || timeout <= 0)
    throw new WarehouseError('invalid_config', `timeoutSeconds must be a positive integer, got ${timeout}`);
  return [`SET time_zone = '+00:00'`, `SET query_timeout = ${timeout}`, `SET insert_timeout = ${timeout}`];
}

/** `CREATE EXTERNAL CATALOG` for the lake, on Glue or a Hive Metastore. */
export function catalogStatement(catalogName: string, catalog: CatalogConfig): string {
  const name = identifier(catalogName, 'catalog');
  const quote = (v: string, what: string, allowed = /^[A-Za-z0-9:/._@-]+$/) => {
    if (!allowed.test(v))
      throw new WarehouseError(
        'invalid_config',
        `${what} ${JSON.stringify(v).slice(0, 80)} has unexpected characters`,
      );
    return `"${v}"`;
  };
  const properties: Array<[string, string]> =
    catalog.type === 'glue'
      ? [
          ['type', '"hive"'],
          ['hive.metastore.type', '"glue"'],
          ['aws.glue.use_instance_profile', '"true"'],
          ['aws.glue.region', quote(catalog.region, 'region')],
          ['aws.s3.use_instance_profile', '"true"'],
          ['aws.s3.region', quote(catalog.region, 'region')],
          ...(catalog.iamRoleArn
            ? ([
                ['aws.glue.iam_role_arn', quote(catalog.iamRoleArn, 'role ARN')],
                ['aws.s3.iam_role_arn', quote(catalog.iamRoleArn, 'role ARN')],
              ] as Array<[string, string]>)
            : []),
        ]
      : [
          ['type', '"hive"'],
          ['hive.metastore.type', '"hive"'],
          ['hive.metastore.uris', quote(catalog.metastoreUris, 'metastore URI')],
          ...(catalog.s3Region
            ? ([['aws.s3.region', quote(catalog.s3Region, 'region')]] as Array<[string, string]>)
            : []),
          ...((catalog.s3Keys
            ? [
                ['aws.s3.use_instance_profile', '"false"'],
                ['aws.s3.access_key', quote(catalog.s3Keys.accessKey, 'access key')],
                ['aws.s3.secret_key', quote(catalog.s3Keys.secretKey, 'secret key', /^[A-Za-z0-9+/=]+$/)],
              ]
            : [
                ['aws.s3.use_instance_profile', '"true"'],
                ...(catalog.iamRoleArn
                  ? [['aws.s3.iam_role_arn', quote(catalog.iamRoleArn, 'role ARN')]]
                  : []),
              ]) as Array<[string, string]>),
          ...(catalog.s3Endpoint
            ? ([
                ['aws.s3.endpoint', quote(catalog.s3Endpoint, 'S3 endpoint')],
                ['aws.s3.enable_path_style_access', '"true"'],
                ['aws.s3.enable_ssl', catalog.s3Endpoint.startsWith('https:') ? '"true"' : '"false"'],
              ] as Array<[string, string]>)
            : []),
        ];
  return `CREATE EXTERNAL CATALOG IF NOT EXISTS ${name} PROPERTIES (\n${properties.map(([k, v]) => `  "${k}" = ${v}`).join(',\n')}\n)`;
}

/** The oldest StarRocks Tally runs on: `dynamic_overwrite` and `insert_timeout` are 3.4.0's. */
export const MIN_STARROCKS_VERSION = [3, 4] as const;

/** What a connection asks first: the version it talks to. */
export const VERSION_QUERY = 'SELECT current_version() AS version';

/** The version `current_version()` answered, when it is at least the minimum; else a clear error. */
export function supportedVersion(answer: unknown): string {
  const version = String(answer ?? '');
  const m = /^(\d+)\.(\d+)/.exec(version);
  const [major, minor] = MIN_STARROCKS_VERSION;
  if (!m || Number(m[1]) < major || (Number(m[1]) === major && Number(m[2]) < minor)) {
    throw new WarehouseError(
      'unsupported_version',
      `StarRocks ${JSON.stringify(version).slice(0, 40)} is older than ${major}.${minor}, the oldest Tally runs on (it needs dynamic_overwrite and insert_timeout)`,
    );
  }
  return version;
}

/** Days of one window statement (one `SELECT CAST(? AS DATE)` each in its calendar). */
const WINDOW_CHUNK_DAYS = 62;
/** The columns of `refresh_rows`, as `counted()` selects them. */
const REFRESH_ROW_COLUMNS =
  'dt, project, event_key, type, received_at, event_time, user_hash, anonymous_hash, previous_user_hash, previous_anonymous_hash';
/** Ids per `IN (...)` list. */
const ID_CHUNK = 1000;

/**
 * One row per day of project '' (no project id is empty): `dynamic_overwrite` replaces only the
 * partitions its rows touch, so a day whose rows all went away is replaced through its marker.
 * Readers always name a project, so they never see one.
 */
function markers(dts: readonly string[], rest: string): string {
  return dts.map(() => `SELECT CAST(? AS DATE), ${rest}`).join(' UNION ALL ');
}

/** A hash as a SQL literal: bigints from the engine's own reads, digits only. */
function hashLiteral(value: bigint): string {
  if (value < 0n || value > 0x7fff_ffff_ffff_ffffn)
    throw new WarehouseError('invalid_value', `hash ${value} is outside 0..2^63-1`);
  return value.toString();
}

/** `md5` of a manifest key: the rollup watermark's primary key stays within StarRocks' 128 bytes. */
function keyDigest(key: string): string {
  return createHash('md5').update(key).digest('hex');
}

/**
 * The StarRocks engine. The lake is read through an external catalog (what analysts query).
 * Native tables follow the rules of `people.ts`:
 * - `event_index` (primary key `project`, `event_key` = md5 of `event_id`): each event's counted copy;
 * - `day_ids` and `links` (partitioned by day): the ids active per day and the identity evidence;
 * - `people` (primary key): the person of every id that is not its own;
 * - `daily_users` (`BITMAP_UNION` of persons per day and project, partitioned by day);
 * - `active_users` (primary key): dau/wau/mau; `rollup_manifests`: the rollup watermark.
 * Day tables are replaced a whole day at a time (`INSERT OVERWRITE` with `dynamic_overwrite`
 * in the statement's own hint, atomic per partition), for every project of that day.
 */
export class StarRocksWarehouse implements Warehouse {
  private readonly db: string;
  private readonly events: string;
  private readonly replicationNum: number;

  constructor(
    private readonly client: SqlClient,
    config: StarRocksConfig = {},
  ) {
    this.db = identifier(config.database ?? 'tally', 'database');
    this.events = [
      identifier(config.catalog ?? 'lake', 'catalog'),
      identifier(config.lakeDatabase ?? 'tally_lake', 'lake database'),
      identifier(config.eventsTable ?? 'events', 'events table'),
    ].join('.');
    this.replicationNum = config.replicationNum ?? 3;
    if (!Number.isInteger(this.replicationNum) || this.replicationNum < 1) {
      throw new WarehouseError(
        'invalid_config',
        `replicationNum must be a positive integer, got ${this.replicationNum}`,
      );
    }
  }

  private run(sql: string, values: readonly unknown[] = []): Promise<Array<Record<string, unknown>>> {
    return this.client.query(sql, checkValues(values)).catch((error: Error) => {
      throw new WarehouseError(
        'starrocks_error',
        `${error.message} (statement: ${sql.split('\n')[0]!.slice(0, 80)})`,
      );
    });
  }

  /** Refuses a cluster older than the minimum version, naming both. */
  async checkVersion(): Promise<string> {
    const rows = await this.run(VERSION_QUERY);
    return supportedVersion(rows[0]?.version);
  }

  async setup(): Promise<void> {
    await this.checkVersion();
    const replicas = `PROPERTIES ("replication_num" = "${this.replicationNum}")`;
    const byDay = `PARTITION BY date_trunc('day', dt)\nDISTRIBUTED BY HASH(project)\n${replicas}`;
    await this.run(`CREATE DATABASE IF NOT EXISTS ${this.db}`);
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.daily_users (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  users BITMAP BITMAP_UNION NOT NULL
) AGGREGATE KEY(dt, project)
${byDay}`,
    );
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.active_users (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  dau BIGINT,
  wau BIGINT,
  mau BIGINT,
  computed_at DATETIME
) PRIMARY KEY(dt, project)
DISTRIBUTED BY HASH(project)
${replicas}`,
    );
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.event_index (
  project VARCHAR(64) NOT NULL,
  event_key VARCHAR(32) NOT NULL,
  dt DATE NOT NULL,
  received_at DATETIME NOT NULL,
  event_time DATETIME NOT NULL
) PRIMARY KEY(project, event_key)
DISTRIBUTED BY HASH(project, event_key)
${replicas}`,
    );
    // The counted rows of the days a refresh recomputes, read from the lake once per refresh and
    // used by the event index, the day's ids and its identity evidence (rewritten whole each time;
    // refreshes run one at a time).
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.refresh_rows (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  event_key VARCHAR(32) NOT NULL,
  type VARCHAR(16),
  received_at DATETIME,
  event_time DATETIME,
  user_hash BIGINT,
  anonymous_hash BIGINT,
  previous_user_hash BIGINT,
  previous_anonymous_hash BIGINT
) DUPLICATE KEY(dt, project)
DISTRIBUTED BY HASH(project)
${replicas}`,
    );
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.day_ids (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL
) DUPLICATE KEY(dt, project, id_hash)
${byDay}`,
    );
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.links (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  kind VARCHAR(8) NOT NULL,
  from_hash BIGINT NOT NULL,
  to_hash BIGINT NOT NULL,
  event_time DATETIME,
  received_at DATETIME
) DUPLICATE KEY(dt, project, kind)
${byDay}`,
    );
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.people (
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
  person BIGINT NOT NULL
) PRIMARY KEY(project, id_hash)
DISTRIBUTED BY HASH(project, id_hash)
${replicas}`,
    );
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.rollup_runs (
  name VARCHAR(16) NOT NULL,
  ran_at DATETIME NOT NULL
) PRIMARY KEY(name)
DISTRIBUTED BY HASH(name)
${replicas}`,
    );
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.rollup_manifests (
  manifest_digest VARCHAR(32) NOT NULL,
  manifest_key VARCHAR(1024) NOT NULL,
  processed_at DATETIME
) PRIMARY KEY(manifest_digest)
DISTRIBUTED BY HASH(manifest_digest)
${replicas}`,
    );
  }

  /** `?, ?, ...` for a list of values. */
  private marks(values: readonly unknown[]): string {
    return values.map(() => '?').join(', ');
  }

  /** The lake's rows of these days, the first copy of each event among them ranked 1. */
  private ranked(dts: readonly string[]): string {
    return `SELECT project, CAST(dt AS DATE) AS dt, md5(event_id) AS event_key, type, received_at, event_time,
    user_hash, anonymous_hash, previous_user_hash, previous_anonymous_hash,
    row_number() OVER (PARTITION BY project, event_id
      ORDER BY received_at, event_time, coalesce(user_hash, -1), coalesce(anonymous_hash, -1)) AS copy
  FROM ${this.events} WHERE dt IN (${this.marks(dts)})`;
  }

  /**
   * The counted copies of these days: first among the day's copies, and no copy of another day
   * indexed (an earlier one: a later one would have moved that day into `dts`).
   */
  private counted(dts: readonly string[]): { sql: string; values: string[] } {
    return {
      sql: `SELECT s.* FROM (${this.ranked(dts)}) s
  LEFT JOIN (SELECT project, event_key FROM ${this.db}.event_index WHERE dt NOT IN (${this.marks(dts)})) o
    ON o.project = s.project AND o.event_key = s.event_key
  WHERE s.copy = 1 AND o.event_key IS NULL`,
      values: [...dts, ...dts],
    };
  }

  /**
   * A refresh: (1) the changed days, plus every day holding an indexed copy that a copy of those
   * days received earlier, are read again; (2) their event index, ids and identity evidence are
   * rebuilt, and the people of the projects whose evidence changed, adding the days where an id
   * changed person; (3) the persons of all those days are replaced and the windows holding them
   * upserted, a row for every day (a quiet day included). A run that dies is redone whole by the
   * next (its manifests are recorded last) and gives the same numbers.
   */
  async refresh(changed: readonly ProjectDay[], today: string): Promise<RefreshStats> {
    const requested = uniqueProjectDays(
      changed.map((c) => ({ project: project(c.project), dt: date(c.dt) })),
    );
    if (requested.length === 0) return { daysRecomputed: 0, windowsRecomputed: 0 };
    date(today);
    const partitions = requested.map((d) => `'project=${d.project}/dt=${d.dt}'`).join(', ');
    await this.run(`REFRESH EXTERNAL TABLE ${this.events} PARTITION (${partitions})`);
    const dts = await this.withDisplaced([...new Set(requested.map((d) => d.dt))].sort());
    // The lake's rows of these days are read once, here: the three statements below use them.
    const counted = this.counted(dts);
    const rows = `${this.db}.refresh_rows`;
    await this.run(
      `INSERT OVERWRITE ${rows} (${REFRESH_ROW_COLUMNS})
SELECT ${REFRESH_ROW_COLUMNS} FROM (${counted.sql}) c`,
      counted.values,
    );
    await this.run(`DELETE FROM ${this.db}.event_index WHERE dt IN (${this.marks(dts)})`, dts);
    await this.run(
      `INSERT INTO ${this.db}.event_index (project, event_key, dt, received_at, event_time)
SELECT project, event_key, dt, received_at, event_time FROM ${rows}`,
    );
    const presentIn = async (days: readonly string[]) =>
      (
        await this.run(
          `SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM ${this.db}.day_ids
WHERE dt IN (${this.marks(days)}) AND project <> ''`,
          days,
        )
      ).map((r) => ({ project: String(r.project), dt: String(r.dt) }));
    // A day a project no longer has any event of (its copies counted elsewhere) changes too.
    const presentBefore = await presentIn(dts);
    await this.run(
      `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${this.db}.day_ids (dt, project, id_hash)
SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) FROM ${rows}
WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
UNION ALL ${markers(dts, "'', 0")}`,
      dts,
    );
    const linkedProjects = async () =>
      (
        await this.run(
          `SELECT DISTINCT project FROM ${this.db}.links WHERE dt IN (${this.marks(dts)}) AND project <> ''`,
          dts,
        )
      ).map((r) => String(r.project));
    const before = await linkedProjects();
    await this.run(
      `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${this.db}.links
  (dt, project, kind, from_hash, to_hash, event_time, received_at)
SELECT dt, project, kind, from_hash, to_hash, event_time, received_at FROM (
  SELECT dt, project, kind, from_hash, to_hash, event_time, received_at,
    row_number() OVER (PARTITION BY project, dt, kind, from_hash, alias_to ORDER BY event_time, received_at, to_hash) AS nth
  FROM (
    SELECT c.dt, c.project, CASE WHEN s.side = 3 THEN 'alias' ELSE 'anon' END AS kind,
      CASE s.side WHEN 1 THEN c.anonymous_hash WHEN 2 THEN c.previous_anonymous_hash ELSE c.previous_user_hash END AS from_hash,
      c.user_hash AS to_hash, c.event_time, c.received_at,
      -- An anonymous id keeps its earliest user of the day; an alias keeps every pair once.
      CASE WHEN s.side = 3 THEN c.user_hash ELSE 0 END AS alias_to
    FROM ${rows} c
    CROSS JOIN (SELECT 1 AS side UNION ALL SELECT 2 UNION ALL SELECT 3) s
    WHERE c.user_hash IS NOT NULL AND (s.side = 1 OR c.type = 'alias')
  ) e
  WHERE from_hash IS NOT NULL AND NOT (kind = 'alias' AND from_hash = to_hash)
) f WHERE nth = 1
UNION ALL ${markers(dts, "'', 'none', 0, 0, CAST(NULL AS DATETIME), CAST(NULL AS DATETIME)")}`,
      dts,
    );
    const after = await linkedProjects();
    const moved: ProjectDay[] = [];
    for (const name of new Set([...before, ...after])) moved.push(...(await this.resolveProject(name)));
    const targets = [...new Set([...dts, ...moved.map((m) => m.dt)])].sort();
    await this.run(
      `INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE ${this.db}.daily_users (dt, project, users)
SELECT d.dt, d.project, bitmap_union(to_bitmap(coalesce(p.person, d.id_hash)))
FROM ${this.db}.day_ids d
LEFT JOIN ${this.db}.people p ON p.project = d.project AND p.id_hash = d.id_hash
WHERE d.dt IN (${this.marks(targets)}) AND d.project <> ''
GROUP BY d.dt, d.project
UNION ALL ${markers(targets, "'', bitmap_empty()")}`,
      [...targets, ...targets],
    );
    const days = uniqueProjectDays([...requested, ...moved, ...presentBefore, ...(await presentIn(targets))]);
    const windows = affectedDays(days, today);
    const byProject = new Map<string, string[]>();
    for (const w of windows) byProject.set(w.project, [...(byProject.get(w.project) ?? []), w.dt]);
    for (const [name, targetDays] of byProject) {
      for (let i = 0; i < targetDays.length; i += WINDOW_CHUNK_DAYS) {
        const chunk = targetDays.slice(i, i + WINDOW_CHUNK_DAYS);
        const select = this.windowsSelect(name, chunk);
        await this.run(
          `INSERT INTO ${this.db}.active_users (dt, project, dau, wau, mau, computed_at)\n${select.sql}`,
          select.values,
        );
      }
    }
    return { daysRecomputed: days.length, windowsRecomputed: windows.length };
  }

  /** Adds the days holding an indexed copy that a copy of these days was received before. */
  private async withDisplaced(start: string[]): Promise<string[]> {
    let dts = start;
    for (;;) {
      const rows = await this.run(
        `SELECT DISTINCT CAST(i.dt AS VARCHAR) AS dt FROM ${this.db}.event_index i
JOIN (
  SELECT project, md5(event_id) AS event_key, received_at, event_time FROM ${this.events} WHERE dt IN (${this.marks(dts)})
) s ON s.project = i.project AND s.event_key = i.event_key
WHERE i.dt NOT IN (${this.marks(dts)})
  AND (s.received_at < i.received_at OR (s.received_at = i.received_at AND s.event_time < i.event_time))`,
        [...dts, ...dts],
      );
      const more = rows.map((r) => date(String(r.dt))).filter((d) => !dts.includes(d));
      if (more.length === 0) return dts;
      dts = [...dts, ...more].sort();
    }
  }

  /** Recomputes a project's people from its evidence; returns the days of the ids that changed person. */
  private async resolveProject(name: string): Promise<ProjectDay[]> {
    const pairs = (rows: Array<Record<string, unknown>>) =>
      rows.map((r) => [BigInt(String(r.a)), BigInt(String(r.b))] as const);
    const firstUsers = await this.run(
      `SELECT CAST(from_hash AS VARCHAR) AS a, CAST(to_hash AS VARCHAR) AS b FROM (
  SELECT from_hash, to_hash,
    row_number() OVER (PARTITION BY from_hash ORDER BY event_time, received_at, to_hash) AS nth
  FROM ${this.db}.links WHERE project = ? AND kind = 'anon'
) f WHERE nth = 1`,
      [name],
    );
    const aliases = await this.run(
      `SELECT DISTINCT CAST(from_hash AS VARCHAR) AS a, CAST(to_hash AS VARCHAR) AS b
FROM ${this.db}.links WHERE project = ? AND kind = 'alias'`,
      [name],
    );
    const stored = await this.run(
      `SELECT CAST(id_hash AS VARCHAR) AS a, CAST(person AS VARCHAR) AS b FROM ${this.db}.people WHERE project = ?`,
      [name],
    );
    const after = resolvePeople(
      pairs(firstUsers).map(([anonymousHash, userHash]) => ({ anonymousHash, userHash })),
      pairs(aliases).map(([from, to]) => ({ from, to })),
    );
    const changed = changedIds(new Map(pairs(stored)), after);
    const days = new Set<string>();
    for (let i = 0; i < changed.length; i += ID_CHUNK) {
      const chunk = changed.slice(i, i + ID_CHUNK);
      const ids = chunk.map(hashLiteral).join(', ');
      await this.run(`DELETE FROM ${this.db}.people WHERE project = ? AND id_hash IN (${ids})`, [name]);
      const rows = chunk.filter((id) => after.has(id));
      if (rows.length > 0) {
        await this.run(
          `INSERT INTO ${this.db}.people (project, id_hash, person) VALUES ${rows
            .map((id) => `(?, ${hashLiteral(id)}, ${hashLiteral(after.get(id)!)})`)
            .join(', ')}`,
          rows.map(() => name),
        );
      }
      for (const r of await this.run(
        `SELECT DISTINCT CAST(dt AS VARCHAR) AS dt FROM ${this.db}.day_ids WHERE project = ? AND id_hash IN (${ids})`,
        [name],
      ))
        days.add(date(String(r.dt)));
    }
    return [...days].map((dt) => ({ project: name, dt }));
  }

  /**
   * dau/wau/mau of these days of a project from `daily_users`, a row for every day (a quiet day
   * reads 0 for DAU and the windows' persons for WAU/MAU). Every join has constant `dt` bounds,
   * so only the partitions of the windows are read.
   */
  private windowsSelect(name: string, days: readonly string[]): { sql: string; values: SqlValue[] } {
    const first = addDays(days[0]!, -(MAU_DAYS - 1));
    const last = days[days.length - 1]!;
    const calendar = days.map(() => 'SELECT CAST(? AS DATE) AS dt').join(' UNION ALL ');
    const windowOf = (n: number) =>
      `SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (${calendar}) c
  JOIN ${this.db}.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL ${n - 1} DAY) AND c.dt
  GROUP BY c.dt`;
    const windowValues = [...days, name, first, last];
    return {
      sql: `SELECT c.dt AS dt, ? AS project, coalesce(d.n, 0) AS dau, coalesce(w.n, 0) AS wau,
  coalesce(m.n, 0) AS mau, now() AS computed_at
FROM (${calendar}) c
LEFT JOIN (${windowOf(MAU_DAYS)}) m ON m.dt = c.dt
LEFT JOIN (${windowOf(WAU_DAYS)}) w ON w.dt = c.dt
LEFT JOIN (${windowOf(1)}) d ON d.dt = c.dt`,
      values: [name, ...days, ...windowValues, ...windowValues, ...windowValues],
    };
  }

  async activeUsers(name: string, from: string, to: string, today: string): Promise<ActiveUsersDay[]> {
    project(name);
    const last = dayNumber(to) < dayNumber(today) ? date(to) : date(today);
    if (dayNumber(from) > dayNumber(last)) return [];
    const rows = await this.run(
      `SELECT CAST(dt AS VARCHAR) AS dt, dau, wau, mau FROM ${this.db}.active_users
WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
ORDER BY dt`,
      [name, date(from), last, today],
    );
    const byDay = new Map(rows.map((r) => [String(r.dt), numbers(String(r.dt), r)]));
    // Past days without a row (after the last rollup's today, before any event) from daily_users.
    const missing = daysFrom(from, last).filter((d) => d !== today && !byDay.has(d));
    for (let i = 0; i < missing.length; i += WINDOW_CHUNK_DAYS) {
      const select = this.windowsSelect(name, missing.slice(i, i + WINDOW_CHUNK_DAYS));
      const computed = await this.run(
        `SELECT CAST(x.dt AS VARCHAR) AS dt, x.dau, x.wau, x.mau FROM (\n${select.sql}\n) x`,
        select.values,
      );
      for (const r of computed) byDay.set(String(r.dt), numbers(String(r.dt), r));
    }
    if (last === today) byDay.set(today, await this.liveToday(name, today));
    return daysFrom(from, last).map((dt) => byDay.get(dt) ?? { dt, dau: 0, wau: 0, mau: 0 });
  }

  /**
   * Today from a live scan of the lake, merged with the rolled-up days before it: copies of
   * events counted on another day are left out, ids map to persons as of the last rollup.
   */
  private async liveToday(name: string, today: string): Promise<ActiveUsersDay> {
    const live = `SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5(event_id) AS event_key, coalesce(user_hash, anonymous_hash) AS id
    FROM ${this.events} WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
  ) x
  LEFT JOIN (SELECT event_key FROM ${this.db}.event_index WHERE project = ? AND dt <> ?) i ON i.event_key = x.event_key
  LEFT JOIN (SELECT id_hash, person FROM ${this.db}.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.event_key IS NULL`;
    const windowCount = async (days: number) => {
      const rows = await this.run(
        `SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM ${this.db}.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  ${live}
) x`,
        [name, addDays(today, -(days - 1)), addDays(today, -1), name, today, name, today, name],
      );
      return Number(rows[0]?.n ?? 0);
    };
    return {
      dt: today,
      dau: await windowCount(1),
      wau: await windowCount(WAU_DAYS),
      mau: await windowCount(MAU_DAYS),
    };
  }

  async lastRollup(): Promise<Date | null> {
    const rows = await this.run(`SELECT CAST(max(ran_at) AS VARCHAR) AS at FROM ${this.db}.rollup_runs`);
    const at = rows[0]?.at;
    return at ? new Date(`${String(at).replace(' ', 'T')}Z`) : null;
  }

  async recordRollup(at: Date): Promise<void> {
    await this.run(`INSERT INTO ${this.db}.rollup_runs (name, ran_at) VALUES ('last', ?)`, [
      at.toISOString().replace('T', ' ').replace('Z', ''),
    ]);
  }

  async processedManifests(prefix: string): Promise<Set<string>> {
    const rows = await this.run(
      `SELECT manifest_key FROM ${this.db}.rollup_manifests WHERE manifest_key LIKE ?`,
      [`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
    );
    return new Set(rows.map((r) => String(r.manifest_key)));
  }

  async markProcessed(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      checkValues(chunk);
      await this.run(
        `INSERT INTO ${this.db}.rollup_manifests (manifest_digest, manifest_key, processed_at) VALUES ${chunk.map(() => '(?, ?, now())').join(', ')}`,
        chunk.flatMap((key) => [keyDigest(key), key]),
      );
    }
  }

  async query(): Promise<QueryResult> {
    throw new WarehouseError(
      'unsupported',
      'analyst SQL runs in StarRocks itself: connect with any MySQL client to port 9030 and query lake.tally_lake.events',
    );
  }

  async close(): Promise<void> {}
}

function numbers(dt: string, r: Record<string, unknown>): ActiveUsersDay {
  return { dt, dau: Number(r.dau), wau: Number(r.wau), mau: Number(r.mau) };
}
