import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import { HmacSha256 } from '../../lib/ingest/hmac-sha256.js';
import { anonymousHash, identityHash, Pseudonyms } from '../../lib/ingest/pseudonymize.js';
import { HmacBatch, lanesKernel } from '../../lib/ingest/sha256-lanes.js';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');

/** node:crypto's HMAC-SHA256 of `message`, first 8 bytes with the top bit cleared. */
function expected63(secret: Buffer, message: string): bigint {
  return createHmac('sha256', secret).update(message, 'utf8').digest().readBigUInt64BE(0) & (2n ** 63n - 1n);
}

describe('the WebAssembly SIMD kernel', () => {
  it('compiles on this Node (tests and the bench measure it, not the scalar fallback)', () => {
    expect(lanesKernel()).not.toBeNull();
  });
});

describe('HmacBatch', () => {
  it('equals node:crypto at every length around one block, ASCII or not, in every lane', () => {
    // Arrange: lengths 0-70 give one-block messages (up to 55) and messages the scalar code takes.
    const batch = new HmacBatch(new HmacSha256(SECRET));
    const messages: string[] = [];
    for (let length = 0; length <= 70; length++) {
      const ascii = Array.from({ length }, (_, i) => String.fromCharCode(1 + ((i * 37) % 127))).join('');
      messages.push(ascii, `${ascii.slice(0, -1)}\u00e9`, `\0${ascii}`);
    }
    // Act
    const slots = messages.map((m) => batch.add(m.slice(0, 3), m.slice(3, 4), m.slice(4)));
    batch.finish();
    // Assert
    expect(slots.map((slot) => batch.results[slot])).toEqual(messages.map((m) => expected63(SECRET, m)));
  });

  it('gives each message its own result whatever the mix of lanes and scalar messages, for any key', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 100 }),
        fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 60 })), {
          maxLength: 23,
        }),
        (key, parts) => {
          const secret = Buffer.from(key);
          const batch = new HmacBatch(new HmacSha256(secret));
          const slots = parts.map(([prefix, id]) => batch.add(prefix, '\0', id));
          batch.finish();
          expect(slots.map((slot) => batch.results[slot])).toEqual(
            parts.map(([prefix, id]) => expected63(secret, `${prefix}\0${id}`)),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('leaves a result unset until its pass runs, and sets it by finish()', () => {
    const batch = new HmacBatch(new HmacSha256(SECRET));
    const slot = batch.add('shop', '\0', 'user-1');
    expect(batch.results[slot]).toBe(0n);
    batch.finish();
    expect(batch.results[slot]).toBe(expected63(SECRET, 'shop\0user-1'));
  });

  it('gives the same results without the kernel (the scalar fallback)', () => {
    const lanes = new HmacBatch(new HmacSha256(SECRET));
    const scalar = new HmacBatch(new HmacSha256(SECRET), null);
    for (let i = 0; i < 11; i++) {
      lanes.add('shop', '\0', `user-${i}`);
      scalar.add('shop', '\0', `user-${i}`);
    }
    lanes.finish();
    scalar.finish();
    expect(scalar.results).toEqual(lanes.results);
    expect(scalar.results[10]).toBe(expected63(SECRET, 'shop\0user-10'));
  });

  it('keeps two batches of different keys apart when their passes interleave', () => {
    const other = Buffer.from('another key');
    const a = new HmacBatch(new HmacSha256(SECRET));
    const b = new HmacBatch(new HmacSha256(other));
    for (let i = 0; i < 6; i++) {
      a.add('p', '\0', `a-${i}`);
      b.add('p', '\0', `b-${i}`);
    }
    a.finish();
    b.finish();
    expect(a.results).toEqual(Array.from({ length: 6 }, (_, i) => expected63(SECRET, `p\0a-${i}`)));
    expect(b.results).toEqual(Array.from({ length: 6 }, (_, i) => expected63(other, `p\0b-${i}`)));
  });
});

describe('Pseudonyms', () => {
  const key = { version: 1, secret: SECRET };
  const row = (): LakeEvent => ({
    project: 'shop',
    eventId: 'e',
    type: 'alias',
    event: null,
    userHash: null,
    anonymousHash: null,
    previousUserHash: null,
    previousAnonymousHash: null,
    eventTime: 0,
    receivedAt: 0,
    properties: null,
    context: null,
    keyVersion: 1,
    flags: null,
    channel: null,
  });

  it('sets every field asked for, in its domain, repeated and alternating ids included', () => {
    // Arrange: repeats (hashed once), alternations (the cache holds one id per domain) and the
    // same text as a userId and an anonymousId (two pseudonyms).
    const pseudonyms = new Pseudonyms(key, 'shop');
    const ids = ['u1', 'u1', 'u2', 'u1', 'same', 'same', 'u3', 'u3', 'u4'];
    const rows = ids.map(() => row());
    // Act
    ids.forEach((id, i) => {
      pseudonyms.set(rows[i]!, 'userHash', id);
      pseudonyms.set(rows[i]!, 'anonymousHash', ids[ids.length - 1 - i]!);
      pseudonyms.set(rows[i]!, 'previousUserHash', `prev-${i % 2}`);
      pseudonyms.set(rows[i]!, 'previousAnonymousHash', `prev-${i % 2}`);
    });
    pseudonyms.finish();
    // Assert
    ids.forEach((id, i) => {
      const other = ids[ids.length - 1 - i]!;
      expect(rows[i]).toMatchObject({
        userHash: identityHash(key, 'shop', id),
        anonymousHash: anonymousHash(key, 'shop', other),
        previousUserHash: identityHash(key, 'shop', `prev-${i % 2}`),
        previousAnonymousHash: anonymousHash(key, 'shop', `prev-${i % 2}`),
      });
    });
  });

  it('hashes the same as without the kernel', () => {
    const withLanes = new Pseudonyms(key, 'shop');
    const without = new Pseudonyms(key, 'shop', null);
    const a = Array.from({ length: 7 }, row);
    const b = Array.from({ length: 7 }, row);
    for (let i = 0; i < 7; i++) {
      withLanes.set(a[i]!, 'userHash', `user-${i}`);
      without.set(b[i]!, 'userHash', `user-${i}`);
    }
    withLanes.finish();
    without.finish();
    expect(a.map((r) => r.userHash)).toEqual(b.map((r) => r.userHash));
    expect(a[6]?.userHash).toBe(identityHash(key, 'shop', 'user-6'));
  });
});
