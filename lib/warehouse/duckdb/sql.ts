import { readdirSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { PROJECT_ID_PATTERN } from '../../ingest/limits.js';
import { fileVersion } from '../../lake/fs-store.js';
import type { ProjectDay } from '../days.js';
import { alikeColumns } from '../people.js';
import { WarehouseError } from '../warehouse.js';

/** What the engine's modules need of a connection: run a statement, or read its rows. */
export interface Db {
  run(sql: string): Promise<void>;
  rows(sql: string): Promise<unknown[][]>;
}

export function db(connection: DuckDBConnection): Db {
  return {
    run: async (sql) => {
      await connection.run(sql);
    },
    rows: async (sql) => (await connection.runAndReadAll(sql)).getRows() as unknown[][],
  };
}

/** A project id or date, checked before it is written into SQL as a literal. */
export function literal(value: string, kind: 'project' | 'date'): string {
  if (kind === 'project' ? !PROJECT_ID_PATTERN.test(value) : !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw new WarehouseError(
      'invalid_value',
      `refusing ${kind} ${JSON.stringify(value).slice(0, 70)} in SQL`,
    );
  }
  return kind === 'date' ? `DATE '${value}'` : `'${value}'`;
}

/** A text as a DuckDB string literal (standard strings: a quote is doubled, nothing else is special). */
export function text(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A `(project, dt)` table of these pairs, as `t`. */
export function pairsTable(pairs: readonly ProjectDay[]): string {
  if (pairs.length === 0)
    return '(SELECT CAST(NULL AS VARCHAR) AS project, CAST(NULL AS DATE) AS dt WHERE false) AS t';
  return `(VALUES ${pairs.map((p) => `(${literal(p.project, 'project')}, ${literal(p.dt, 'date')})`).join(', ')}) AS t(project, dt)`;
}

/**
 * `BETWEEN` the first and last of these days: a filter on a day column that DuckDB's zone maps
 * prune by (a join with the days alone reads every row group).
 */
export function dayRange(pairs: readonly ProjectDay[]): string {
  const dts = pairs.map((p) => p.dt).sort();
  return `BETWEEN ${literal(dts[0]!, 'date')} AND ${literal(dts[dts.length - 1]!, 'date')}`;
}

/**
 * A predicate true for rows of `alias` on these (project, day) pairs, written with literals so
 * that DuckDB prunes row groups by it.
 */
export function inDays(alias: string, pairs: readonly ProjectDay[]): string {
  const byProject = new Map<string, string[]>();
  for (const p of pairs) byProject.set(p.project, [...(byProject.get(p.project) ?? []), p.dt]);
  const terms = [...byProject].map(
    ([project, dts]) =>
      `(${alias}.project = ${literal(project, 'project')} AND ${alias}.dt IN (${dts.map((d) => literal(d, 'date')).join(', ')}))`,
  );
  return `(${terms.join(' OR ')})`;
}

/** Rows of a result as (project, day) pairs: the first two columns. */
export function projectDays(rows: unknown[][]): ProjectDay[] {
  return rows.map(([project, dt]) => ({ project: String(project), dt: String(dt) }));
}

export function sqlPath(path: string): string {
  return `'${path.replaceAll("'", "''")}'`;
}

/** Columns of the lake, for the typed empty view used before the first file lands. */
export const EMPTY_EVENTS = `SELECT NULL::VARCHAR AS event_id, NULL::VARCHAR AS type, NULL::VARCHAR AS event,
  NULL::BIGINT AS user_hash, NULL::BIGINT AS anonymous_hash, NULL::TIMESTAMPTZ AS event_time,
  NULL::TIMESTAMPTZ AS received_at, NULL::VARCHAR AS properties, NULL::VARCHAR AS context,
  NULL::INTEGER AS key_version, NULL::VARCHAR AS flags, NULL::VARCHAR AS channel,
  NULL::BIGINT AS previous_user_hash, NULL::BIGINT AS previous_anonymous_hash, NULL::VARCHAR AS country,
  NULL::VARCHAR AS platform, NULL::VARCHAR AS os, NULL::VARCHAR AS browser, NULL::VARCHAR AS device_type,
  NULL::VARCHAR AS app_version, NULL::VARCHAR AS library, NULL::VARCHAR AS utm_source, NULL::VARCHAR AS utm_medium,
  NULL::VARCHAR AS utm_campaign, NULL::VARCHAR AS referrer_domain, NULL::BOOLEAN AS bot,
  NULL::VARCHAR AS project, NULL::DATE AS dt WHERE false`;

/** The directory of a (project, day) partition of the lake under `lakeRoot`. */
export function dayDir(lakeRoot: string, project: string, dt: string): string {
  return join(lakeRoot, 'events', `project=${project}`, `dt=${dt}`);
}

/** A Parquet file of a lake partition: its name, path, time, and a version (time and size) that a file written again changes. */
export interface LakeFile {
  name: string;
  path: string;
  mtimeMs: number;
  version: string;
}

/** The Parquet files of a lake partition, by name (none when the directory is missing). */
export async function dayFiles(lakeRoot: string, project: string, dt: string): Promise<LakeFile[]> {
  const dir = dayDir(lakeRoot, project, dt);
  const files: LakeFile[] = [];
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (!name.endsWith('.parquet')) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => null);
    if (info) files.push({ name, path, mtimeMs: info.mtimeMs, version: fileVersion(info) });
  }
  return files;
}

/** Whether a lake directory holds a Parquet file (a glob matching nothing fails a read). */
export function hasParquet(dir: string): boolean {
  try {
    return readdirSync(dir).some((name) => name.endsWith('.parquet'));
  } catch {
    return false;
  }
}

/**
 * `read_parquet` over lake files, with the hive columns typed (a numeric-looking project stays
 * text); `withFile` adds each row's path as given as the column `filename`.
 */
export function readLake(globs: string | string[], withFile = false): string {
  const paths = Array.isArray(globs) ? `[${globs.map(sqlPath).join(', ')}]` : sqlPath(globs);
  return `read_parquet(${paths}, hive_partitioning = true, hive_types = {'project': VARCHAR, 'dt': DATE}, union_by_name = true${withFile ? ', filename = true' : ''})`;
}

/**
 * Rows of lake files with every column of today's files: a column added since a file was written
 * (e.g. `previous_user_hash`) reads null there, even when no file has it yet.
 */
export function lakeRows(globs: string | string[], withFile = false): string {
  return `(SELECT * FROM ${readLake(globs, withFile)} UNION ALL BY NAME SELECT * FROM (${EMPTY_EVENTS}))`;
}

/** The `events_all` view: every row of the lake under `lakeRoot`. Fails to bind while there is no file. */
export function eventsAllView(lakeRoot: string): string {
  return `CREATE OR REPLACE VIEW events_all AS SELECT * FROM ${lakeRows(join(lakeRoot, 'events', '*', '*', '*.parquet'))}`;
}

/**
 * The `events` view: `events_all` with one row of each event and day (rule 1 of people.ts): of
 * rows of a day alike in `alikeColumns`, the earliest by event time, then receipt.
 */
export function eventsView(): string {
  return `CREATE OR REPLACE VIEW events AS SELECT * FROM events_all
    QUALIFY row_number() OVER (PARTITION BY project, dt, ${alikeColumns().join(', ')} ORDER BY event_time, received_at) = 1`;
}
