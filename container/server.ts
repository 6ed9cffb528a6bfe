import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { toProxyResult } from '../lambdas/api-gateway.js';
import { errorResponse } from '../lib/http.js';
import { answerCollect } from '../lib/ingest/answer.js';
import type { CollectDeps, CollectRequest } from '../lib/ingest/collect.js';
import { MAX_REQUEST_BYTES } from '../lib/ingest/limits.js';
import type { Logger } from '../lib/log.js';
import type { CollectCount } from '../lib/metrics.js';
import { closeGracefully, createLimitedServer, flatHeaders, listen, readBody } from '../lib/node-http.js';

/** The load balancer's health check: 200 while serving, 503 once draining. */
export const HEALTH_PATH = '/ping';

export interface CollectorServerOptions {
  port: number;
  /** @default 0.0.0.0 (a container's interface) */
  host?: string;
  /** Time to receive a request's headers, and the whole request. @default 10 s, 30 s */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open: longer than the load balancer's idle
   * timeout (60 s), so the balancer, not the server, closes it and never sends on a closing
   * connection. @default 65 s
   */
  keepAliveTimeoutMs?: number;
  /** Connections open at once; more are refused. @default 10000 */
  maxConnections?: number;
  /** Called with each answered request's count (metrics). */
  count?: (c: CollectCount) => void;
}

export interface CollectorServer {
  url: string;
  server: Server;
  /** Requests being answered now. */
  inFlight(): number;
  /**
   * Drains: the health check fails, no new connection is accepted, requests in flight finish
   * (each is acknowledged only once the stream has its records), idle connections close; after
   * `graceMs` whatever is left is cut (and so never acknowledged). Resolves when all are closed.
   */
  drain(graceMs: number): Promise<void>;
}

function toRequest(req: IncomingMessage, body: Buffer, receivedAt: number): CollectRequest {
  const url = new URL(req.url ?? '/', 'http://localhost');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    headers: flatHeaders(req),
    query: Object.fromEntries(url.searchParams),
    body,
    receivedAt,
    sourceIp: clientAddress(req),
  };
}

/**
 * The client's address: the last one of `X-Forwarded-For`, which the load balancer appends
 * (earlier ones are whatever the client sent), else the connection's.
 */
function clientAddress(req: IncomingMessage): string | undefined {
  const forwarded = req.headers['x-forwarded-for'];
  const last = (Array.isArray(forwarded) ? forwarded.at(-1) : forwarded)?.split(',').at(-1)?.trim();
  return last || req.socket.remoteAddress;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * The collector in a long-lived HTTP server, for containers behind a load balancer: every request
 * goes to the same `answerCollect` the Lambda calls (routes, CORS, keys, validation, answers), and
 * `deps` may be swapped field by field while serving (refreshed secrets).
 */
export async function startCollectorServer(
  deps: CollectDeps,
  logger: Logger,
  options: CollectorServerOptions,
): Promise<CollectorServer> {
  let draining = false;
  let inFlight = 0;
  const count = options.count ?? (() => {});
  const limits = {
    headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    maxConnections: options.maxConnections ?? 10_000,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 65_000,
  };
  const server = createLimitedServer(limits, (req, res) => {
    const receivedAt = Date.now();
    if (req.method === 'GET' && req.url === HEALTH_PATH) {
      const status = draining ? 503 : 200;
      send(res, status, { 'content-type': 'application/json' }, JSON.stringify({ serving: !draining }));
      return;
    }
    inFlight += 1;
    readBody(req, MAX_REQUEST_BYTES)
      .then(async (body) => {
        const response =
          body === null
            ? errorResponse(
                413,
                'request_too_large',
                `the body is over the limit of ${MAX_REQUEST_BYTES} bytes`,
              )
            : await answerCollect(toRequest(req, body, receivedAt), deps, logger, count);
        const result = toProxyResult(response);
        // Once the drain began, each answer closes its connection.
        if (draining) res.setHeader('connection', 'close');
        send(res, result.statusCode ?? 200, result.headers as Record<string, string>, result.body ?? '');
      })
      .catch((error: Error) => {
        logger.error('request failed', { error: error.message });
        if (!res.headersSent) send(res, 500, { 'content-type': 'application/json' }, '');
      })
      .finally(() => {
        inFlight -= 1;
        if (draining) server.closeIdleConnections();
      });
  });
  const host = options.host ?? '0.0.0.0';
  const port = await listen(server, options.port, host);
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    server,
    inFlight: () => inFlight,
    drain: (graceMs) => {
      draining = true;
      return closeGracefully(server, graceMs);
    },
  };
}
