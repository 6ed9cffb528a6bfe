import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { TokenBucket } from '../../local/server.js';
import { waitForRows } from '../helpers/lake.js';
import { sendBatch, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

describe('a token bucket', () => {
  it('lets a burst through at once, then the rate', () => {
    let now = 0;
    const bucket = new TokenBucket({ rate: 10, burst: 3 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 100; // 0.1 s at 10 a second: one more
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 10_000; // never more than the burst
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });
});

// A small collection budget so that a flood is cheap to make; the read routes keep the default.
let test: TestPipeline;
beforeAll(async () => {
  test = await startTestPipeline('flood', {
    budgets: { collect: { rate: 5, burst: 10 }, read: { rate: 50, burst: 100 } },
  });
});
afterAll(async () => {
  await test?.close();
});

describe('a flood of events on one write key', () => {
  it('is throttled with 429 while the active-users route and the dashboard are answered', async () => {
    const { pipeline } = test;
    const flood = Array.from({ length: 200 }, (_, i) =>
      sendBatch(pipeline, [{ type: 'track', event: 'Flood', userId: `u${i}`, messageId: `flood-${i}` }]),
    );
    const reads = Array.from({ length: 5 }, () => [
      fetch(`${pipeline.url}/v1/projects/default/active-users`, {
        headers: { authorization: `Bearer ${pipeline.readKeys.default}` },
      }),
      fetch(`${pipeline.url}/dashboard`),
    ]).flat();
    const [flooded, read] = await Promise.all([Promise.all(flood), Promise.all(reads)]);
    const statuses = flooded.map((r) => r.status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(100);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(10);
    expect(new Set(statuses)).toEqual(new Set([200, 429]));
    expect(await flooded.find((r) => r.status === 429)!.json()).toEqual({ message: 'Too Many Requests' });
    expect(read.map((r) => r.status)).toEqual(read.map(() => 200));
  });
});

describe('a flood on one project with per-project quotas on', () => {
  // Route budgets off: only the quotas (20 requests a second per project) stand in the way.
  let quoted: TestPipeline;
  beforeAll(async () => {
    quoted = await startTestPipeline('quotas', {
      budgets: { collect: null, read: null },
      projectRequestsPerSecond: 20,
    });
  });
  afterAll(async () => {
    await quoted?.close();
  });

  it('refuses the flooding project with 429 quota_exceeded while another project is answered, and keeps every acknowledged event', async () => {
    const { pipeline, dataDir } = quoted;
    const created = await fetch(`${pipeline.url}/local/projects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'calm' }),
    });
    expect(created.status).toBe(201);
    const { writeKey: calmKey } = (await created.json()) as { writeKey: string };
    const flood = Array.from({ length: 200 }, (_, i) =>
      sendBatch(pipeline, [{ type: 'track', event: 'Flood', userId: `u${i}`, messageId: `flood-${i}` }]),
    );
    const calm = Array.from({ length: 10 }, (_, i) =>
      fetch(`${pipeline.url}/v1/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${calmKey}:`).toString('base64')}`,
        },
        body: JSON.stringify({ event: 'Calm', userId: `c${i}`, messageId: `calm-${i}` }),
      }),
    );
    const [flooded, answered] = await Promise.all([Promise.all(flood), Promise.all(calm)]);
    expect(answered.map((r) => r.status)).toEqual(answered.map(() => 200));
    const statuses = flooded.map((r) => r.status);
    expect(new Set(statuses)).toEqual(new Set([200, 429]));
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(20);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(100);
    const refused = flooded.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({
      error: {
        code: 'quota_exceeded',
        message:
          'project default is over its quota of 20 requests a second; nothing was accepted, retry later',
      },
    });
    // Every acknowledged event lands; no refused one does.
    const acknowledged = flooded.flatMap((r, i) => (r.status === 200 ? [`flood-${i}`] : []));
    const lake = new FsObjectStore(join(dataDir, 'lake'));
    const rows = await waitForRows(lake, (r) => r.project === 'default', acknowledged.length);
    expect([...new Set(rows.map((r) => r.event_id))].sort()).toEqual(acknowledged.sort());
    await waitForRows(lake, (r) => r.project === 'calm', 10);
  }, 60_000);
});

describe('a client that trickles', () => {
  it('is cut off when its headers or its body take longer than the deadline', async () => {
    const { serveHandler } = await import('../../local/server.js');
    const { connect } = await import('node:net');
    const served = await serveHandler(async () => ({ statusCode: 200, body: 'ok' }), 0, '127.0.0.1', {
      headersTimeoutMs: 300,
      requestTimeoutMs: 600,
    });
    const port = Number(new URL(served.url).port);
    const closedAfter = (first: string) =>
      new Promise<{ ms: number; answer: string }>((resolve) => {
        const started = Date.now();
        const socket = connect(port, '127.0.0.1', () => socket.write(first));
        let answer = '';
        socket.on('data', (c: Buffer) => {
          answer += c.toString();
        });
        // Keep trickling a byte every 100 ms, as a slowloris does.
        const drip = setInterval(() => socket.writable && socket.write('x'), 100);
        socket.on('close', () => {
          clearInterval(drip);
          resolve({ ms: Date.now() - started, answer });
        });
      });
    try {
      const headers = await closedAfter('POST /v1/batch HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      expect(headers.answer).toMatch(/^HTTP\/1\.1 408/);
      const body = await closedAfter('POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
      expect(body.answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await served.close();
    }
  }, 20_000);
});
