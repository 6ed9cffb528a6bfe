import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Node request's body, or null when it is over `limit` bytes (the rest is read and dropped,
 * never kept), for the servers that hand requests to the collector.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A Node request's headers as one string each (repeated ones joined with commas, as API Gateway does). */
export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

/** What keeps a slow or trickling client from holding a server. */
export interface ServerLimits {
  /** Time to receive a request's headers, and the whole request. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Connections open at once; more are refused. */
  maxConnections: number;
  /** How long an idle keep-alive connection stays open. @default Node's (5 s) */
  keepAliveTimeoutMs?: number;
}

/** An HTTP server with deadlines on headers and whole requests, and a cap on connections. */
export function createLimitedServer(limits: ServerLimits, listener: RequestListener): Server {
  // Node checks the deadlines on this interval (30 s unless told).
  const check = { connectionsCheckingInterval: Math.min(1000, Math.ceil(limits.headersTimeoutMs / 3)) };
  const server = createServer(check, listener);
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.maxConnections = limits.maxConnections;
  if (limits.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  return server;
}

/** Listens on `host:port` (0: a free port) and answers the port. */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Stops accepting; idle keep-alive connections go now, requests in flight may finish within
 * `graceMs`, then whatever is left is cut. Resolves when every connection is closed.
 */
export function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
