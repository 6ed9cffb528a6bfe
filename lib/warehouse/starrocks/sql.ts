import { PROJECT_ID_PATTERN } from '../../ingest/limits.js';
import { dayNumber } from '../days.js';
import { WarehouseError } from '../warehouse.js';

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

/** A statement, or a part of one, with the values of its placeholders in order. */
export interface Query {
  sql: string;
  values: SqlValue[];
}

/** Where the lake's external catalog reads its metadata. */
export type CatalogConfig =
  | { type: 'glue'; region: string; iamRoleArn?: string }
  | {
      type: 'hive';
      /**
       * The metastore's thrift URI, or several separated by commas (a highly available metastore:
       * Hive's client tries them in turn), each `thrift://<host>:<port>`.
       */
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
  /** Projects that count their bots' rows (rule 0 of people.ts). @default none */
  countBots?: readonly string[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function identifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name))
    throw new WarehouseError(
      'invalid_identifier',
      `${what} ${JSON.stringify(name).slice(0, 70)} is not a plain identifier`,
    );
  return name;
}

export function checkValues(values: readonly unknown[]): SqlValue[] {
  return values.map((v, i) => {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
    throw new WarehouseError(
      'invalid_value',
      `value ${i} of a statement is ${Array.isArray(v) ? 'an array' : typeof v}, not a string or number`,
    );
  });
}

export function project(value: string): string {
  if (!PROJECT_ID_PATTERN.test(value))
    throw new WarehouseError(
      'invalid_value',
      `project ${JSON.stringify(value).slice(0, 70)} is not a project id`,
    );
  return value;
}

export function date(value: string): string {
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

const THRIFT_URI = /^thrift:\/\/[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?:([1-9][0-9]{0,4})$/;

/** One or more metastore URIs, comma-separated (spaces around commas dropped), each checked. */
function metastoreUris(value: string): string {
  const uris = value.split(',').map((uri) => uri.trim());
  for (const uri of uris) {
    const port = Number(THRIFT_URI.exec(uri)?.[2] ?? 0);
    if (port < 1 || port > 65_535)
      throw new WarehouseError(
        'invalid_config',
        `metastore URI ${JSON.stringify(uri).slice(0, 80)} is not thrift://<host>:<port>${uris.length > 1 ? ` (in ${JSON.stringify(value).slice(0, 120)})` : ''}`,
      );
  }
  return uris.join(',');
}

/** A property value in double quotes, refused when it holds characters a value of its kind never has. */
function quote(v: string, what: string, allowed = /^[A-Za-z0-9:/._@-]+$/): string {
  if (!allowed.test(v))
    throw new WarehouseError(
      'invalid_config',
      `${what} ${JSON.stringify(v).slice(0, 80)} has unexpected characters`,
    );
  return `"${v}"`;
}

/**
 * How StarRocks reaches the lake's bucket (`aws.s3.*`): the catalog's storage settings, and those
 * of every `FILES()` read of the lake.
 */
export function s3Properties(catalog: CatalogConfig): Array<[string, string]> {
  if (catalog.type === 'glue')
    return [
      ['aws.s3.use_instance_profile', '"true"'],
      ['aws.s3.region', quote(catalog.region, 'region')],
      ...(catalog.iamRoleArn
        ? ([['aws.s3.iam_role_arn', quote(catalog.iamRoleArn, 'role ARN')]] as Array<[string, string]>)
        : []),
    ];
  return [
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
          ...(catalog.iamRoleArn ? [['aws.s3.iam_role_arn', quote(catalog.iamRoleArn, 'role ARN')]] : []),
        ]) as Array<[string, string]>),
    ...(catalog.s3Endpoint
      ? ([
          ['aws.s3.endpoint', quote(catalog.s3Endpoint, 'S3 endpoint')],
          ['aws.s3.enable_path_style_access', '"true"'],
          ['aws.s3.enable_ssl', catalog.s3Endpoint.startsWith('https:') ? '"true"' : '"false"'],
        ] as Array<[string, string]>)
      : []),
  ];
}

/** `CREATE EXTERNAL CATALOG` for the lake, on Glue or a Hive Metastore. */
export function catalogStatement(catalogName: string, catalog: CatalogConfig): string {
  const name = identifier(catalogName, 'catalog');
  const metastore: Array<[string, string]> =
    catalog.type === 'glue'
      ? [
          ['type', '"hive"'],
          ['hive.metastore.type', '"glue"'],
          ['aws.glue.use_instance_profile', '"true"'],
          ['aws.glue.region', quote(catalog.region, 'region')],
          ...(catalog.iamRoleArn
            ? ([['aws.glue.iam_role_arn', quote(catalog.iamRoleArn, 'role ARN')]] as Array<[string, string]>)
            : []),
        ]
      : [
          ['type', '"hive"'],
          ['hive.metastore.type', '"hive"'],
          ['hive.metastore.uris', `"${metastoreUris(catalog.metastoreUris)}"`],
        ];
  const properties = [...metastore, ...s3Properties(catalog)];
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

/** `?, ?, ...` for a list of values. */
export function marks(values: readonly unknown[]): string {
  return values.map(() => '?').join(', ');
}

/**
 * One row per day of project '' (no project id is empty): `dynamic_overwrite` replaces only the
 * partitions its rows touch, so a day whose rows all went away is replaced through its marker.
 * Readers always name a project or leave '' out, so they never see one.
 */
export function markers(dts: readonly string[], rest: string): string {
  return dts.map(() => `SELECT CAST(? AS DATE), ${rest}`).join(' UNION ALL ');
}

/**
 * `UNION ALL` the rows a day table holds of these days (its marker rows left out), as `columns`;
 * nothing when there are no days. Its placeholders take the days.
 */
export function storedRows(db: string, table: string, columns: string, days: readonly string[]): string {
  return days.length > 0
    ? `UNION ALL SELECT ${columns} FROM ${db}.${table} WHERE dt IN (${marks(days)}) AND project <> ''`
    : '';
}

/** A DATETIME for the NOT NULL columns of marker rows. */
export const EPOCH = "CAST('1970-01-01 00:00:00' AS DATETIME)";

/** Runs one statement with checked values, turning a failure into a WarehouseError naming it. */
export type Run = (sql: string, values?: readonly unknown[]) => Promise<Array<Record<string, unknown>>>;

/** Rows of `project`, `dt` columns as (project, day) pairs. */
export function pairsOf(rows: Array<Record<string, unknown>>): Array<{ project: string; dt: string }> {
  return rows.map((r) => ({ project: String(r.project), dt: date(String(r.dt)) }));
}

/**
 * StarRocks' failure of `REFRESH EXTERNAL TABLE ... PARTITION` naming a partition the metastore
 * does not have: on Glue (3.4, 3.5) a NullPointerException, "null value in entry: <partition>=null"
 * (the batch lookup leaves the partition out of a map that takes no null; issues 13771, 23374).
 */
export function isMissingPartition(error: unknown): boolean {
  return /NullPointerException|null value in entry/.test(String((error as Error | undefined)?.message));
}

/**
 * Lists these partitions' files again in the catalog (100 a statement), so a read sees the files
 * written and not those replaced since it cached them. A partition the metastore lacks (a
 * project's day before its first file) has nothing to read: it is left out, not failing the
 * statement and every read after it.
 */
export async function refreshPartitions(run: Run, table: string, names: readonly string[]): Promise<void> {
  const refresh = (chunk: readonly string[]) =>
    run(`REFRESH EXTERNAL TABLE ${table} PARTITION (${chunk.map((n) => `'${n}'`).join(', ')})`);
  for (let i = 0; i < names.length; i += 100) {
    const chunk = names.slice(i, i + 100);
    try {
      await refresh(chunk);
    } catch (error) {
      if (!isMissingPartition(error)) throw error;
      // One statement fails for any partition missing: each on its own, to find which.
      for (const name of chunk) {
        try {
          await refresh([name]);
        } catch (single) {
          if (!isMissingPartition(single)) throw single;
        }
      }
    }
  }
}
