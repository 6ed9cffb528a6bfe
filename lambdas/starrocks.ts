import { createPool, type Pool } from 'mysql2/promise';
import { type Env, readProjects, refuseDedupWindow } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { botCountingProjects } from '../lib/ingest/auth.js';
import type { VersionedStore } from '../lib/lake/store.js';
import {
  type LakeFiles,
  type SqlClient,
  type SqlValue,
  type StarRocksConfig,
  StarRocksWarehouse,
  sessionStatements,
  supportedVersion,
  VERSION_QUERY,
} from '../lib/warehouse/starrocks.js';

/**
 * A mysql2 pool as the StarRocks engine's SqlClient: `query()` only (client-side placeholders),
 * one statement per call, and the session settings on every new connection before its first use.
 * The first connection checks the cluster's version: an older one fails every call, saying why.
 */
export function mysqlClient(pool: Pool, session: string[]): SqlClient {
  const prepared = new WeakSet<object>();
  let checked: Promise<string> | null = null;
  return {
    async query(sql: string, values: readonly SqlValue[] = []) {
      const connection = await pool.getConnection();
      try {
        const raw = connection.connection as object;
        if (!prepared.has(raw)) {
          checked ??= connection
            .query(VERSION_QUERY)
            .then(([rows]) => supportedVersion((rows as Array<Record<string, unknown>>)[0]?.version));
          // A failed check (a dropped connection) is tried again on the next call.
          await checked.catch((error: unknown) => {
            checked = null;
            throw error;
          });
          for (const statement of session) await connection.query(statement);
          prepared.add(raw);
        }
        const [rows] = await connection.query(sql, values as SqlValue[]);
        return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : [];
      } finally {
        connection.release();
      }
    },
  };
}

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, 'is required but not set');
  return value;
}

/**
 * Where StarRocks reads the lake's files for a refresh: the bucket, in the function's region
 * (`AWS_REGION`), as the nodes' instance profile or, with `TALLY_STARROCKS_S3_ROLE_ARN`, the role
 * the stack made for them (the catalog's settings, printed by the stack).
 */
export function starRocksLake(env: Env, bucket: string, store: VersionedStore): LakeFiles {
  const region = required(env, 'AWS_REGION');
  const role = env.TALLY_STARROCKS_S3_ROLE_ARN?.trim();
  return {
    location: `s3://${bucket}/`,
    storage: { type: 'glue', region, ...(role ? { iamRoleArn: role } : {}) },
    list: (prefix) => store.listVersions(prefix),
  };
}

/**
 * The StarRocks warehouse from `TALLY_STARROCKS_HOST`, `TALLY_STARROCKS_PORT` (default 9030),
 * `TALLY_STARROCKS_USER`, `TALLY_STARROCKS_PASSWORD` (the CDK app fills it from Secrets Manager),
 * `TALLY_STARROCKS_DATABASE` (default tally) and `TALLY_STARROCKS_REPLICAS` (default 3).
 */
export function starRocksFromEnv(env: Env, lake?: LakeFiles): StarRocksWarehouse {
  refuseDedupWindow(env);
  const port = Number(env.TALLY_STARROCKS_PORT ?? '9030');
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(
      'TALLY_STARROCKS_PORT',
      `must be a port number, got ${JSON.stringify(env.TALLY_STARROCKS_PORT)}`,
    );
  }
  const replicas = Number(env.TALLY_STARROCKS_REPLICAS ?? '3');
  const config: StarRocksConfig = {
    database: env.TALLY_STARROCKS_DATABASE ?? 'tally',
    lakeDatabase: env.TALLY_GLUE_DATABASE ?? 'tally_lake',
    replicationNum: replicas,
    // The projects' settings, where the function reads the projects secret (rollup, metrics).
    countBots: env.TALLY_PROJECTS ? botCountingProjects(readProjects(env)) : [],
  };
  const pool = createPool({
    host: required(env, 'TALLY_STARROCKS_HOST'),
    port,
    user: env.TALLY_STARROCKS_USER ?? 'root',
    password: env.TALLY_STARROCKS_PASSWORD ?? '',
    connectionLimit: 4,
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  return new StarRocksWarehouse(mysqlClient(pool, sessionStatements(config)), config, lake);
}
