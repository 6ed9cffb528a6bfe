import { randomUUID } from 'node:crypto';
import type { EventType } from '../events.js';
import { type ApiResponse, errorResponse } from '../http.js';
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
import type { HashKey } from './pseudonymize.js';
import { isPlainObject } from './redact.js';
import { parseTimestamp } from './skew.js';
import { validateEvent } from './validate.js';

/** An HTTP request as the collector sees it, whatever carried it (API Gateway, local server). */
export interface CollectRequest {
  method: string;
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  body: Buffer;
  receivedAt: number;
}

/** The collector's answer. */
export type CollectResponse = ApiResponse;

export interface CollectDeps {
  writeKeys: KeyRing;
  hashKey: HashKey;
  stream: StreamWriter;
  put?: PutOptions;
}

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

/** Segment's routes and the type each implies (`batch` carries its own). */
export const ROUTES: Readonly<Record<string, EventType | 'batch'>> = {
  '/v1/batch': 'batch',
  '/v1/import': 'batch',
  '/v1/track': 'track',
  '/v1/identify': 'identify',
  '/v1/page': 'page',
  '/v1/screen': 'screen',
  '/v1/group': 'group',
  '/v1/alias': 'alias',
};

function eventsOf(
  body: unknown,
  route: EventType | 'batch',
): { events: unknown[]; batchSentAt: number | null } {
  if (!isPlainObject(body)) {
    throw new RequestError(
      400,
      'invalid_body',
      `the body must be a JSON object, got ${Array.isArray(body) ? 'array' : typeof body}`,
    );
  }
  if (route !== 'batch') return { events: [body], batchSentAt: null };
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
  return { events: body.batch, batchSentAt };
}

/**
 * The collector: Segment HTTP Tracking API in, stream records out. Whole-request problems
 * (size, media type, JSON, key) get a 4xx and nothing is written; a bad event inside a good
 * request becomes a bad row on the stream and is listed in the response; nothing is
 * acknowledged before the stream has every record (503 + Retry-After otherwise).
 */
export async function collect(
  req: CollectRequest,
  deps: CollectDeps,
): Promise<{ response: CollectResponse; stats: CollectStats }> {
  const stats: CollectStats = { project: null, accepted: 0, rejected: 0, records: 0 };
  const route = ROUTES[req.path.replace(/\/+$/, '')];
  if (route === undefined)
    return {
      response: errorResponse(404, 'not_found', `no route ${JSON.stringify(req.path).slice(0, 80)}`),
      stats,
    };
  if (req.method !== 'POST') {
    return {
      response: errorResponse(405, 'method_not_allowed', `${req.path} takes POST, got ${req.method}`, {
        allow: 'POST',
      }),
      stats,
    };
  }
  try {
    const body = parseBody(req.headers, req.body);
    const writeKey =
      writeKeyFromAuthorization(req.headers.authorization) ??
      (isPlainObject(body) && typeof body.writeKey === 'string' ? body.writeKey : null);
    if (writeKey === null) {
      return {
        response: errorResponse(
          401,
          'unauthorized',
          'missing write key: send it as the HTTP Basic username or as "writeKey"',
        ),
        stats,
      };
    }
    const project = deps.writeKeys.projectOf(writeKey);
    if (project === null) return { response: errorResponse(401, 'unauthorized', 'unknown write key'), stats };
    stats.project = project;
    const { events, batchSentAt } = eventsOf(body, route);
    const ctx = {
      project,
      key: deps.hashKey,
      receivedAt: req.receivedAt,
      batchSentAt,
      routeType: route === 'batch' ? null : route,
    };
    const items: StreamItem[] = [];
    const rejected: RejectedEvent[] = [];
    events.forEach((raw, index) => {
      const result = validateEvent(raw, ctx);
      if (result.ok) {
        items.push({ kind: 'event', event: result.event });
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
    if (route !== 'batch' && first !== undefined) {
      return { response: errorResponse(400, first.code, first.message), stats };
    }
    return {
      response: {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: rejected.length > 0 ? { success: true, rejected } : { success: true },
      },
      stats,
    };
  } catch (e) {
    if (e instanceof RequestError) return { response: errorResponse(e.status, e.code, e.message), stats };
    if (e instanceof StreamUnavailableError) {
      stats.accepted = 0;
      return {
        response: errorResponse(503, e.code, `${e.message}; nothing was accepted, retry later`, {
          'retry-after': String(RETRY_AFTER_SECONDS),
        }),
        stats,
      };
    }
    throw e;
  }
}
