import { TallyError } from '../errors.js';
import { utcDate } from '../events.js';
import { type ApiResponse, errorResponse, jsonResponse } from '../http.js';
import type { KeyRing } from '../ingest/auth.js';
import { PROJECT_ID_PATTERN } from '../ingest/limits.js';
import type { ObjectStore } from '../lake/store.js';
import {
  checkDimension,
  DEFAULT_BREAKDOWN_LIMIT,
  type Dimension,
  MAX_BREAKDOWN_LIMIT,
} from './breakdowns.js';
import { addDays, DateError, dayNumber, MAU_DAYS } from './days.js';
import { type ManifestCache, pipelineHealth } from './health.js';
import type { ActiveUsersDay, Warehouse } from './warehouse.js';

/** Longest range one request may ask for. */
export const MAX_RANGE_DAYS = 400;

export interface MetricsRequest {
  method: string;
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  now: Date;
}

export interface MetricsDeps {
  /** Every project that exists (an unknown one is a 404, not a 401). */
  projects: ReadonlySet<string>;
  readKeys: KeyRing;
  readonly warehouse: Warehouse;
  /** The lake, for the health route (its manifests). Without it the health route answers 404. */
  readonly store?: ObjectStore;
  /** The last rollup run, where the runtime knows it (the local one does). */
  readonly lastRollup?: () => RollupRun | null;
  /** Manifests already read by the health route. */
  readonly manifestCache?: ManifestCache;
}

/** One rollup run, as the health route reports it. */
export interface RollupRun {
  at: string;
  durationMs: number;
  manifests: number;
}

/** One day of the answer. `stickiness` is dau / mau (0 when mau is 0), rounded to 4 places. */
export interface ActiveUsersEntry {
  date: string;
  dau: number;
  wau: number;
  mau: number;
  stickiness: number;
}

const ROUTE = /^\/v1\/projects\/([^/]+)\/(active-users|health)\/?$/;

/** True when the path is the metrics API's (the local server routes on it). */
export function isMetricsPath(path: string): boolean {
  return ROUTE.test(path);
}

function bearer(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

/**
 * The days the API serves: a date outside is refused (400), never handed to an engine. Both
 * engines' DATE starts at 0000-01-01 (StarRocks: 0000-01-01 to 9999-12-31), and a day's rolling
 * windows reach 30 days before it, so the first day served is 0001-01-01; the default range
 * starts there at the earliest.
 */
export const FIRST_SERVED_DAY = '0001-01-01';
export const LAST_SERVED_DAY = '9999-12-31';

function dateParam(query: Record<string, string | undefined>, name: string, fallback: string): string {
  const value = query[name];
  if (value === undefined || value === '') return fallback;
  let day: number;
  try {
    day = dayNumber(value);
  } catch {
    throw new DateError(
      'invalid_date',
      `${name} must be a date of the form YYYY-MM-DD, got ${JSON.stringify(value).slice(0, 40)}`,
    );
  }
  if (day < dayNumber(FIRST_SERVED_DAY) || day > dayNumber(LAST_SERVED_DAY)) {
    throw new DateError(
      'invalid_date',
      `${name} must be a date from ${FIRST_SERVED_DAY} to ${LAST_SERVED_DAY}, got ${JSON.stringify(value).slice(0, 40)}`,
    );
  }
  return value;
}

/**
 * `GET /v1/projects/:project/active-users?from=YYYY-MM-DD&to=YYYY-MM-DD` with the project's read
 * key as a Bearer token: dau, wau, mau and stickiness per day (days after today are left out),
 * and how fresh they are. Defaults to the last 30 days.
 */
export async function activeUsersApi(req: MetricsRequest, deps: MetricsDeps): Promise<ApiResponse> {
  const match = ROUTE.exec(req.path);
  if (!match) return errorResponse(404, 'not_found', `no route ${JSON.stringify(req.path).slice(0, 80)}`);
  if (req.method !== 'GET')
    return errorResponse(405, 'method_not_allowed', `${req.path} takes GET, got ${req.method}`, {
      allow: 'GET',
    });
  // Project ids are plain [a-z0-9-]: no escape sequence can form one, so the raw segment is compared.
  const project = match[1]!;
  if (!PROJECT_ID_PATTERN.test(project) || !deps.projects.has(project)) {
    return errorResponse(404, 'unknown_project', `no project ${JSON.stringify(project).slice(0, 70)}`);
  }
  const key = bearer(req.headers.authorization);
  if (key === null)
    return errorResponse(
      401,
      'unauthorized',
      'missing read key: send it as "Authorization: Bearer <read key>"',
    );
  const owner = deps.readKeys.projectOf(key);
  if (owner === null) return errorResponse(401, 'unauthorized', 'unknown read key');
  if (owner !== project)
    return errorResponse(403, 'forbidden', `this read key is not one of project ${project}`);
  if (match[2] === 'health') return health(project, req, deps);

  const today = utcDate(req.now.getTime());
  let from: string;
  let to: string;
  try {
    to = dateParam(req.query, 'to', today);
    const start = addDays(to, -(MAU_DAYS - 1));
    from = dateParam(req.query, 'from', start < FIRST_SERVED_DAY ? FIRST_SERVED_DAY : start);
  } catch (error) {
    return errorResponse(400, 'invalid_date', (error as Error).message);
  }
  if (dayNumber(from) > dayNumber(to))
    return errorResponse(400, 'invalid_range', `from (${from}) is after to (${to})`);
  const span = dayNumber(to) - dayNumber(from) + 1;
  if (span > MAX_RANGE_DAYS) {
    return errorResponse(
      400,
      'range_too_large',
      `the range holds ${span} days, more than the limit of ${MAX_RANGE_DAYS}`,
    );
  }
  let breakdownOf: { by: Dimension; limit: number } | null;
  try {
    breakdownOf = breakdownParams(req.query);
  } catch (error) {
    return errorResponse(400, (error as TallyError).code, (error as Error).message);
  }
  const [days, rolledUpAt, breakdown] = await Promise.all([
    deps.warehouse.activeUsers(project, from, to, today),
    deps.warehouse.lastRollup(),
    breakdownOf && deps.warehouse.breakdown(project, breakdownOf.by, { from, to, today }, breakdownOf.limit),
  ]);
  const entries: ActiveUsersEntry[] = days.map((d) => ({
    date: d.dt,
    dau: d.dau,
    wau: d.wau,
    mau: d.mau,
    stickiness: d.mau === 0 ? 0 : Math.round((d.dau / d.mau) * 10_000) / 10_000,
  }));
  return jsonResponse({
    project,
    from,
    to,
    days: entries,
    ...(breakdown && breakdownOf
      ? {
          breakdown: {
            by: breakdown.by,
            limit: breakdownOf.limit,
            values: breakdown.values.map((v) => ({ value: v.value, days: v.days.map(dayEntry) })),
            other: breakdown.other && {
              values: breakdown.other.values,
              days: breakdown.other.days.map(dayEntry),
            },
          },
        }
      : {}),
    freshness: {
      rolledUpAt: rolledUpAt?.toISOString() ?? null,
      live: dayNumber(to) >= dayNumber(today) ? today : null,
      generatedAt: req.now.toISOString(),
    },
  });
}

/** One day of one value of a breakdown. */
function dayEntry(d: ActiveUsersDay): { date: string; dau: number; wau: number; mau: number } {
  return { date: d.dt, dau: d.dau, wau: d.wau, mau: d.mau };
}

/** `by` and `limit` of a breakdown, checked (null without `by`); names the bad value. */
function breakdownParams(query: Record<string, string | undefined>): { by: Dimension; limit: number } | null {
  const by = query.by;
  const limitText = query.limit;
  if (by === undefined || by === '') {
    if (limitText !== undefined && limitText !== '')
      throw new TallyError('invalid_limit', 'limit applies to a breakdown: send it with by=<dimension>');
    return null;
  }
  const dimension = checkDimension(by);
  if (limitText === undefined || limitText === '') return { by: dimension, limit: DEFAULT_BREAKDOWN_LIMIT };
  const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_BREAKDOWN_LIMIT)) {
    throw new TallyError(
      'invalid_limit',
      `limit must be an integer from 1 to ${MAX_BREAKDOWN_LIMIT}, got ${JSON.stringify(limitText).slice(0, 40)}`,
    );
  }
  return { by: dimension, limit };
}

/** Days of bots' rows the health route lists, ending today. */
export const BOT_DAYS = 30;

/**
 * `GET /v1/projects/:project/health`: events that reached the lake per minute over the last hour,
 * this project's refused events by reason, the lake's lag (age of the newest batch), the last
 * rollup, and the rows left out as bots' per day of the last 30 (as of the last rollup). Same
 * read-key rules as active-users.
 */
async function health(project: string, req: MetricsRequest, deps: MetricsDeps): Promise<ApiResponse> {
  if (!deps.store) return errorResponse(404, 'not_found', 'this deployment has no health route');
  const today = utcDate(req.now.getTime());
  const [pipeline, rolledUpAt, bots] = await Promise.all([
    pipelineHealth(deps.store, project, req.now, deps.manifestCache),
    deps.warehouse.lastRollup(),
    deps.warehouse.botDays(project, addDays(today, -(BOT_DAYS - 1)), today),
  ]);
  return jsonResponse({
    project,
    ...pipeline,
    bots: bots.map((b) => ({ date: b.dt, events: b.events, ids: b.ids })),
    rollup: { lastRun: deps.lastRollup?.() ?? null, rolledUpAt: rolledUpAt?.toISOString() ?? null },
    generatedAt: req.now.toISOString(),
  });
}
