import { createHash } from 'node:crypto';
import { assembleBreakdown, type Breakdown, checkDimension, type Dimension } from './breakdowns.js';
import { dayNumber, daysFrom, type ProjectDay, uniqueProjectDays } from './days.js';
import { countedRows } from './people.js';
import { breakdown } from './starrocks/breakdown.js';
import {
  botDaysSelect,
  type CopyOptions,
  type LakeFiles,
  lakeLocation,
  readCounted,
  recordFiles,
} from './starrocks/copies.js';
import { counted, movedDays, recordIdentity, resolveChanges, stageEvidence } from './starrocks/identity.js';
import { liveToday } from './starrocks/live.js';
import { createSchema, derivedTables } from './starrocks/schema.js';
import {
  checkValues,
  date,
  identifier,
  isMissingPartition,
  marks,
  pairsOf,
  project,
  type SqlClient,
  type StarRocksConfig,
  supportedVersion,
  VERSION_QUERY,
} from './starrocks/sql.js';
import {
  WINDOW_CHUNK_DAYS,
  windowsSelect,
  writeDailyUsers,
  writeFirstDays,
  writeWindows,
} from './starrocks/windows.js';
import {
  type ActiveUsersDay,
  type BotDay,
  everyBotDay,
  type QueryResult,
  type RefreshOptions,
  type RefreshStats,
  type Warehouse,
  WarehouseError,
} from './warehouse.js';

export type { LakeFiles } from './starrocks/copies.js';
export {
  type CatalogConfig,
  catalogStatement,
  MIN_STARROCKS_VERSION,
  type SqlClient,
  type SqlValue,
  type StarRocksConfig,
  sessionStatements,
  supportedVersion,
  VERSION_QUERY,
} from './starrocks/sql.js';

/** `md5` of a manifest key: the rollup watermark's primary key stays within StarRocks' 128 bytes. */
function keyDigest(key: string): string {
  return createHash('md5').update(key).digest('hex');
}

/**
 * The StarRocks engine, one module per concern: `schema` (tables), `copies` (rule 1 of people.ts:
 * which copy of an event counts, through an event index partitioned by receipt day), `identity`
 * (rules 2-3: the ids whose person changes, found from the changed evidence alone), `windows`
 * (persons per day as bitmaps, dau/wau/mau), `live` (today from the lake). The lake is read
 * through an external catalog (what analysts query). Day tables are replaced a whole day at a time
 * (`INSERT OVERWRITE` with `dynamic_overwrite` in the statement's own hint, atomic per partition),
 * for every project of that day.
 *
 * StarRocks has no transactions: a refresh first reads into its `refresh_*` tables, then writes
 * persons and windows, then people, then the day tables it read from (ids, evidence, copies). A
 * run that dies is redone whole by the next (its manifests are recorded last); until the day
 * tables are written it finds the same changes again, and after that what it wrote already holds.
 */
/**
 * Tables an earlier Tally kept: an event index and its verdicts (the duplicate window), and bots
 * per day counted from whole days (now from the files read, `day_files` and `bot_ids`).
 */
const RETIRED_TABLES = ['event_index', 'duplicates', 'refresh_verdicts', 'bot_days'];

export class StarRocksWarehouse implements Warehouse {
  private readonly db: string;
  private readonly events: string;
  private readonly replicationNum: number;
  private readonly counted: string;

  /**
   * `lake`: where a refresh reads the lake's files (`FILES()`) and how it lists them; a refresh
   * needs it, queries do not.
   */
  constructor(
    private readonly client: SqlClient,
    config: StarRocksConfig = {},
    private readonly lake?: LakeFiles,
  ) {
    if (lake) lakeLocation(lake.location);
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
    this.counted = countedRows(config.countBots);
  }

  private run = (sql: string, values: readonly unknown[] = []): Promise<Array<Record<string, unknown>>> =>
    this.client.query(sql, checkValues(values)).catch((error: Error) => {
      throw new WarehouseError(
        'starrocks_error',
        `${error.message} (statement: ${sql.split('\n')[0]!.slice(0, 80)})`,
      );
    });

  /** Where the lake is read from for a rollup or a query. */
  private readOptions(): CopyOptions {
    return { db: this.db, events: this.events, counted: this.counted, lake: this.lake };
  }

  /** Refuses a cluster older than the minimum version, naming both. */
  async checkVersion(): Promise<string> {
    const rows = await this.run(VERSION_QUERY);
    return supportedVersion(rows[0]?.version);
  }

  async setup(): Promise<void> {
    await this.checkVersion();
    const schema = { db: this.db, replicationNum: this.replicationNum };
    await this.refuseEarlierLayout(derivedTables(schema));
    await createSchema(this.run, schema);
    // The lake's table as Glue has it now: the catalog caches a table's columns until its cache
    // turns over (a day), and the PARTITION form refreshes file lists only, so columns the table
    // gained (the enrichment's) would read as missing until then.
    try {
      await this.run(`REFRESH EXTERNAL TABLE ${this.events}`);
    } catch (error) {
      if (!isMissingPartition(error)) throw error;
    }
  }

  /**
   * Refuses a database an earlier Tally made: one the rollup filled before some of its tables
   * existed (before breakdowns: created now, they would hold nothing of the days already rolled
   * up, a breakdown of them would read zeros, a day changing person would be rebuilt from nothing,
   * and a full rollup skips the manifests it processed), or one holding the tables of the
   * duplicate window (`RETIRED_TABLES`: its days were counted by the rule before copies counted
   * once per event day). Checked before any table is created, so the refusal stands until the
   * operator rebuilds.
   */
  private async refuseEarlierLayout(tables: readonly string[]): Promise<void> {
    const present = new Set(
      (
        await this.run('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?', [
          this.db,
        ])
      ).map((r) => String(r.name)),
    );
    const rebuild = `drop the tables of database ${this.db} (they are derived from the lake) and run the rollup with {"full": true}`;
    const retired = RETIRED_TABLES.filter((t) => present.has(t));
    if (retired.length > 0)
      throw new WarehouseError(
        'old_layout',
        `database ${this.db} has the tables ${retired.join(', ')} of an earlier Tally (a duplicate window, or bots counted from whole days): ${rebuild}`,
      );
    if (!present.has('rollup_manifests')) return;
    const missing = tables.filter((t) => !present.has(t));
    if (missing.length === 0) return;
    const rolled = await this.run(`SELECT manifest_key FROM ${this.db}.rollup_manifests LIMIT 1`);
    if (rolled.length === 0) return;
    throw new WarehouseError(
      'old_layout',
      `database ${this.db} was rolled up before its tables ${missing.join(', ')} existed (an earlier Tally): ${rebuild}`,
    );
  }

  /**
   * A refresh: (1) what is new of the changed days is read (`readCounted`: a day's new files, or
   * the day whole when a file read before was rewritten; rule 1 needs no verdict on copies); (2)
   * their identity evidence, merged with what the day tables hold of a day appended to, is
   * compared with those tables, and the ids whose person that changes are found, adding the days
   * where those ids were active; (3) the persons of all those days are replaced (a day appended to
   * from its stored ids and the new ones) and the windows holding them upserted, a row for every
   * day (a quiet day included); (4) people, first links, the day tables and the files read are
   * written.
   */
  async refresh(
    changed: readonly ProjectDay[],
    today: string,
    options: RefreshOptions = {},
  ): Promise<RefreshStats> {
    const requested = uniqueProjectDays(
      changed.map((c) => ({ project: project(c.project), dt: date(c.dt) })),
    );
    if (requested.length === 0) return { daysRecomputed: 0, windowsRecomputed: 0, filesRead: 0 };
    date(today);
    const copies = this.readOptions();
    const read = await readCounted(
      this.run,
      copies,
      requested,
      options.reread === true,
      options.files ? { files: options.files, today } : undefined,
    );
    const { dts, appended } = read;
    if (dts.length === 0) return { daysRecomputed: 0, windowsRecomputed: 0, filesRead: 0 };
    // A day a project no longer has any event of (its copies counted elsewhere) changes too.
    const present = pairsOf(
      await this.run(
        `SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM ${this.db}.day_ids
WHERE dt IN (${marks(dts)}) AND project <> ''
UNION SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM ${counted(this.db)} c`,
        dts,
      ),
    );
    const changes = await stageEvidence(this.run, this.db, dts, appended);
    const moved: ProjectDay[] = [];
    if (changes > 0) {
      await resolveChanges(this.run, this.db, dts);
      moved.push(...(await movedDays(this.run, this.db, dts)));
    }
    const movedDts = [...new Set(moved.map((m) => m.dt))];
    await writeDailyUsers(this.run, this.db, { read: dts, appended, moved: movedDts });
    await writeFirstDays(this.run, this.db, [...dts, ...movedDts]);
    const days = uniqueProjectDays([...requested.filter((r) => dts.includes(r.dt)), ...moved, ...present]);
    const windows = await writeWindows(this.run, this.db, days, today);
    await recordIdentity(this.run, this.db, dts, appended, changes > 0);
    await recordFiles(this.run, copies, read);
    return { daysRecomputed: days.length, windowsRecomputed: windows, filesRead: read.filesRead };
  }

  async breakdown(
    name: string,
    by: Dimension,
    range: { from: string; to: string; today: string },
    limit: number,
  ): Promise<Breakdown> {
    project(name);
    const { from, to, today } = range;
    const last = dayNumber(to) < dayNumber(today) ? date(to) : date(today);
    if (dayNumber(from) > dayNumber(last))
      return assembleBreakdown(by, from, last, { top: [], others: 0 }, []);
    return breakdown(
      this.run,
      this.readOptions(),
      name,
      checkDimension(by),
      { from: date(from), last, today },
      limit,
    );
  }

  async botDays(name: string, from: string, to: string): Promise<BotDay[]> {
    project(name);
    if (dayNumber(from) > dayNumber(to)) return [];
    const rows = await this.run(botDaysSelect(this.db), [
      name,
      date(from),
      date(to),
      name,
      date(from),
      date(to),
    ]);
    const found = rows.map((r) => ({ dt: String(r.dt), events: Number(r.events), ids: Number(r.ids) }));
    return everyBotDay(from, to, found);
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
      const select = windowsSelect(this.db, name, missing.slice(i, i + WINDOW_CHUNK_DAYS));
      const computed = await this.run(
        `SELECT CAST(x.dt AS VARCHAR) AS dt, x.dau, x.wau, x.mau FROM (\n${select.sql}\n) x`,
        select.values,
      );
      for (const r of computed) byDay.set(String(r.dt), numbers(String(r.dt), r));
    }
    if (last === today) byDay.set(today, await liveToday(this.run, this.readOptions(), name, today));
    return daysFrom(from, last).map((dt) => byDay.get(dt) ?? { dt, dau: 0, wau: 0, mau: 0 });
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
