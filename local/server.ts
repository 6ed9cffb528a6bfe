import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { toProxyResult } from '../lambdas/api-gateway.js';
import { isDashboardPath } from '../lambdas/dashboard.js';
import { errorResponse, jsonResponse } from '../lib/http.js';
import { closeGracefully, createLimitedServer, flatHeaders, listen, readBody } from '../lib/node-http.js';
import { isMetricsPath } from '../lib/warehouse/metrics-api.js';

export type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The most of a body the local server reads (API Gateway's payload cap); more is answered 413. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * Lambda's limit on a synchronous invoke's request (6 MB): the whole event, with the body in
 * base64. A larger event never reaches the function; API Gateway answers 413 itself.
 */
export const MAX_INVOKE_BYTES = 6 * 1024 * 1024;

/** True when the event is over Lambda's invoke limit (exact only when it could be). */
export function overInvokeLimit(event: APIGatewayProxyEventV2, bodyBytes: number): boolean {
  if (Math.ceil(bodyBytes / 3) * 4 < MAX_INVOKE_BYTES - 64 * 1024) return false;
  return Buffer.byteLength(JSON.stringify(event)) > MAX_INVOKE_BYTES;
}

/** Builds the API Gateway HTTP API (payload 2.0) event that AWS would give the handler. */
export function toApiGatewayEvent(
  req: IncomingMessage,
  body: Buffer,
  receivedAt: number,
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers = flatHeaders(req);
  const method = req.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: `${method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `${method} ${url.pathname}`,
      stage: '$default',
      time: new Date(receivedAt).toISOString(),
      timeEpoch: receivedAt,
    },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** Requests per second and burst of a route class, as API Gateway's route throttling. */
export interface Budget {
  rate: number;
  burst: number;
}

/** The stack's defaults (tally:throttleRate/Burst, tally:readThrottleRate/Burst). */
export const DEFAULT_BUDGETS: { collect: Budget; read: Budget } = {
  collect: { rate: 1000, burst: 2000 },
  read: { rate: 50, burst: 100 },
};

/** The read routes (active users, health, the dashboard), which the metrics handler serves. */
function isReadPath(path: string): boolean {
  return isMetricsPath(path) || isDashboardPath(path);
}

/** A token bucket: `burst` requests at once, refilled at `rate` a second. */
export class TokenBucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly budget: Budget,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = budget.burst;
    this.at = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.budget.burst, this.tokens + ((t - this.at) / 1000) * this.budget.rate);
    this.at = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface ServeOptions {
  /**
   * Throttles like the HTTP API's routes: the collection routes share one budget, the read routes
   * (active users, health, dashboard) have their own, so a flood of events never leaves them
   * unanswered. null: no throttle. @default DEFAULT_BUDGETS
   */
  budgets?: { collect: Budget | null; read: Budget | null };
  /** Connections open at once; more are refused. @default 2000 */
  maxConnections?: number;
  /** Time to receive a request's headers, and the whole request. @default 10 s, 30 s (API Gateway's integration timeout) */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** A local HTTP server that hands every request to an API Gateway v2 handler, as AWS does. */
export async function serveHandler(
  handler: HttpHandler,
  port: number,
  host = '127.0.0.1',
  options: ServeOptions = {},
): Promise<{ url: string; server: Server; close(graceMs?: number): Promise<void> }> {
  const budgets = options.budgets ?? DEFAULT_BUDGETS;
  const buckets = {
    collect: budgets.collect ? new TokenBucket(budgets.collect) : null,
    read: budgets.read ? new TokenBucket(budgets.read) : null,
  };
  // A slow or trickling client cannot hold the server: headers and whole requests have deadlines,
  // and connections a cap.
  const limits = {
    headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    maxConnections: options.maxConnections ?? 2000,
  };
  const server = createLimitedServer(limits, (req: IncomingMessage, res: ServerResponse) => {
    const receivedAt = Date.now();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const bucket = isReadPath(path) ? buckets.read : buckets.collect;
    if (bucket && !bucket.take()) {
      // API Gateway's own answer, before any handler runs; the body is not read.
      res.writeHead(429, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ message: 'Too Many Requests' }));
      return;
    }
    readBody(req, MAX_BODY_BYTES)
      .then(async (body) => {
        if (body === null) {
          // API Gateway's own payload cap, before any handler runs.
          res.writeHead(413, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: 'Request Entity Too Large' }));
          return;
        }
        const event = toApiGatewayEvent(req, body, receivedAt);
        if (overInvokeLimit(event, body.length)) {
          // What API Gateway answers when Lambda refuses the invoke as too large.
          res.writeHead(413, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: 'Request Too Long' }));
          return;
        }
        const result = await handler(event);
        res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
        res.end(result.body ?? '');
      })
      .catch(() => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'internal_error', message: 'the local server failed' } }));
      });
  });
  const boundPort = await listen(server, port, host);
  return {
    url: `http://${host}:${boundPort}`,
    server,
    close: (graceMs = 0) => closeGracefully(server, graceMs),
  };
}

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;

/**
 * Why a request to a `/local/` route is refused, or null. Those routes change the data dir, so
 * no web page may reach them: they take only `application/json` (which a cross-origin page cannot
 * send without a preflight, and preflights of these routes are never approved), only a loopback
 * `Host` (no DNS rebinding), and no `Origin` or `Sec-Fetch-Site` that says another site sent it.
 */
export function localRouteRefusal(event: APIGatewayProxyEventV2): string | null {
  const headers = event.headers ?? {};
  const host = headers.host ?? '';
  if (!LOOPBACK_HOST.test(host)) return `host ${JSON.stringify(host).slice(0, 80)} is not a loopback address`;
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) {
    return `requests from origin ${JSON.stringify(origin).slice(0, 80)} are refused`;
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `${JSON.stringify(site).slice(0, 40)} requests are refused`;
  }
  const mediaType = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    return `content-type must be application/json, got ${JSON.stringify(headers['content-type'] ?? '(none)').slice(0, 60)}`;
  }
  return null;
}

/** What the local server's own routes call. */
export interface LocalRoutes {
  collect: HttpHandler;
  metrics: HttpHandler | null;
  warehouse: {
    rollupNow(options?: { full?: boolean }): Promise<{ manifests: number; stats: unknown }>;
    /** Compacts the lake now (null: compaction is off for this lake). */
    compactNow?(): Promise<unknown>;
  } | null;
  createProject: (project: string) => Promise<{ writeKey: string; readKey: string }>;
  /** Erases people (`{"project", "userIds", "anonymousIds"}`) and recounts the days they were in. */
  erase: (request: unknown) => Promise<unknown>;
}

function jsonBody(event: APIGatewayProxyEventV2): unknown {
  return JSON.parse(Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8').toString());
}

/**
 * The local server's routes: the metrics API; routes that exist only on this server, which
 * listens on 127.0.0.1: `POST /local/rollup` (runs a rollup now), `POST /local/compact`, `POST /local/projects`
 * (`{"project": "name"}`: creates a project and answers its keys, once) and `POST /local/erase`,
 * all refused to web pages (`localRouteRefusal`); everything else goes to the collector, as API
 * Gateway routes it on AWS.
 */
export function localRouter(routes: LocalRoutes): HttpHandler {
  const { collect, metrics, warehouse } = routes;
  return async (event) => {
    const post = event.requestContext.http.method === 'POST';
    if (metrics && isReadPath(event.rawPath)) return metrics(event);
    if (event.rawPath.startsWith('/local/')) {
      const refusal = localRouteRefusal(event);
      if (refusal !== null) return toProxyResult(errorResponse(403, 'cross_site_refused', refusal));
    }
    if (warehouse && post && event.rawPath === '/local/rollup') {
      let full = false;
      try {
        full = (jsonBody(event) as { full?: unknown } | null)?.full === true;
      } catch {
        return toProxyResult(errorResponse(400, 'invalid_json', 'the body must be {} or {"full": true}'));
      }
      return toProxyResult(jsonResponse(await warehouse.rollupNow({ full })));
    }
    if (warehouse?.compactNow && post && event.rawPath === '/local/compact') {
      const result = await warehouse.compactNow();
      if (result === null)
        return toProxyResult(
          errorResponse(
            409,
            'compaction_off',
            'this lake is not on the filesystem: nothing compacts it here',
          ),
        );
      return toProxyResult(jsonResponse(result));
    }
    if (post && (event.rawPath === '/local/projects' || event.rawPath === '/local/erase')) {
      let body: unknown;
      try {
        body = jsonBody(event);
      } catch {
        return toProxyResult(errorResponse(400, 'invalid_json', 'the body must be a JSON object'));
      }
      try {
        if (event.rawPath === '/local/erase') return toProxyResult(jsonResponse(await routes.erase(body)));
        const project = String((body as { project?: unknown } | null)?.project);
        return toProxyResult(jsonResponse({ project, ...(await routes.createProject(project)) }, 201));
      } catch (error) {
        const erasing = event.rawPath === '/local/erase';
        const code = erasing ? ((error as { code?: string }).code ?? 'invalid_request') : 'invalid_project';
        return toProxyResult(errorResponse(400, code, (error as Error).message));
      }
    }
    return collect(event);
  };
}
