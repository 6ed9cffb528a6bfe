import { randomUUID } from 'node:crypto';
import { type CountryOf, NO_COUNTRY } from '../enrich/country.js';
import type { EventType } from '../events.js';
import { type ApiResponse, errorResponse, jsonResponse } from '../http.js';
import { encodeRecords, type StreamItem } from '../stream/codec.js';
import {
  type PutOptions,
  putAll,
  RETRY_AFTER_SECONDS,
  StreamUnavailableError,
  type StreamWriter,
} from '../stream/producer.js';
import { type KeyRing, writeKeyFromAuthorization } from './auth.js';
import { parseBody, RequestError } from './body.js';
import { ANY_ORIGIN, type CorsPolicy, corsHeaders, originAllowed, preflight } from './cors.js';
import { type HashKey, Pseudonyms } from './pseudonymize.js';
import type { ProjectQuotas } from './quota.js';
import { isPlainObject } from './redact.js';
import { methodOf, routeOf } from './routes.js';
import { parseTimestamp } from './skew.js';
import { type EventResult, validateCompact, validateEvent } from './validate.js';

/** An HTTP request as the collector sees it, whatever carried it (API Gateway, local server). */
export interface CollectRequest {
  method: string;
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  /** Decoded query parameters (a beacon's `writeKey`). */
  query?: Record<string, string | undefined>;
  body: Buffer;
  receivedAt: number;
  /** The address the request came from (API Gateway's `sourceIp`, the ALB's last hop, the socket's). */
  sourceIp?: string;
}

/** The collector's answer. */
export type CollectResponse = ApiResponse;

export interface CollectDeps {
  writeKeys: KeyRing;
  hashKey: HashKey;
  stream: StreamWriter;
  put?: PutOptions;
  /** Browser origins allowed on the collection routes. @default any origin */
  cors?: CorsPolicy;
  /** Per-project request quotas. @default none */
  quotas?: ProjectQuotas;
  /** Countries of IP addresses (`enrich/country.ts`). @default none: every country null */
  countryOf?: CountryOf;
}

/** Seconds a client over its project's quota is told to wait (quotas are counted per second). */
export const QUOTA_RETRY_AFTER_SECONDS = 1;

/** How many refused events a 200 response lists (all are counted in `rejectedCount` and kept as bad rows). */
export const MAX_REJECTIONS_LISTED = 100;

/** One refused event, as listed in a 200 response. */
export interface RejectedEvent {
  index: number;
  messageId: string | null;
  code: string;
  message: string;
}

/** What happened to one request, for the handler's log line (no ids, no keys, no payloads). */
export interface CollectStats {
  project: string | null;
  accepted: number;
  rejected: number;
  records: number;
}

/** What every event of a batch inherits from the batch. */
interface BatchEnvelope {
  events: unknown[];
  batchSentAt: number | null;
  /** Batch-level `context` (Segment's batch API): merged into each event's, the event's keys win. */
  batchContext: Record<string, unknown> | null;
}

function eventsOf(body: unknown, type: EventType | 'batch'): BatchEnvelope {
  if (!isPlainObject(body)) {
    throw new RequestError(
      400,
      'invalid_body',
      `the body must be a JSON object, got ${Array.isArray(body) ? 'array' : typeof body}`,
    );
  }
  if (type !== 'batch') return { events: [body], batchSentAt: null, batchContext: null };
  if (!Array.isArray(body.batch)) {
    throw new RequestError(
      400,
      'invalid_batch',
      `"batch" must be an array of events, got ${typeof body.batch}`,
    );
  }
  let batchSentAt: number | null = null;
  if (body.sentAt !== undefined && body.sentAt !== null) {
    batchSentAt = typeof body.sentAt === 'string' ? parseTimestamp(body.sentAt) : null;
    if (batchSentAt === null) {
      throw new RequestError(
        400,
        'invalid_timestamp',
        `sentAt is not an ISO-8601 timestamp: ${JSON.stringify(body.sentAt).slice(0, 60)}`,
      );
    }
  }
  let batchContext: Record<string, unknown> | null = null;
  if (body.context !== undefined && body.context !== null) {
    if (!isPlainObject(body.context)) {
      throw new RequestError(
        400,
        'invalid_context',
        `the batch's "context" must be an object, got ${Array.isArray(body.context) ? 'array' : typeof body.context}`,
      );
    }
    batchContext = body.context;
  }
  return { events: body.batch, batchSentAt, batchContext };
}

/** An event with the batch's context under its own (top-level keys: the event's win). */
function withBatchContext(raw: unknown, batchContext: Record<string, unknown> | null): unknown {
  if (batchContext === null || !isPlainObject(raw)) return raw;
  const own = raw.context;
  if (own === undefined || own === null) return { ...raw, context: batchContext };
  // A malformed event context stays as it is, and is refused with the event.
  return isPlainObject(own) ? { ...raw, context: { ...batchContext, ...own } } : raw;
}

/** The write key: the HTTP Basic username, else `writeKey` in the body, else in the query (beacons). */
function writeKeyOf(req: CollectRequest, body: unknown): string | null {
  const fromBody = isPlainObject(body) && typeof body.writeKey === 'string' ? body.writeKey : '';
  return writeKeyFromAuthorization(req.headers.authorization) ?? (fromBody || req.query?.writeKey || null);
}

/** The project a request's write key belongs to, or the 401 to answer. */
function projectOf(req: CollectRequest, body: unknown, deps: CollectDeps): string | CollectResponse {
  const writeKey = writeKeyOf(req, body);
  if (writeKey === null) {
    return errorResponse(
      401,
      'unauthorized',
      'missing write key: send it as the HTTP Basic username, as "writeKey" in the body or as ?writeKey=',
    );
  }
  return deps.writeKeys.projectOf(writeKey) ?? errorResponse(401, 'unauthorized', 'unknown write key');
}

/**
 * The collector: Segment HTTP Tracking API in, stream records out. Whole-request problems
 * (size, media type, JSON, key) get a 4xx and nothing is written; a bad event inside a good
 * request becomes a bad row on the stream and is listed in the response; nothing is
 * acknowledged before the stream has every record (503 + Retry-After otherwise). Every answer
 * carries the CORS headers of the request's origin, and `OPTIONS` preflights are answered here
 * (on AWS too), so the read-key routes on the same API stay closed to other origins.
 */
export async function collect(
  req: CollectRequest,
  deps: CollectDeps,
): Promise<{ response: CollectResponse; stats: CollectStats }> {
  const stats: CollectStats = { project: null, accepted: 0, rejected: 0, records: 0 };
  const policy = deps.cors ?? ANY_ORIGIN;
  const origin = req.headers.origin;
  if (!originAllowed(origin, policy)) {
    const message = `origin ${JSON.stringify(origin).slice(0, 100)} may not send events here`;
    return { response: errorResponse(403, 'origin_not_allowed', message), stats };
  }
  const response = await answer(req, deps, policy, stats);
  return {
    response: { ...response, headers: { ...corsHeaders(origin, policy), ...response.headers } },
    stats,
  };
}

async function answer(
  req: CollectRequest,
  deps: CollectDeps,
  policy: CorsPolicy,
  stats: CollectStats,
): Promise<CollectResponse> {
  const route = routeOf(req.path);
  if (route === null)
    return errorResponse(404, 'not_found', `no route ${JSON.stringify(req.path).slice(0, 80)}`);
  const method = methodOf(route);
  if (req.method === 'OPTIONS') return preflight(req.headers, `${method}, OPTIONS`, policy);
  if (req.method !== method) {
    return errorResponse(405, 'method_not_allowed', `${req.path} takes ${method}, got ${req.method}`, {
      allow: `${method}, OPTIONS`,
    });
  }
  try {
    if (route.kind === 'telemetry') return jsonResponse({ success: true });
    if (route.kind === 'source_config') return sourceConfig(req, deps);
    if (route.kind === 'segment_settings') return segmentSettings(req, route.writeKey, deps);
    return await collectEvents(req, route.type, deps, stats);
  } catch (e) {
    if (e instanceof RequestError) return errorResponse(e.status, e.code, e.message);
    if (e instanceof StreamUnavailableError) {
      stats.accepted = 0;
      return errorResponse(503, e.code, `${e.message}; nothing was accepted, retry later`, {
        'retry-after': String(RETRY_AFTER_SECONDS),
      });
    }
    throw e;
  }
}

/**
 * RudderStack's browser SDK loads a source configuration before it sends an event: Tally answers
 * one with no destinations, so `configUrl` can point at Tally itself.
 */
function sourceConfig(req: CollectRequest, deps: CollectDeps): CollectResponse {
  const project = projectOf(req, null, deps);
  if (typeof project !== 'string') return project;
  return jsonResponse({
    isHosted: false,
    source: { id: project, name: project, enabled: true, workspaceId: 'tally', config: {}, destinations: [] },
  });
}

/**
 * analytics.js' settings for a write key, so `AnalyticsBrowser.load({ writeKey, cdnURL: <tally> })`
 * needs nothing else: events go back to this host, and the SDK's own delivery metrics are off.
 */
function segmentSettings(req: CollectRequest, writeKey: string, deps: CollectDeps): CollectResponse {
  if (deps.writeKeys.projectOf(writeKey) === null)
    return errorResponse(404, 'unknown_write_key', 'unknown write key');
  const host = req.headers.host;
  if (!host || !/^[A-Za-z0-9.:[\]-]{1,255}$/.test(host)) {
    return errorResponse(
      400,
      'invalid_host',
      `the Host header is missing or invalid: ${JSON.stringify(host ?? '').slice(0, 80)}`,
    );
  }
  const protocol = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  return jsonResponse({
    integrations: { 'Segment.io': { apiKey: writeKey, apiHost: `${host}/v1`, protocol } },
    plan: { track: { __default: { enabled: true } }, identify: { __default: { enabled: true } } },
    metrics: { sampleRate: 0 },
  });
}

/**
 * An event's country: of a text `context.ip`, else of the request's address. Each is looked up
 * once per request while it repeats (a server-side batch sends one `context.ip` for all).
 */
function eventCountry(
  countryOf: CountryOf,
  sourceIp: string | undefined,
): (contextIp: unknown) => string | null {
  let source: string | null | undefined;
  let lastIp: string | undefined;
  let lastCountry: string | null = null;
  return (contextIp) => {
    if (typeof contextIp !== 'string') {
      if (source === undefined) source = countryOf(sourceIp);
      return source;
    }
    if (contextIp !== lastIp) {
      lastIp = contextIp;
      lastCountry = countryOf(contextIp);
    }
    return lastCountry;
  };
}

async function collectEvents(
  req: CollectRequest,
  type: EventType | 'batch',
  deps: CollectDeps,
  stats: CollectStats,
): Promise<CollectResponse> {
  const parsed = parseBody(req.headers, req.body, type === 'batch');
  const { value: body, text, inexact, layouts, compact } = parsed;
  // An ASCII body's character offsets are its byte offsets: the record copies its texts' bytes.
  const ascii = parsed.bytes.length === text.length ? parsed.bytes : null;
  const project = projectOf(req, body, deps);
  if (typeof project !== 'string') return project;
  stats.project = project;
  if (deps.quotas && !(await deps.quotas.admit(project, req.receivedAt))) {
    const message = `project ${project} is over its quota of ${deps.quotas.limitOf(project)} requests a second; nothing was accepted, retry later`;
    return errorResponse(429, 'quota_exceeded', message, {
      'retry-after': String(QUOTA_RETRY_AFTER_SECONDS),
    });
  }
  const { events, batchSentAt, batchContext } = eventsOf(body, type);
  const ctx = {
    project,
    key: deps.hashKey,
    receivedAt: req.receivedAt,
    batchSentAt,
    routeType: type === 'batch' ? null : type,
    pseudonyms: new Pseudonyms(deps.hashKey, project),
    countryOf: eventCountry(deps.countryOf ?? NO_COUNTRY, req.sourceIp),
  };
  const items: StreamItem[] = [];
  const rejected: RejectedEvent[] = [];
  events.forEach((raw, index) => {
    const result =
      compact !== null ? validateCompact(compact[index]!, text, ctx, ascii) : validateBatchEvent(raw, index);
    if (result.ok) {
      items.push(
        result.bytes === undefined
          ? { kind: 'event', event: result.event }
          : { kind: 'event', event: result.event, bytes: result.bytes },
      );
    } else {
      items.push({ kind: 'bad', badRow: result.badRow });
      rejected.push({
        index,
        messageId: result.badRow.eventId,
        code: result.badRow.reason,
        message: result.badRow.message,
      });
    }
  });
  function validateBatchEvent(raw: unknown, index: number): EventResult {
    const inexactNumber = inexact ? (inexact.events.get(index) ?? inexact.top) : null;
    const layout = layouts?.[index] ?? null;
    // A merged batch context is serialized: the event's own context text is not all of it.
    const source =
      layout === null
        ? null
        : { text, layout: batchContext === null ? layout : { ...layout, contextStart: -1 } };
    return validateEvent(withBatchContext(raw, batchContext), ctx, inexactNumber, source);
  }
  ctx.pseudonyms.finish();
  stats.accepted = items.length - rejected.length;
  stats.rejected = rejected.length;
  const records = encodeRecords(items);
  stats.records = records.length;
  await putAll(
    deps.stream,
    records.map((data) => ({ data, partitionKey: randomUUID() })),
    deps.put,
  );
  const first = rejected[0];
  if (type !== 'batch' && first !== undefined) return errorResponse(400, first.code, first.message);
  if (rejected.length === 0) return jsonResponse({ success: true });
  // Bounded: a 500 KB body of tiny invalid items would otherwise answer tens of MB.
  return jsonResponse({
    success: true,
    rejected: rejected.slice(0, MAX_REJECTIONS_LISTED),
    rejectedCount: rejected.length,
  });
}
