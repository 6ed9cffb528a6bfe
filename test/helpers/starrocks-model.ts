import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import mysql from 'mysql2';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import type { LakeFiles, SqlClient, SqlValue } from '../../lib/warehouse/starrocks.js';

/**
 * An executable model of the StarRocks features Tally's engine uses, on DuckDB: each statement is
 * formatted by mysql2 exactly as it would go on the wire, its MySQL string literals and StarRocks
 * functions are translated, and the table semantics StarRocks defines are applied by the model
 * itself, not by DuckDB's:
 * - PRIMARY KEY tables upsert, refuse a key over 128 bytes (2 bytes more per VARCHAR key column
 *   that is not the last) and refuse a load holding one key twice (which row wins is undefined);
 * - VARCHAR(n) columns refuse a value over n bytes;
 * - DUPLICATE KEY tables take DELETE only with conditions joined by AND, without subqueries;
 * - AGGREGATE KEY tables merge `BITMAP BITMAP_UNION` columns with what the key holds already;
 * - DUPLICATE KEY tables append;
 * - `INSERT OVERWRITE` replaces the partitions its rows touch only with `dynamic_overwrite`
 *   (hint or session), else the whole table (StarRocks' rule);
 * - key columns must come first, in key order; NOT NULL columns refuse NULLs (strict inserts);
 * - BITMAP is a list of distinct unsigned 64-bit values; `to_bitmap` of a negative is NULL;
 *   `bitmap_and`, `bitmap_andnot` and `bitmap_count` are list intersection, difference and length;
 * - `FILES()` reads the Parquet files its `path` names (comma-separated, each under the lake's
 *   location, `s3://tally-lake/` unless given; no wildcards, as Tally names files), `format`
 *   parquet; `project` and `dt` come from the path only with `columns_from_path`; a file that is
 *   not there fails the statement ("no file found"), as does a property StarRocks would not take or
 *   a read without S3 credentials; the files' schemas are merged by name (StarRocks samples
 *   `auto_detect_sample_files` files for it);
 * - the external table is read by partition: each read of it must be followed by a WHERE naming
 *   its days (`dt IN (...)` or `dt = ...`), else it would read every partition; the catalog
 *   caches each partition's file list when it first reads it and until `REFRESH EXTERNAL TABLE`
 *   names it: files written since are not read, and a listed file gone (compaction, erasure)
 *   fails the read; a REFRESH naming a partition the metastore lacks (no file was ever written
 *   there) fails as StarRocks does on Glue, with a NullPointerException.
 * What it does not model (concurrency, labels, the caches' expiry, grammar details outside
 * these statements) is said in docs/active-users.md. A statement it does not recognise fails loudly.
 */
export interface ModelOptions {
  lakeRoot: string;
  /** What `current_version()` answers. @default '3.4.2-model' */
  version?: string;
  /** The external catalog's events table name. @default 'lake.tally_lake.events' */
  eventsTable?: string;
  /** Where `FILES()` finds the lake's keys. @default 's3://tally-lake/' */
  lakeLocation?: string;
}

interface Column {
  name: string;
  type: string;
  notNull: boolean;
  bitmapUnion: boolean;
}

interface TableDef {
  kind: 'PRIMARY' | 'AGGREGATE' | 'DUPLICATE';
  columns: Column[];
  keys: string[];
  partitionColumn: string | null;
}

/** Statement kinds run, for coverage assertions. */
export type StatementKind =
  | 'set'
  | 'create database'
  | 'create table'
  | 'insert into'
  | 'insert overwrite'
  | 'delete'
  | 'truncate'
  | 'drop table'
  | 'refresh external table'
  | 'select';

const MAX_PRIMARY_KEY_BYTES = 128;

const LAKE_COLUMNS = `CAST(NULL AS VARCHAR) AS event_id, CAST(NULL AS VARCHAR) AS type, CAST(NULL AS VARCHAR) AS event,
  CAST(NULL AS BIGINT) AS user_hash, CAST(NULL AS BIGINT) AS anonymous_hash, CAST(NULL AS TIMESTAMPTZ) AS event_time,
  CAST(NULL AS TIMESTAMPTZ) AS received_at, CAST(NULL AS VARCHAR) AS properties, CAST(NULL AS VARCHAR) AS context,
  CAST(NULL AS INTEGER) AS key_version, CAST(NULL AS VARCHAR) AS flags, CAST(NULL AS VARCHAR) AS channel,
  CAST(NULL AS BIGINT) AS previous_user_hash, CAST(NULL AS BIGINT) AS previous_anonymous_hash,
  CAST(NULL AS VARCHAR) AS country, CAST(NULL AS VARCHAR) AS platform, CAST(NULL AS VARCHAR) AS os,
  CAST(NULL AS VARCHAR) AS browser, CAST(NULL AS VARCHAR) AS device_type, CAST(NULL AS VARCHAR) AS app_version,
  CAST(NULL AS VARCHAR) AS library, CAST(NULL AS VARCHAR) AS utm_source, CAST(NULL AS VARCHAR) AS utm_medium,
  CAST(NULL AS VARCHAR) AS utm_campaign, CAST(NULL AS VARCHAR) AS referrer_domain, CAST(NULL AS BOOLEAN) AS bot,
  CAST(NULL AS VARCHAR) AS project, CAST(NULL AS VARCHAR) AS dt`;

/** The lake as the engine reads it through the model's `FILES()`: listed from the directory. */
export function modelLake(lakeRoot: string, filesPerStatement?: number): LakeFiles {
  const store = new FsObjectStore(lakeRoot);
  return {
    location: 's3://tally-lake/',
    storage: { type: 'glue', region: 'eu-west-1' },
    list: (prefix) => store.listVersions(prefix),
    ...(filesPerStatement === undefined ? {} : { filesPerStatement }),
  };
}

export class StarRocksModel implements SqlClient {
  readonly kinds = new Set<StatementKind>();
  readonly statements: string[] = [];
  private readonly session = new Map<string, string>();
  private readonly tables = new Map<string, TableDef>();
  private readonly eventsTable: string;
  /** The catalog's file list per partition (`project=p/dt=d`), as last listed. */
  private readonly fileLists = new Map<string, string[]>();
  /** Partitions each statement read from the external table, for assertions. */
  readonly partitionsRead: string[][] = [];
  /** The lake keys each `FILES()` read named, for assertions. */
  readonly filesRead: string[][] = [];

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly db: DuckDBConnection,
    private readonly options: ModelOptions,
  ) {
    this.eventsTable = options.eventsTable ?? 'lake.tally_lake.events';
  }

  static async open(options: ModelOptions): Promise<StarRocksModel> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const db = await instance.connect();
    await db.run(`SET TimeZone = 'UTC'`);
    return new StarRocksModel(instance, db, options);
  }

  async close(): Promise<void> {
    this.db.closeSync();
    this.instance.closeSync();
  }

  async query(sql: string, values: readonly SqlValue[] = []): Promise<Array<Record<string, unknown>>> {
    // What mysql2's query() sends: placeholders replaced client-side, MySQL escaping.
    const text = mysql.format(sql, values as SqlValue[]);
    this.statements.push(text);
    const duck = fromMySqlLiterals(text);
    const hint = /^\s*INSERT\s*\/\*\+\s*set_var\(([^)]*)\)\s*\*\/\s*/i.exec(duck);
    const statement = duck.replace(/\/\*\+[^*]*\*\//g, ' ').trim();
    const dynamic =
      /dynamic_overwrite\s*=\s*true/i.test(hint?.[1] ?? '') ||
      this.session.get('dynamic_overwrite') === 'true';
    const rules: Array<
      [RegExp, StatementKind, (m: RegExpExecArray) => Promise<Array<Record<string, unknown>>>]
    > = [
      [
        /^SET\s+(\w+)\s*=\s*(.+)$/is,
        'set',
        async (m) => {
          this.session.set(m[1]!.toLowerCase(), m[2]!.trim().replace(/^'(.*)'$/, '$1'));
          return [];
        },
      ],
      [
        /^CREATE DATABASE IF NOT EXISTS (\w+)$/i,
        'create database',
        async (m) => {
          await this.db.run(`CREATE SCHEMA IF NOT EXISTS ${m[1]}`);
          return [];
        },
      ],
      [
        // What an operator runs to rebuild the derived tables (docs: an old layout).
        /^DROP TABLE (IF EXISTS )?(\w+)\.(\w+)$/i,
        'drop table',
        async (m) => {
          await this.db.run(`DROP TABLE ${m[1] ?? ''}${m[2]}.${m[3]}`);
          this.tables.delete(`${m[2]}.${m[3]}`);
          return [];
        },
      ],
      [
        /^CREATE TABLE [\s\S]+$/i,
        'create table',
        async (m) => {
          await this.createTable(m[0]);
          return [];
        },
      ],
      [
        /^INSERT\s+(INTO|OVERWRITE)\s+([\w.]+)\s*\(([^)]*)\)\s*([\s\S]+)$/i,
        'insert into',
        async (m) => {
          const overwrite = m[1]!.toUpperCase() === 'OVERWRITE';
          if (overwrite) this.kinds.add('insert overwrite');
          else this.kinds.add('insert into');
          await this.insert(m[2]!, splitList(m[3]!), m[4]!, overwrite, dynamic);
          return [];
        },
      ],
      [
        /^DELETE FROM ([\w.]+)(?:\s+USING\s+([\s\S]+?))?\s+WHERE ([\s\S]+)$/i,
        'delete',
        async (m) => {
          const table = this.table(m[1]!);
          const where = m[3]!;
          // StarRocks: a PRIMARY KEY table takes any condition, joins and subqueries; the others
          // conditions on columns joined by AND, with =, <, >, <=, >=, !=, IN and NOT IN.
          if (table.kind !== 'PRIMARY' && (m[2] || /\bOR\b|\bSELECT\b/i.test(where)))
            throw new Error(
              `model: DELETE on ${table.kind} KEY table ${m[1]} takes conditions joined by AND only, without USING or subqueries`,
            );
          await this.db.run(
            `DELETE FROM ${m[1]}${m[2] ? ` USING ${this.expressions(m[2])}` : ''} WHERE ${this.expressions(where)}`,
          );
          return [];
        },
      ],
      [
        /^TRUNCATE TABLE ([\w.]+)$/i,
        'truncate',
        async (m) => {
          this.table(m[1]!);
          await this.db.run(`DELETE FROM ${m[1]}`);
          return [];
        },
      ],
      [
        // The whole table: its columns and every partition's file list are read again.
        /^REFRESH EXTERNAL TABLE ([\w.]+)$/i,
        'refresh external table',
        async (m) => {
          if (m[1] !== this.eventsTable) throw new Error(`model: unknown external table ${m[1]}`);
          this.fileLists.clear();
          return [];
        },
      ],
      [
        /^REFRESH EXTERNAL TABLE ([\w.]+) PARTITION \((.+)\)$/is,
        'refresh external table',
        async (m) => {
          if (m[1] !== this.eventsTable) throw new Error(`model: unknown external table ${m[1]}`);
          const partitions = splitList(m[2]!).map((name) => {
            const partition = /^'(project=[a-z0-9-]+\/dt=\d{4}-\d{2}-\d{2})'$/.exec(name)?.[1];
            if (!partition) throw new Error(`model: partition name not modelled: ${name}`);
            return partition;
          });
          // A partition the metastore does not have (the lake writer registers each one it writes):
          // StarRocks 3.4/3.5 on Glue fails the whole statement, its batch lookup having left the
          // partition out of a map that takes no null (StarRocks issues 13771, 23374).
          const missing = partitions.find((p) => !existsSync(join(this.options.lakeRoot, 'events', p)));
          if (missing !== undefined) {
            throw Object.assign(
              new Error(
                `com.google.common.util.concurrent.UncheckedExecutionException: java.lang.NullPointerException: null value in entry: ${missing}=null`,
              ),
              { errno: 1064, code: 'ER_PARSE_ERROR' },
            );
          }
          for (const partition of partitions) this.fileLists.set(partition, this.listFiles(partition));
          return [];
        },
      ],
      [
        /^(?:WITH|SELECT)\b[\s\S]*$/i,
        'select',
        async (m) => {
          const reader = await this.db.runAndReadAll(this.expressions(m[0]));
          const names = reader.columnNames();
          // As the pool is configured (supportBigNumbers, bigNumberStrings): BIGINTs come as text.
          return reader
            .getRows()
            .map((row) =>
              Object.fromEntries(row.map((v, i) => [names[i]!, typeof v === 'bigint' ? String(v) : v])),
            );
        },
      ],
    ];
    for (const [pattern, kind, run] of rules) {
      const m = pattern.exec(statement);
      if (!m) continue;
      if (kind !== 'insert into') this.kinds.add(kind);
      return run(m);
    }
    throw new Error(`model: statement not modelled: ${statement.slice(0, 120)}`);
  }

  private table(name: string): TableDef {
    const table = this.tables.get(name);
    if (!table) throw new Error(`model: unknown table ${name}`);
    return table;
  }

  private async createTable(statement: string): Promise<void> {
    const m =
      /^CREATE TABLE IF NOT EXISTS ([\w.]+) \(([\s\S]+)\)\s*(PRIMARY|AGGREGATE|DUPLICATE) KEY\(([^)]*)\)\s*(?:PARTITION BY date_trunc\('day', (\w+)\)\s*)?DISTRIBUTED BY HASH\(([^)]*)\)\s*(?:PROPERTIES \(("[\w.]+" = "[^"]*"(?:,\s*"[\w.]+" = "[^"]*")*)\))?$/i.exec(
        statement,
      );
    if (!m) throw new Error(`model: CREATE TABLE not modelled: ${statement.slice(0, 160)}`);
    const [, name, body, kind, keyList, partition, hashList] = m;
    const columns = splitList(body!).map((text): Column => {
      const c = /^(\w+)\s+([A-Z]+(?:\(\d+\))?)(\s+BITMAP_UNION)?(\s+NOT NULL)?$/i.exec(text.trim());
      if (!c) throw new Error(`model: column not modelled: ${text}`);
      return { name: c[1]!, type: c[2]!.toUpperCase(), notNull: Boolean(c[4]), bitmapUnion: Boolean(c[3]) };
    });
    const keys = splitList(keyList!);
    // StarRocks: key columns are the first columns, in key order, and never NULL.
    keys.forEach((k, i) => {
      if (columns[i]?.name !== k) throw new Error(`model: key column ${k} of ${name} is not column ${i + 1}`);
      if (!columns[i]!.notNull) throw new Error(`model: key column ${k} of ${name} must be NOT NULL`);
    });
    for (const c of columns) {
      if (c.type === 'BITMAP' && !(kind!.toUpperCase() === 'AGGREGATE' && c.bitmapUnion))
        throw new Error(`model: BITMAP column ${c.name} needs an AGGREGATE table with BITMAP_UNION`);
    }
    if (partition && kind!.toUpperCase() === 'PRIMARY' && !keys.includes(partition))
      throw new Error(`model: partition column ${partition} of a primary-key table must be in its key`);
    for (const h of splitList(hashList!)) {
      if (!keys.includes(h)) throw new Error(`model: distribution column ${h} is not a key column`);
    }
    if (this.tables.has(name!)) return;
    this.tables.set(name!, {
      kind: kind!.toUpperCase() as TableDef['kind'],
      columns,
      keys,
      partitionColumn: partition ?? null,
    });
    await this.db.run(
      `CREATE TABLE ${name} (${columns.map((c) => `${c.name} ${duckType(c.type)}`).join(', ')})`,
    );
  }

  private async insert(
    name: string,
    targetColumns: string[],
    source: string,
    overwrite: boolean,
    dynamic: boolean,
  ): Promise<void> {
    const table = this.table(name);
    const columns = table.columns;
    for (const c of targetColumns)
      if (!columns.some((col) => col.name === c)) throw new Error(`model: ${name} has no column ${c}`);
    const query = /^VALUES\b/i.test(source) ? `SELECT * FROM (${source})` : source;
    await this.db.run(
      `CREATE OR REPLACE TEMP TABLE model_new AS SELECT ${columns
        .map((c) =>
          targetColumns.includes(c.name)
            ? `CAST(${c.name} AS ${duckType(c.type)}) AS ${c.name}`
            : `NULL AS ${c.name}`,
        )
        .join(', ')} FROM (${this.expressions(query)}) q(${targetColumns.join(', ')})`,
    );
    for (const c of columns.filter((col) => col.notNull)) {
      const nulls = await this.scalar(`SELECT count(*) FROM model_new WHERE ${c.name} IS NULL`);
      if (nulls > 0) throw new Error(`model: ${nulls} row(s) with NULL in NOT NULL column ${name}.${c.name}`);
    }
    for (const c of columns) {
      const limit = /^VARCHAR\((\d+)\)$/.exec(c.type)?.[1];
      if (!limit) continue;
      const longest = await this.scalar(`SELECT coalesce(max(strlen(${c.name})), 0) FROM model_new`);
      if (longest > Number(limit))
        throw new Error(`model: a value of ${longest} bytes for ${name}.${c.name}, a ${c.type}`);
    }
    const keyList = table.keys.join(', ');
    if (table.kind === 'PRIMARY') {
      // The encoded key: each column's bytes, and 2 for the length of a VARCHAR that is not last.
      const size = table.keys
        .map((k, i) => {
          const type = columns.find((c) => c.name === k)!.type;
          const last = i === table.keys.length - 1;
          if (type.startsWith('VARCHAR')) return last ? `strlen(${k})` : `(strlen(${k}) + 2)`;
          return type === 'DATE' ? '4' : type === 'LARGEINT' ? '16' : type === 'BOOLEAN' ? '1' : '8';
        })
        .join(' + ');
      const longest = await this.scalar(`SELECT coalesce(max(${size}), 0) FROM model_new`);
      if (longest > MAX_PRIMARY_KEY_BYTES)
        throw new Error(`model: primary key of ${longest} bytes in ${name}, over ${MAX_PRIMARY_KEY_BYTES}`);
      const twice = await this.scalar(
        `SELECT count(*) FROM (SELECT ${keyList} FROM model_new GROUP BY ${keyList} HAVING count(*) > 1)`,
      );
      if (twice > 0)
        throw new Error(
          `model: a load into ${name} holds ${twice} key(s) twice; which row StarRocks keeps is undefined`,
        );
    }
    if (overwrite) {
      if (dynamic && table.partitionColumn) {
        const p = table.partitionColumn;
        const partitions = await this.scalar(`SELECT count(DISTINCT ${p}) FROM model_new`);
        if (partitions > 4096)
          throw new Error(`model: one load creates at most 4096 partitions, got ${partitions}`);
        await this.db.run(`DELETE FROM ${name} WHERE ${p} IN (SELECT ${p} FROM model_new)`);
      } else {
        await this.db.run(`DELETE FROM ${name}`);
      }
    }
    if (table.kind === 'PRIMARY') {
      await this.db.run(
        `CREATE OR REPLACE TEMP TABLE model_new AS SELECT * FROM (SELECT *, row_number() OVER () AS model_row FROM model_new)
         QUALIFY row_number() OVER (PARTITION BY ${keyList} ORDER BY model_row DESC) = 1`,
      );
      await this.db.run(`ALTER TABLE model_new DROP COLUMN model_row`);
      await this.db.run(`DELETE FROM ${name} USING model_new n WHERE ${sameKey(table.keys, name, 'n')}`);
      await this.db.run(`INSERT INTO ${name} SELECT * FROM model_new`);
    } else if (table.kind === 'AGGREGATE') {
      const merged = columns
        .map((c) => (c.bitmapUnion ? `list_distinct(flatten(list(${c.name}))) AS ${c.name}` : c.name))
        .join(', ');
      await this.db.run(
        `CREATE OR REPLACE TEMP TABLE model_merged AS SELECT ${merged} FROM (
           SELECT t.* FROM ${name} t SEMI JOIN model_new n ON ${sameKey(table.keys, 't', 'n')}
           UNION ALL SELECT * FROM model_new
         ) GROUP BY ${keyList}`,
      );
      await this.db.run(`DELETE FROM ${name} USING model_merged n WHERE ${sameKey(table.keys, name, 'n')}`);
      await this.db.run(`INSERT INTO ${name} SELECT * FROM model_merged`);
    } else {
      await this.db.run(`INSERT INTO ${name} SELECT * FROM model_new`);
    }
  }

  private async scalar(sql: string): Promise<number> {
    const reader = await this.db.runAndReadAll(sql);
    return Number(reader.getRows()[0]?.[0] ?? 0);
  }

  /** StarRocks functions and names in DuckDB's terms. */
  private expressions(sql: string): string {
    let out = rewriteCalls(sql, 'FILES', (args) => this.filesView(args));
    out = this.readExternal(out);
    out = rewriteCalls(out, 'md5sum_numeric', ([x]) => `CAST(md5_number(${x}) >> 1 AS HUGEINT)`);
    out = rewriteCalls(out, 'current_version', () => `'${this.options.version ?? '3.4.2-model'}'`);
    out = rewriteCalls(out, 'bitmap_empty', () => `CAST([] AS UBIGINT[])`);
    out = rewriteCalls(
      out,
      'to_bitmap',
      ([x]) => `(CASE WHEN (${x}) >= 0 THEN [CAST((${x}) AS UBIGINT)] END)`,
    );
    out = rewriteCalls(
      out,
      'bitmap_union_count',
      ([x]) => `coalesce(len(list_distinct(flatten(list(${x}) FILTER (WHERE (${x}) IS NOT NULL)))), 0)`,
    );
    out = rewriteCalls(
      out,
      'bitmap_union',
      ([x]) => `coalesce(list_distinct(flatten(list(${x}) FILTER (WHERE (${x}) IS NOT NULL))), [])`,
    );
    out = rewriteCalls(out, 'bitmap_and', ([a, b]) => `list_intersect(${a}, ${b})`);
    out = rewriteCalls(
      out,
      'bitmap_andnot',
      ([a, b]) => `list_filter(${a}, lambda model_x: NOT list_contains(${b}, model_x))`,
    );
    out = rewriteCalls(out, 'bitmap_count', ([x]) => `len(${x})`);
    out = rewriteCalls(out, 'date_sub', ([d, interval]) => {
      const m = /^INTERVAL (\d+) DAY$/i.exec(interval!.trim());
      if (!m) throw new Error(`model: date_sub interval not modelled: ${interval}`);
      return `CAST((${d}) - INTERVAL ${m[1]} DAY AS DATE)`;
    });
    // StarRocks' LIKE escapes with a backslash by default; DuckDB's with none.
    return out.replace(/\bLIKE ('(?:[^']|'')*')/g, `LIKE $1 ESCAPE '\\'`);
  }

  /**
   * Each read of the external table as the partitions its WHERE names, from their cached file
   * lists: the lake's Parquet with Glue's columns (partition columns as text).
   */
  private readExternal(sql: string): string {
    const parts = sql.split(this.eventsTable);
    let out = parts[0]!;
    for (const rest of parts.slice(1)) {
      const where = /^\s+(?:AS\s+)?(?:\w+\s+)?WHERE\b/i.exec(rest);
      const clause = where ? rest.slice(where[0].length, closingParen(rest, where[0].length)) : '';
      const days = new Set<string>();
      for (const m of clause.matchAll(/\bdt\s+IN\s*\(([^)]*)\)/gi))
        for (const d of m[1]!.matchAll(/'(\d{4}-\d{2}-\d{2})'/g)) days.add(d[1]!);
      for (const m of clause.matchAll(/\bdt\s*=\s*'(\d{4}-\d{2}-\d{2})'/gi)) days.add(m[1]!);
      if (days.size === 0)
        throw new Error(
          `model: a read of ${this.eventsTable} without dt IN (...) or dt = ... in its WHERE reads every partition`,
        );
      out += `(${this.lakeView([...days].sort())})${rest}`;
    }
    return out;
  }

  /** `FILES(<properties>)` as the rows of the files it names. */
  private filesView(args: string[]): string {
    const properties = new Map<string, string>();
    for (const arg of args) {
      const m = /^'([^']*)'\s*=\s*'((?:[^']|'')*)'$/.exec(arg.trim());
      if (!m) throw new Error(`model: FILES() property not modelled: ${arg.slice(0, 80)}`);
      properties.set(m[1]!, m[2]!.replaceAll("''", "'"));
    }
    for (const key of properties.keys())
      if (!/^(path|format|columns_from_path|auto_detect_sample_files|aws\.s3\.[a-z_]+)$/.test(key))
        throw new Error(`model: FILES() takes no property ${key}`);
    if (properties.get('format') !== 'parquet') throw new Error('model: FILES() needs "format" = "parquet"');
    if (!properties.has('aws.s3.use_instance_profile') && !properties.has('aws.s3.access_key'))
      throw new Error(
        'model: FILES() over S3 needs credentials (aws.s3.use_instance_profile or access keys)',
      );
    const location = this.options.lakeLocation ?? 's3://tally-lake/';
    const keys = (properties.get('path') ?? '')
      .split(',')
      .map((piece) => piece.trim())
      .filter((piece) => piece !== '')
      .map((piece) => {
        if (/[*?[\]{}^]/.test(piece)) throw new Error(`model: FILES() wildcards not modelled: ${piece}`);
        if (!piece.startsWith(location))
          throw new Error(`model: FILES() path ${piece} is not under ${location}`);
        const key = piece.slice(location.length);
        if (!existsSync(join(this.options.lakeRoot, key)))
          throw new Error(`failed to parse files: no file found with given path pattern: ${piece}`);
        return key;
      });
    if (keys.length === 0) throw new Error('model: FILES() needs a path');
    this.filesRead.push(keys);
    const fromPath = (properties.get('columns_from_path') ?? '').split(',').map((c) => c.trim());
    const hive = fromPath.includes('project') && fromPath.includes('dt');
    const paths = keys.map((k) => `'${join(this.options.lakeRoot, k).replaceAll("'", "''")}'`).join(', ');
    return `(SELECT * REPLACE (CAST(event_time AS TIMESTAMP) AS event_time, CAST(received_at AS TIMESTAMP) AS received_at)
      FROM read_parquet([${paths}], hive_partitioning = ${hive}, ${hive ? "hive_types = {'project': VARCHAR, 'dt': VARCHAR}, " : ''}union_by_name = true))`;
  }

  /** A partition's Parquet files in the lake now. */
  private listFiles(partition: string): string[] {
    const dir = join(this.options.lakeRoot, 'events', partition);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.parquet'))
      .sort()
      .map((f) => join(dir, f));
  }

  /** The rows of these days' partitions, as the catalog lists their files. */
  private lakeView(days: string[]): string {
    const empty = `SELECT ${LAKE_COLUMNS} WHERE false`;
    const root = join(this.options.lakeRoot, 'events');
    const projects = existsSync(root) ? readdirSync(root).filter((p) => p.startsWith('project=')) : [];
    const partitions = projects.flatMap((p) => days.map((d) => `${p}/dt=${d}`));
    const files: string[] = [];
    const read: string[] = [];
    for (const partition of partitions) {
      if (!this.fileLists.has(partition)) {
        if (!existsSync(join(root, partition))) continue;
        this.fileLists.set(partition, this.listFiles(partition));
      }
      read.push(partition);
      for (const file of this.fileLists.get(partition)!) {
        if (!existsSync(file))
          throw new Error(
            `model: the catalog's file list of ${partition} names ${file.slice(root.length + 1)}, which is gone: REFRESH EXTERNAL TABLE that partition before reading it`,
          );
        files.push(file);
      }
    }
    this.partitionsRead.push(read);
    if (files.length === 0) return empty;
    return `SELECT * REPLACE (CAST(event_time AS TIMESTAMP) AS event_time, CAST(received_at AS TIMESTAMP) AS received_at)
      FROM (SELECT * FROM read_parquet([${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}], hive_partitioning = true,
        hive_types = {'project': VARCHAR, 'dt': VARCHAR}, union_by_name = true)
        UNION ALL BY NAME ${empty})`;
  }
}

/** Where the parenthesis open before `from` closes in `text` (its end when none does). */
function closingParen(text: string, from: number): number {
  let depth = 0;
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    if (quoted) continue;
    if (c === '(') depth++;
    else if (c === ')' && depth-- === 0) return i;
  }
  return text.length;
}

function sameKey(keys: readonly string[], a: string, b: string): string {
  return keys.map((k) => `${a}.${k} = ${b}.${k}`).join(' AND ');
}

function duckType(type: string): string {
  if (type === 'BITMAP') return 'UBIGINT[]';
  if (type === 'DATETIME') return 'TIMESTAMP';
  if (type === 'LARGEINT') return 'HUGEINT';
  if (type.startsWith('VARCHAR')) return 'VARCHAR';
  if (['DATE', 'BIGINT', 'INT', 'TINYINT', 'BOOLEAN'].includes(type)) return type;
  throw new Error(`model: type not modelled: ${type}`);
}

/** MySQL string literals (backslash escapes, '' and \') as DuckDB literals. */
export function fromMySqlLiterals(sql: string): string {
  let out = '';
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c !== "'") {
      out += c;
      continue;
    }
    let value = '';
    for (i++; i < sql.length; i++) {
      const d = sql[i]!;
      if (d === '\\') {
        const e = sql[++i]!;
        value +=
          e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '0' ? '\0' : e === 'Z' ? '\x1a' : e;
      } else if (d === "'" && sql[i + 1] === "'") {
        value += "'";
        i++;
      } else if (d === "'") break;
      else value += d;
    }
    out += `'${value.replaceAll("'", "''")}'`;
  }
  return out;
}

/** Splits a comma-separated list at depth 0 (outside parentheses and literals). */
function splitList(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    if (quoted) continue;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter((p) => p !== '');
}

/** Replaces every call `name(args)` (innermost first, outside literals) with `replace(args)`. */
function rewriteCalls(sql: string, name: string, replace: (args: string[]) => string): string {
  const pattern = new RegExp(`\\b${name}\\s*\\(`, 'gi');
  for (;;) {
    let found = -1;
    let open = -1;
    for (const m of sql.matchAll(pattern)) {
      if (!insideLiteral(sql, m.index)) {
        found = m.index;
        open = m.index + m[0].length - 1;
      }
    }
    if (found < 0) return sql;
    let depth = 0;
    let quoted = false;
    let close = -1;
    for (let i = open; i < sql.length; i++) {
      const c = sql[i];
      if (c === "'") quoted = !quoted;
      if (quoted) continue;
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) {
        close = i;
        break;
      }
    }
    if (close < 0) throw new Error(`model: unbalanced call to ${name}`);
    sql = sql.slice(0, found) + replace(splitList(sql.slice(open + 1, close))) + sql.slice(close + 1);
  }
}

function insideLiteral(sql: string, index: number): boolean {
  let quoted = false;
  for (let i = 0; i < index; i++) if (sql[i] === "'") quoted = !quoted;
  return quoted;
}
