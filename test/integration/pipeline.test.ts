import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import type { ObjectStore } from '../../lib/lake/store.js';
import { silentLogger } from '../../lib/log.js';
import { type KinesisLocal, startKinesisLocal } from '../../local/kinesis-local.js';
import { startPipeline } from '../../local/pipeline.js';
import { type S3Emulator, startS3 } from '../helpers/emulators.js';
import {
  expectedAnonymousHash,
  expectedHash,
  localHmacKey,
  readBadRows,
  waitForLake,
} from '../helpers/lake.js';
import { post, sendBatches, workload } from '../helpers/workload.js';

let kinesis: KinesisLocal;
let s3: S3Emulator;

beforeAll(async () => {
  [kinesis, s3] = await Promise.all([startKinesisLocal(), startS3()]);
});
afterAll(async () => {
  await Promise.all([kinesis?.stop(), s3?.stop()]);
});

describe.each(['s3', 'filesystem'] as const)(
  'collect -> kinesis-local -> poller -> lake writer -> %s',
  (lake) => {
    it('lands exactly the accepted events, field by field, and every rejected one as a bad row', async () => {
      // Arrange
      const dataDir = await mkdtemp(join(tmpdir(), 'tally-it-'));
      const store: ObjectStore =
        lake === 's3' ? await s3.bucket(`lake-${Date.now()}`) : new FsObjectStore(join(dataDir, 'lake'));
      const pipeline = await startPipeline({
        dataDir,
        port: 0,
        logger: silentLogger,
        kinesisEndpoint: kinesis.endpoint,
        streamName: `events-${lake}`,
        shards: 2,
        store,
        batchingWindowMs: 200,
      });
      const writeKey = pipeline.writeKeys.default!;
      const now = Date.now();
      const events = workload(lake, 400, now);
      try {
        // Act
        const responses = await sendBatches(pipeline.url, writeKey, events);
        const single = await post(pipeline.url, writeKey, '/v1/track', {
          userId: 'solo',
          event: 'Solo',
          messageId: `${lake}-solo`,
        });
        const accepted = events.filter((e) => e.expect !== null);
        const ids = [...accepted.map((e) => e.body.messageId as string), `${lake}-solo`];
        const rows = await waitForLake(store, ids);

        // Assert
        expect(responses.every((r) => r.status === 200)).toBe(true);
        expect(single.status).toBe(200);
        const rejected = responses.flatMap((r) => r.body.rejected ?? []);
        expect(rejected).toHaveLength(events.length - accepted.length);
        expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
        const secret = await localHmacKey(dataDir);
        const byId = new Map(rows.map((r) => [r.event_id, r]));
        for (const sent of accepted) {
          const row = byId.get(sent.body.messageId as string)!;
          const want = sent.expect!;
          expect(row.project).toBe('default');
          expect(row.dt).toBe(want.dt);
          expect(row.type).toBe(want.type);
          expect(row.event).toBe(want.event);
          expect(row.user_hash).toBe(
            want.userId === null ? null : expectedHash(secret, 'default', want.userId),
          );
          expect(row.anonymous_hash).toBe(
            want.anonymousId === null ? null : expectedAnonymousHash(secret, 'default', want.anonymousId),
          );
          expect(row.event_time_ms).toBe(want.eventTimeMs);
          expect(row.received_at_ms).toBeGreaterThanOrEqual(now);
          expect(JSON.parse(row.properties!)).toEqual(sent.body.properties);
          expect(JSON.parse(row.context!)).toEqual({ library: { name: 'tally-test' } });
          expect(row.key_version).toBe(1);
        }
        const bad = await readBadRows(store);
        expect(bad.map((b) => b.event_id).sort()).toEqual(rejected.map((r) => r.messageId).sort());
        expect(bad.every((b) => b.stage === 'collect' && typeof b.reason === 'string')).toBe(true);
        const manifests = await store.list('manifests/');
        expect(manifests.length).toBeGreaterThan(0);
      } finally {
        await pipeline.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  },
);
