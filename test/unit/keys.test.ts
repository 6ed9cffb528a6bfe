import { describe, expect, it } from 'vitest';
import { badKey, batchId, eventsKey, KeyError, manifestKey } from '../../lib/lake/keys.js';

describe('lake keys', () => {
  const seq = '49680446943216618513129707567241628990306019191734403074';

  it('derive only from shard and first sequence number', () => {
    const a = batchId('shardId-000000000001', seq);
    expect(a).toBe(`shardid-000000000001-${seq}`);
    expect(batchId('shardId-000000000001', seq)).toBe(a);
    expect(eventsKey('shop', '2026-03-10', a)).toBe(`events/project=shop/dt=2026-03-10/${a}.parquet`);
    expect(badKey('2026-03-10', a)).toBe(`bad/dt=2026-03-10/${a}.ndjson.gz`);
    expect(manifestKey(Date.parse('2026-03-10T07:59:59Z'), a)).toBe(`manifests/2026-03-10/07/${a}.json`);
  });

  it('differ for different batches', () => {
    expect(batchId('shardId-000000000001', '1')).not.toBe(batchId('shardId-000000000001', '2'));
    expect(batchId('shardId-000000000001', '1')).not.toBe(batchId('shardId-000000000002', '1'));
  });

  it('refuse characters outside [a-z0-9=./-]', () => {
    expect(() => eventsKey('../X', '2026-03-10', 'b')).toThrow(KeyError);
    expect(() => batchId('shard 1', seq)).toThrow(/unexpected shard id/);
    expect(() => batchId('shardId-000000000001', '12a')).toThrow(/unexpected sequence number/);
  });
});
