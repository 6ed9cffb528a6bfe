import { gzipSync } from 'node:zlib';

/** One event as a client sends it, plus what the lake row must then hold. */
export interface SentEvent {
  body: Record<string, unknown>;
  /** null when the collector must reject it. */
  expect: null | {
    userId: string | null;
    anonymousId: string | null;
    eventTimeMs: number;
    dt: string;
    type: string;
    event: string | null;
  };
  badReason?: string;
}

const DAY = 86_400_000;

/** What the collector answers. */
export interface ApiBody {
  success?: boolean;
  rejected?: Array<{ index: number; messageId: string | null; code: string; message: string }>;
  error?: { code: string; message: string };
}

/**
 * A deterministic mix: identified and anonymous users, several days, client clock skew through
 * sentAt, page/identify/track calls, and invalid events (no identity, over 32 KB).
 */
export function workload(prefix: string, count: number, now: number): SentEvent[] {
  const out: SentEvent[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    if (i % 37 === 5) {
      out.push({
        body: { type: 'track', event: 'No Identity', messageId: id },
        expect: null,
        badReason: 'missing_identity',
      });
      continue;
    }
    if (i % 53 === 7) {
      out.push({
        body: {
          type: 'track',
          userId: 'u',
          event: 'Huge',
          messageId: id,
          properties: { pad: 'x'.repeat(33_000) },
        },
        expect: null,
        badReason: 'size',
      });
      continue;
    }
    const anonymous = i % 4 === 0;
    const userId = anonymous ? null : `user-${i % 41}`;
    const anonymousId = anonymous || i % 5 === 0 ? `anon-${i % 17}` : null;
    const eventTimeMs = now - (i % 9) * DAY - (i % 13) * 60_000;
    const type = i % 7 === 0 ? 'page' : i % 11 === 0 ? 'identify' : 'track';
    const body: Record<string, unknown> = {
      type,
      messageId: id,
      timestamp: new Date(eventTimeMs).toISOString(),
      properties: { i, big: i % 3 === 0 ? 2 ** 60 : i },
      context: { library: { name: 'tally-test' }, ip: '198.51.100.7' },
    };
    if (userId) body.userId = userId;
    if (anonymousId) body.anonymousId = anonymousId;
    if (type === 'track') body.event = `Event ${i % 6}`;
    if (type === 'page') body.name = 'Home';
    if (type === 'identify') body.traits = { email: `${userId ?? 'x'}@example.com` };
    out.push({
      body,
      expect: {
        userId,
        anonymousId,
        eventTimeMs,
        dt: new Date(eventTimeMs).toISOString().slice(0, 10),
        type,
        event: type === 'track' ? `Event ${i % 6}` : type === 'page' ? 'Home' : null,
      },
    });
  }
  return out;
}

export async function post(
  url: string,
  writeKey: string,
  path: string,
  body: unknown,
  gzip = false,
): Promise<{ status: number; body: ApiBody }> {
  const json = Buffer.from(JSON.stringify(body));
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      'content-type': 'application/json',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    },
    body: gzip ? gzipSync(json) : json,
  });
  return { status: response.status, body: (await response.json()) as ApiBody };
}

/** Sends events in /v1/batch requests of `size`, alternating gzip; returns the responses. */
export async function sendBatches(url: string, writeKey: string, events: SentEvent[], size = 25) {
  const responses: Array<{ status: number; body: ApiBody }> = [];
  for (let i = 0; i < events.length; i += size) {
    responses.push(
      await post(
        url,
        writeKey,
        '/v1/batch',
        { batch: events.slice(i, i + size).map((e) => e.body) },
        (i / size) % 2 === 1,
      ),
    );
  }
  return responses;
}
