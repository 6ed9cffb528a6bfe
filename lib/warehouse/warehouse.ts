import { TallyError } from '../errors.js';
import type { ManifestFile } from '../lake/manifest.js';
import type { Breakdown, Dimension } from './breakdowns.js';
import { daysFrom, type ProjectDay } from './days.js';

/** Active users of one project on one day. */
export interface ActiveUsersDay {
  dt: string;
  dau: number;
  wau: number;
  mau: number;
}

/** The rows of one project and day that the lake flags as bots' (rule 0 of people.ts: counted nowhere). */
export interface BotDay {
  dt: string;
  /** Rows flagged `bot`. */
  events: number;
  /** Distinct ids (user_hash, else anonymous_hash) of those rows. */
  ids: number;
}

/** Every day from `from` to `to` with the bots found on it: zeros where none were. */
export function everyBotDay(from: string, to: string, found: readonly BotDay[]): BotDay[] {
  const byDay = new Map(found.map((b) => [b.dt, b]));
  return daysFrom(from, to).map((dt) => byDay.get(dt) ?? { dt, events: 0, ids: 0 });
}

export interface RefreshStats {
  /** (project, day) pairs whose set of active users was recomputed. */
  daysRecomputed: number;
  /** (project, day) pairs whose dau/wau/mau were rewritten. */
  windowsRecomputed: number;
  /** Lake files read (an engine that reads only the files new since a day was read says how many). */
  filesRead?: number;
}

export interface RefreshOptions {
  /**
   * Read every file of the changed days again, not only those new since they were read (a full
   * rollup: after a change of a project's settings, or to rebuild).
   */
  reread?: boolean;
  /**
   * The lake files named by the manifests this refresh comes from (an engine that reads named
   * files appends them to the days it read before without listing those days).
   */
  files?: readonly ManifestFile[];
}

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
}

/**
 * A warehouse that turns the lake into exact active-user numbers. Two engines implement it:
 * DuckDB (embedded, reads the lake from disk) and StarRocks (external catalog + bitmap tables).
 * A user is active on a UTC day when they sent any event that day; a user is their `user_hash`,
 * or their `anonymous_hash` when they never identified.
 */
export interface Warehouse {
  /** Creates what the engine needs; safe to run again. */
  setup(): Promise<void>;
  /**
   * Recomputes the active users of these (project, day) pairs from the lake, and dau/wau/mau of
   * every day whose window holds one of them, up to `today`. Atomic per run: a run that dies
   * leaves the previous numbers; running it again gives the same numbers.
   */
  refresh(changed: readonly ProjectDay[], today: string, options?: RefreshOptions): Promise<RefreshStats>;
  /** dau/wau/mau per day from `from` to `to` (at most `today`), today's figures from a live scan. */
  activeUsers(project: string, from: string, to: string, today: string): Promise<ActiveUsersDay[]>;
  /**
   * dau/wau/mau per value of a dimension from `from` to `to` (at most `today`, live like
   * `activeUsers`): the `limit` values with the most persons in the last day's MAU window, and the
   * others together (breakdowns.ts).
   */
  breakdown(
    project: string,
    by: Dimension,
    range: { from: string; to: string; today: string },
    limit: number,
  ): Promise<Breakdown>;
  /** Bots' rows and ids per day from `from` to `to`, as of the last rollup (days without any: zeros). */
  botDays(project: string, from: string, to: string): Promise<BotDay[]>;
  /**
   * When the last rollup run finished: the numbers of past days reflect every batch the lake
   * held then, whether or not they changed (null before the first run).
   */
  lastRollup(): Promise<Date | null>;
  /** Records that a rollup run finished at `at`. */
  recordRollup(at: Date): Promise<void>;
  /** Manifest keys already rolled up, among those starting with `prefix`. */
  processedManifests(prefix: string): Promise<Set<string>>;
  markProcessed(keys: readonly string[]): Promise<void>;
  /** Analyst SQL, where the engine allows it here. */
  query(sql: string): Promise<QueryResult>;
  close(): Promise<void>;
}

/** A warehouse operation failed; carries the engine's message. */
export class WarehouseError extends TallyError {}
