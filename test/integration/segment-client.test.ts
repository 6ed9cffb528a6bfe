import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { silentLogger } from '../../lib/log.js';
import { type Pipeline, startPipeline } from '../../local/pipeline.js';
import { expectedHash, localHmacKey, waitForLake } from '../helpers/lake.js';

let dataDir: string;
let pipeline: Pipeline;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tally-segment-'));
  pipeline = await startPipeline({ dataDir, port: 0, logger: silentLogger, batchingWindowMs: 200 });
});
afterAll(async () => {
  await pipeline?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the official Segment client (@segment/analytics-node)', () => {
  it('sends events that land in the lake', async () => {
    // Arrange
    const analytics = new Analytics({
      writeKey: pipeline.writeKeys.default!,
      host: pipeline.url,
      flushAt: 20,
      maxRetries: 2,
    });
    const ids: string[] = [];
    const collect = (err: unknown, ctx: { event: { messageId?: string } } | undefined) => {
      if (err) throw err;
      if (ctx?.event.messageId) ids.push(ctx.event.messageId);
    };
    const at = new Date(Date.now() - 3_600_000);

    // Act
    for (let i = 0; i < 30; i++) {
      analytics.track(
        { userId: `seg-user-${i % 7}`, event: 'Button Clicked', properties: { i }, timestamp: at },
        collect,
      );
    }
    analytics.identify({ userId: 'seg-user-1', traits: { email: 'one@example.com' } }, collect);
    analytics.page({ anonymousId: 'seg-anon-1', name: 'Pricing' }, collect);
    await analytics.closeAndFlush({ timeout: 20_000 });
    const rows = await waitForLake(new FsObjectStore(join(dataDir, 'lake')), ids);

    // Assert
    expect(ids).toHaveLength(32);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
    const secret = await localHmacKey(dataDir);
    const tracks = rows.filter((r) => r.type === 'track');
    expect(tracks).toHaveLength(30);
    expect(new Set(tracks.map((r) => r.user_hash))).toEqual(
      new Set(Array.from({ length: 7 }, (_, i) => expectedHash(secret, 'default', `seg-user-${i}`))),
    );
    // analytics-node stamps sentAt on the batch: the skew correction keeps the client's hour-old time.
    for (const r of tracks) expect(Math.abs(r.event_time_ms - at.getTime())).toBeLessThan(60_000);
    expect(rows.find((r) => r.type === 'page')).toMatchObject({ event: 'Pricing', user_hash: null });
    expect(JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(
      'one@example.com',
    );
  });
});
