import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HmacSha256 } from '../../lib/ingest/hmac-sha256.js';
import { anonymousHash, hmac63, identityHash } from '../../lib/ingest/pseudonymize.js';

describe('hmac63', () => {
  it('matches RFC 4231 test case 2 (top bit already clear)', () => {
    // HMAC-SHA256("Jefe", "what do ya want for nothing?") = 5bdcc146bf60754e 6a04...
    expect(hmac63(Buffer.from('Jefe'), 'what do ya want for nothing?')).toBe(0x5bdcc146bf60754en);
  });

  it('matches RFC 4231 test case 1 with the top bit cleared', () => {
    // HMAC-SHA256(0x0b * 20, "Hi There") = b0344c61d8db3853 5ca8...; 0xb0 -> 0x30
    expect(hmac63(Buffer.alloc(20, 0x0b), 'Hi There')).toBe(0x30344c61d8db3853n);
  });

  it('is a non-negative 63-bit integer', () => {
    for (let i = 0; i < 200; i++) {
      const h = hmac63(Buffer.from('k'), `user-${i}`);
      expect(h >= 0n && h < 2n ** 63n).toBe(true);
    }
  });
});

describe('identityHash and anonymousHash', () => {
  const key = { version: 1, secret: Buffer.from('0123456789abcdef0123456789abcdef') };

  it('hashes project, NUL and id', () => {
    const digest = createHmac('sha256', key.secret).update('shop\0user-42').digest();
    expect(identityHash(key, 'shop', 'user-42')).toBe(digest.readBigUInt64BE(0) & 0x7fffffffffffffffn);
  });

  it('hash an anonymousId in a domain of its own: project, NUL, a, NUL and id', () => {
    const digest = createHmac('sha256', key.secret).update('shop\0a\0anon-42').digest();
    expect(anonymousHash(key, 'shop', 'anon-42')).toBe(digest.readBigUInt64BE(0) & 0x7fffffffffffffffn);
  });

  it('gives the same id different hashes in different projects', () => {
    expect(identityHash(key, 'a', 'user-1')).not.toBe(identityHash(key, 'b', 'user-1'));
  });
});

describe('HmacSha256 (the fast path behind hmac63)', () => {
  it('equals node:crypto HMAC-SHA256 for any key and message, multi-block and non-ASCII included', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 150 }),
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        (key, message) => {
          const expected = createHmac('sha256', key).update(message, 'utf8').digest().readBigUInt64BE(0);
          expect(new HmacSha256(key).first64(message)).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives the same answer when one instance hashes many messages', () => {
    const mac = new HmacSha256(Buffer.from('k'));
    const long = 'x'.repeat(1000);
    const first = [mac.first64('a'), mac.first64(long), mac.first64('a')];
    expect(first[0]).toBe(first[2]);
    expect(first[1]).toBe(createHmac('sha256', 'k').update(long).digest().readBigUInt64BE(0));
  });

  it('equals node:crypto at every length around one block, ASCII or not (the short-message path)', () => {
    const mac = new HmacSha256(Buffer.from('key'));
    const expected = (m: string) => createHmac('sha256', 'key').update(m, 'utf8').digest().readBigUInt64BE(0);
    for (let length = 0; length <= 70; length++) {
      const ascii = Array.from({ length }, (_, i) => String.fromCharCode(32 + ((i * 7) % 95))).join('');
      expect(mac.first64(ascii)).toBe(expected(ascii));
      // A non-ASCII character last: the short path gives up after filling most of the block.
      const mixed = `${ascii.slice(0, -1)}\u00e9`;
      expect(mac.first64(mixed)).toBe(expected(mixed));
      expect(mac.first64(`\0${ascii}`)).toBe(expected(`\0${ascii}`));
    }
  });

  it('hashes a message given in three parts as the whole, wherever the parts split it', () => {
    const mac = new HmacSha256(Buffer.from('key'));
    const expected = (m: string) => createHmac('sha256', 'key').update(m, 'utf8').digest().readBigUInt64BE(0);
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('', '\0', '\0a\0', '\u00e9'),
        fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '\u00e9', '\u{1f600}'), maxLength: 40 }),
        (a, b, c) => {
          expect(mac.first63Of(a, b, c)).toBe(expected(a + b + c) & 0x7fffffffffffffffn);
        },
      ),
      { numRuns: 500 },
    );
  });
});
