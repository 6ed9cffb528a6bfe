import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utcDate } from '../../lib/events.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { waitFor } from '../../local/ports.js';
import { type LakeRow, readLakeStore } from '../helpers/duckdb.js';
import { expectedHash } from '../helpers/lake.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

/**
 * How real SDKs resend a batch whose answer they lost (rule 1 of lib/warehouse/people.ts is
 * decided from it): a proxy hands each batch to the collector, which accepts it, then answers the
 * SDK 503 the first time, so the SDK sends the same events again.
 */

let started: TestPipeline;
let proxy: Server;
let proxyUrl: string;
/** Batches whose answer the proxy lost, by their body: each is lost once. */
const lost = new Set<string>();

beforeAll(async () => {
  started = await startTestPipeline('sdk-resends');
  const target = started.pipeline.url;
  proxy = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', async () => {
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(
          (e): e is [string, string] =>
            typeof e[1] === 'string' && e[0] !== 'host' && e[0] !== 'content-length',
        ),
      );
      const answer = await fetch(`${target}${request.url}`, { method: request.method, headers, body });
      const text = await answer.text();
      // The SDK's batch by its message ids (its sentAt aside, which some SDKs renew).
      const key = body.length > 0 ? batchKey(body) : '';
      if (request.method === 'POST' && answer.ok && !lost.has(key)) {
        lost.add(key);
        response.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"answer lost"}');
        return;
      }
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await started?.close();
});

/** A batch's message ids, the same on every attempt. */
function batchKey(body: Buffer): string {
  let text = body.toString('utf8');
  if (body[0] === 0x1f) text = gunzipSync(body).toString('utf8');
  const parsed = JSON.parse(text) as { batch?: Array<{ messageId?: string }> };
  return (parsed.batch ?? []).map((m) => m.messageId).join(',');
}

/** Every row of the lake of these users, once `count` rows have landed. */
async function rowsOf(hashes: Set<bigint>, count: number): Promise<LakeRow[]> {
  const lake = new FsObjectStore(join(started.dataDir, 'lake'));
  let rows: LakeRow[] = [];
  await waitFor(
    `${count} rows in the lake`,
    async () => {
      rows = (await readLakeStore(lake)).filter((r) => r.user_hash !== null && hashes.has(r.user_hash));
      return rows.length >= count;
    },
    60_000,
    250,
  );
  return rows;
}

/** Each event's copies: how many, on how many days, and their corrected times' spread. */
function copiesOf(rows: readonly LakeRow[]) {
  const byEvent = new Map<string, LakeRow[]>();
  for (const r of rows) byEvent.set(r.event_id, [...(byEvent.get(r.event_id) ?? []), r]);
  return [...byEvent.values()].map((copies) => {
    const times = copies.map((c) => c.event_time_ms);
    return {
      copies: copies.length,
      days: new Set(copies.map((c) => c.dt)).size,
      spreadMs: Math.max(...times) - Math.min(...times),
      onItsDay: copies.every((c) => c.dt === utcDate(c.event_time_ms)),
    };
  });
}

/** Five events, each sent twice (the answer to the first attempt lost), both copies on its day. */
function expectResentOnceOnOneDay(rows: readonly LakeRow[], spreadUnderMs: number): void {
  const events = copiesOf(rows);
  expect(events).toHaveLength(5);
  for (const e of events) {
    expect(e.copies).toBe(2);
    expect(e.days).toBe(1);
    expect(e.onItsDay).toBe(true);
    expect(e.spreadMs).toBeLessThan(spreadUnderMs);
  }
}

describe('SDKs resending a batch whose answer they lost', () => {
  it('@segment/analytics-node sends the same events again, with a new sentAt: copies a few milliseconds apart, on one day', async () => {
    // Arrange
    const analytics = new Analytics({ writeKey: started.pipeline.writeKeys.default!, host: proxyUrl });
    const userId = `resend-segment-${Date.now()}`;

    // Act
    for (let i = 0; i < 5; i++) analytics.track({ userId, event: 'Resent', properties: { i } });
    await analytics.closeAndFlush({ timeout: 30_000 });
    const rows = await rowsOf(new Set([expectedHash(started.secret, 'default', userId)]), 10);

    // Assert: each event twice, same id, same day; corrected times apart by the network's jitter.
    expectResentOnceOnOneDay(rows, 1_000);
  }, 90_000);

  it('@rudderstack/rudder-sdk-node resends the first attempt as it was: copies apart by the retry delay, on one day', async () => {
    // Arrange
    const rudder = new RudderAnalytics(started.pipeline.writeKeys.default!, {
      dataPlaneUrl: proxyUrl,
      logLevel: 'error',
    });
    const userId = `resend-rudder-${Date.now()}`;

    // Act
    for (let i = 0; i < 5; i++) rudder.track({ userId, event: 'Resent', properties: { i } });
    await rudder.flush();
    const rows = await rowsOf(new Set([expectedHash(started.secret, 'default', userId)]), 10);

    // Assert: the same, apart by the SDK's retry delay.
    expectResentOnceOnOneDay(rows, 60_000);
  }, 90_000);
});
