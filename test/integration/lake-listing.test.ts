import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type S3Emulator, startS3 } from '../helpers/emulators.js';

let s3: S3Emulator;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.stop();
});

describe('the lake listed with versions (what a StarRocks refresh compares with the files it read)', () => {
  it('gives each object of a partition with its ETag: other bytes change it, the same bytes keep it', async () => {
    // Arrange: two files of a day, and one of another day (not under the prefix).
    const store = await s3.bucket('tally-listing');
    const prefix = 'events/project=shop/dt=2026-03-29/';
    await store.put(`${prefix}a.parquet`, Buffer.from('first batch'), 'application/vnd.apache.parquet');
    await store.put(`${prefix}b.parquet`, Buffer.from('second batch'), 'application/vnd.apache.parquet');
    await store.put(
      'events/project=shop/dt=2026-03-30/c.parquet',
      Buffer.from('x'),
      'application/vnd.apache.parquet',
    );

    // Act: listed, then a retried batch writes b again as it was, and a rewrite puts other rows in a.
    const before = await store.listVersions(prefix);
    await store.put(`${prefix}b.parquet`, Buffer.from('second batch'), 'application/vnd.apache.parquet');
    await store.put(
      `${prefix}a.parquet`,
      Buffer.from('first batch, one row erased'),
      'application/vnd.apache.parquet',
    );
    const after = await store.listVersions(prefix);

    // Assert
    expect(before.map((o) => o.key)).toEqual([`${prefix}a.parquet`, `${prefix}b.parquet`]);
    expect(before.every((o) => o.version.length > 0)).toBe(true);
    expect(after.map((o) => o.key)).toEqual(before.map((o) => o.key));
    expect(after[0]!.version).not.toBe(before[0]!.version);
    expect(after[1]!.version).toBe(before[1]!.version);
    expect(await store.list(prefix)).toEqual(before.map((o) => o.key));
  });
});
