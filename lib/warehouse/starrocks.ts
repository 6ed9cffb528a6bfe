import { PROJECT_ID_PATTERN } from '../ingest/limits.js';
import {
  addDays,
  affectedDays,
  dayNumber,
  MAU_DAYS,
  type ProjectDay,
  uniqueProjectDays,
  WAU_DAYS,
} from './days.js';
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
  | { type: 'hive'; metastoreUris: string; s3Endpoint?: string; s3Region?: string };

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
  return [
    `SET time_zone = '+00:00'`,
    `SET query_timeout = ${timeout}`,
    `SET insert_timeout = ${timeout}`,
    `SET dynamic_overwrite = true`,
  ];
}

/** `CREATE EXTERNAL CATALOG` for the lake, on Glue or a Hive Metastore. */
export function catalogStatement(catalogName: string, catalog: CatalogConfig): string {
  const name = identifier(catalogName, 'catalog');
  const quote = (v: string, what: string) => {
    if (!/^[A-Za-z0-9:/._@-]+$/.test(v))
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

/**
 * The StarRocks engine: the lake through an external catalog (what analysts query), and two
 * native tables: `daily_users` (a BITMAP_UNION of users per day and project, partitioned by day)
 * and `active_users` (a primary-key table of dau/wau/mau). Rollups overwrite whole day partitions
 * (`INSERT OVERWRITE` with `dynamic_overwrite`, atomic per partition) and upsert the windows.
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

  async setup(): Promise<void> {
    const replicas = `PROPERTIES ("replication_num" = "${this.replicationNum}")`;
    await this.run(`CREATE DATABASE IF NOT EXISTS ${this.db}`);
    await this.run(
      `CREATE TABLE IF NOT EXISTS ${this.db}.daily_users (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  users BITMAP BITMAP_UNION NOT NULL
) AGGREGATE KEY(dt, project)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
${replicas}`,
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
      `CREATE TABLE IF NOT EXISTS ${this.db}.rollup_manifests (
  manifest_key VARCHAR(512) NOT NULL,
  processed_at DATETIME
) PRIMARY KEY(manifest_key)
DISTRIBUTED BY HASH(manifest_key)
${replicas}`,
    );
  }

  /**
   * Recomputes whole days: `daily_users` is partitioned by day across projects, so a day's
   * partition is rebuilt for every project that has events that day (an overwrite with only the
   * changed project would drop the others). Then dau/wau/mau are upserted per project.
   */
  async refresh(changed: readonly ProjectDay[], today: string): Promise<RefreshStats> {
    const days = uniqueProjectDays(changed.map((c) => ({ project: project(c.project), dt: date(c.dt) })));
    if (days.length === 0) return { daysRecomputed: 0, windowsRecomputed: 0 };
    date(today);
    const partitions = days.map((d) => `'project=${d.project}/dt=${d.dt}'`).join(', ');
    await this.run(`REFRESH EXTERNAL TABLE ${this.events} PARTITION (${partitions})`);
    const distinctDays = [...new Set(days.map((d) => d.dt))];
    await this.run(
      `INSERT OVERWRITE ${this.db}.daily_users (dt, project, users)
SELECT CAST(dt AS DATE), project, bitmap_union(to_bitmap(coalesce(user_hash, anonymous_hash)))
FROM ${this.events}
WHERE dt IN (${distinctDays.map(() => '?').join(', ')})
  AND coalesce(user_hash, anonymous_hash) IS NOT NULL
GROUP BY dt, project`,
      distinctDays,
    );
    const windows = affectedDays(days, today);
    const byProject = new Map<string, string[]>();
    for (const w of windows) byProject.set(w.project, [...(byProject.get(w.project) ?? []), w.dt]);
    for (const [name, targetDays] of byProject) await this.upsertWindows(name, targetDays);
    return { daysRecomputed: days.length, windowsRecomputed: windows.length };
  }

  private async upsertWindows(name: string, targetDays: string[]): Promise<void> {
    const calendar = targetDays.map(() => 'SELECT CAST(? AS DATE) AS dt').join(' UNION ALL ');
    const windowOf = (days: number) =>
      `SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (${calendar}) c
  JOIN ${this.db}.daily_users u
    ON u.project = ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL ${days - 1} DAY) AND c.dt
  GROUP BY c.dt`;
    await this.run(
      `INSERT INTO ${this.db}.active_users (dt, project, dau, wau, mau, computed_at)
SELECT m.dt, ?, coalesce(d.n, 0), coalesce(w.n, 0), m.n, now()
FROM (${windowOf(MAU_DAYS)}) m
LEFT JOIN (${windowOf(WAU_DAYS)}) w ON w.dt = m.dt
LEFT JOIN (${windowOf(1)}) d ON d.dt = m.dt`,
      [name, ...targetDays, name, ...targetDays, name, ...targetDays, name],
    );
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
    const byDay = new Map(
      rows.map((r) => [
        String(r.dt),
        { dt: String(r.dt), dau: Number(r.dau), wau: Number(r.wau), mau: Number(r.mau) },
      ]),
    );
    if (last === today) byDay.set(today, await this.liveToday(name, today));
    const out: ActiveUsersDay[] = [];
    for (let d = dayNumber(from); d <= dayNumber(last); d++) {
      const dt = addDays(from, d - dayNumber(from));
      out.push(byDay.get(dt) ?? { dt, dau: 0, wau: 0, mau: 0 });
    }
    return out;
  }

  /** Today from a live scan of the lake, merged with the rolled-up days before it. */
  private async liveToday(name: string, today: string): Promise<ActiveUsersDay> {
    const live = `SELECT bitmap_union(to_bitmap(coalesce(user_hash, anonymous_hash))) AS users
    FROM ${this.events} WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL`;
    const windowCount = async (days: number) => {
      const rows = await this.run(
        `SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM ${this.db}.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  ${live}
) x`,
        [name, addDays(today, -(days - 1)), addDays(today, -1), name, today],
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

  async lastRefresh(name: string): Promise<Date | null> {
    const rows = await this.run(
      `SELECT CAST(max(computed_at) AS VARCHAR) AS at FROM ${this.db}.active_users WHERE project = ?`,
      [project(name)],
    );
    const at = rows[0]?.at;
    return at ? new Date(`${String(at).replace(' ', 'T')}Z`) : null;
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
      await this.run(
        `INSERT INTO ${this.db}.rollup_manifests (manifest_key, processed_at) VALUES ${chunk.map(() => '(?, now())').join(', ')}`,
        chunk,
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
