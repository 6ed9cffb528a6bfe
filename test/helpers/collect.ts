import { gzipSync } from 'node:zlib';
import { hashKey, KeyRing } from '../../lib/ingest/auth.js';
import { type CollectDeps, type CollectRequest, collect } from '../../lib/ingest/collect.js';
import { decodeRecord, type StreamItem } from '../../lib/stream/codec.js';
import { MemoryStream } from './memory.js';

export const WRITE_KEY = 'test-write-key-0123456789';
export const HASH_KEY = { version: 3, secret: Buffer.alloc(32, 7) };
export const RECEIVED_AT = Date.parse('2026-03-10T12:00:00Z');

export function deps(stream = new MemoryStream()): CollectDeps & { stream: MemoryStream } {
  return {
    writeKeys: new KeyRing([{ project: 'shop', sha256: hashKey(WRITE_KEY) }]),
    hashKey: HASH_KEY,
    stream,
    put: { sleep: async () => {}, policy: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 } },
  };
}

export function request(path: string, body: unknown, headers: Record<string, string> = {}): CollectRequest {
  const raw = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    method: 'POST',
    path,
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
      ...headers,
    },
    body: raw,
    receivedAt: RECEIVED_AT,
  };
}

export function gzipRequest(path: string, body: Buffer): CollectRequest {
  return request(path, gzipSync(body), { 'content-encoding': 'gzip' });
}

/** Everything a MemoryStream received, decoded. */
export function itemsOf(stream: MemoryStream): StreamItem[] {
  return stream.written.flatMap((e) => decodeRecord(e.data).items);
}

export { collect };

/** A valid track event with overrides. */
export const track = (over: Record<string, unknown> = {}) => ({
  type: 'track',
  userId: 'user-1',
  event: 'Order Completed',
  messageId: 'm-1',
  ...over,
});
