import { createHash } from 'node:crypto';

/**
 * HMAC-SHA256 truncated to its first 64 bits, for short messages at a fraction of the cost of
 * `createHmac` (which spends most of its ~3.5 us per call creating native objects). The key's
 * inner and outer pad blocks are compressed once; each message then costs two or three SHA-256
 * block compressions in plain JS. Verified against node:crypto in test/unit/pseudonymize.test.ts.
 * The collector hashes its ids four at a time (`sha256-lanes.ts`, built on `putBlock` and the
 * key states here); this is that path's fallback, and the one for single ids (erasure, bad rows).
 */

function primes(n: number): number[] {
  const out: number[] = [];
  for (let c = 2; out.length < n; c++) if (out.every((p) => c % p !== 0)) out.push(c);
  return out;
}

/** SHA-256 constants: fractional bits of the cube roots (K) and square roots (H0) of the first primes. */
const FIRST_PRIMES = primes(64);
export const SHA256_K = Int32Array.from(FIRST_PRIMES, (p) => Math.floor((Math.cbrt(p) % 1) * 2 ** 32) | 0);
const K = SHA256_K;
const H0 = Int32Array.from(FIRST_PRIMES.slice(0, 8), (p) => Math.floor((Math.sqrt(p) % 1) * 2 ** 32) | 0);

const W = new Int32Array(64);

/** One SHA-256 compression of the 64-byte block at `offset` into `state`. */
function compress(state: Int32Array, block: Uint8Array, offset: number): void {
  for (let t = 0; t < 16; t++) {
    const i = offset + t * 4;
    W[t] = (block[i]! << 24) | (block[i + 1]! << 16) | (block[i + 2]! << 8) | block[i + 3]!;
  }
  compressWords(state, state);
}

/** FIPS 180-4 SHA-256 Σ0 and Σ1. */
function bigSigma0(x: number): number {
  return ((x >>> 2) | (x << 30)) ^ ((x >>> 13) | (x << 19)) ^ ((x >>> 22) | (x << 10));
}

function bigSigma1(x: number): number {
  return ((x >>> 6) | (x << 26)) ^ ((x >>> 11) | (x << 21)) ^ ((x >>> 25) | (x << 7));
}

/**
 * One SHA-256 compression of the block already in `W[0..15]` (big-endian words), from the
 * chaining state `from` into `into` (which may be the same array).
 */
function compressWords(from: Int32Array, into: Int32Array): void {
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15]!;
    const y = W[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
  }
  let a = from[0]!;
  let b = from[1]!;
  let c = from[2]!;
  let d = from[3]!;
  let e = from[4]!;
  let f = from[5]!;
  let g = from[6]!;
  let h = from[7]!;
  let t1 = 0;
  // Eight rounds per turn, the working variables renamed from one round to the next instead of
  // moved (round r of a turn treats h, a, b, ... as its a, b, c, ...).
  for (let t = 0; t < 64; t += 8) {
    t1 = (h + bigSigma1(e) + ((e & f) ^ (~e & g)) + K[t + 0]! + W[t + 0]!) | 0;
    d = (d + t1) | 0;
    h = (t1 + bigSigma0(a) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    t1 = (g + bigSigma1(d) + ((d & e) ^ (~d & f)) + K[t + 1]! + W[t + 1]!) | 0;
    c = (c + t1) | 0;
    g = (t1 + bigSigma0(h) + ((h & a) ^ (h & b) ^ (a & b))) | 0;
    t1 = (f + bigSigma1(c) + ((c & d) ^ (~c & e)) + K[t + 2]! + W[t + 2]!) | 0;
    b = (b + t1) | 0;
    f = (t1 + bigSigma0(g) + ((g & h) ^ (g & a) ^ (h & a))) | 0;
    t1 = (e + bigSigma1(b) + ((b & c) ^ (~b & d)) + K[t + 3]! + W[t + 3]!) | 0;
    a = (a + t1) | 0;
    e = (t1 + bigSigma0(f) + ((f & g) ^ (f & h) ^ (g & h))) | 0;
    t1 = (d + bigSigma1(a) + ((a & b) ^ (~a & c)) + K[t + 4]! + W[t + 4]!) | 0;
    h = (h + t1) | 0;
    d = (t1 + bigSigma0(e) + ((e & f) ^ (e & g) ^ (f & g))) | 0;
    t1 = (c + bigSigma1(h) + ((h & a) ^ (~h & b)) + K[t + 5]! + W[t + 5]!) | 0;
    g = (g + t1) | 0;
    c = (t1 + bigSigma0(d) + ((d & e) ^ (d & f) ^ (e & f))) | 0;
    t1 = (b + bigSigma1(g) + ((g & h) ^ (~g & a)) + K[t + 6]! + W[t + 6]!) | 0;
    f = (f + t1) | 0;
    b = (t1 + bigSigma0(c) + ((c & d) ^ (c & e) ^ (d & e))) | 0;
    t1 = (a + bigSigma1(f) + ((f & g) ^ (~f & h)) + K[t + 7]! + W[t + 7]!) | 0;
    e = (e + t1) | 0;
    a = (t1 + bigSigma0(b) + ((b & c) ^ (b & d) ^ (c & d))) | 0;
  }
  into[0] = (from[0]! + a) | 0;
  into[1] = (from[1]! + b) | 0;
  into[2] = (from[2]! + c) | 0;
  into[3] = (from[3]! + d) | 0;
  into[4] = (from[4]! + e) | 0;
  into[5] = (from[5]! + f) | 0;
  into[6] = (from[6]! + g) | 0;
  into[7] = (from[7]! + h) | 0;
}

/** Pads and compresses `length` bytes of `buffer` (which has room for the padding) after one prior block. */
function finish(state: Int32Array, buffer: Uint8Array, length: number): void {
  const total = length + 64; // the key block already compressed
  let end = length;
  buffer[end++] = 0x80;
  while (end % 64 !== 56) buffer[end++] = 0;
  const bits = total * 8;
  buffer[end++] = 0;
  buffer[end++] = 0;
  buffer[end++] = 0;
  buffer[end++] = (bits / 2 ** 32) & 0xff;
  buffer[end++] = (bits >>> 24) & 0xff;
  buffer[end++] = (bits >>> 16) & 0xff;
  buffer[end++] = (bits >>> 8) & 0xff;
  buffer[end++] = bits & 0xff;
  for (let offset = 0; offset < end; offset += 64) compress(state, buffer, offset);
}

/** An HMAC-SHA256 key with its pad blocks precompressed. */
export class HmacSha256 {
  /** SHA-256's chaining state after the key's inner pad block. */
  readonly inner = new Int32Array(8);
  /** The same after the outer pad block. */
  readonly outer = new Int32Array(8);
  private readonly state = new Int32Array(8);
  private buffer = new Uint8Array(256);

  constructor(secret: Uint8Array) {
    const key = new Uint8Array(64);
    key.set(secret.length > 64 ? createHash('sha256').update(secret).digest() : secret);
    const pad = new Uint8Array(64);
    this.inner.set(H0);
    for (let i = 0; i < 64; i++) pad[i] = key[i]! ^ 0x36;
    compress(this.inner, pad, 0);
    this.outer.set(H0);
    for (let i = 0; i < 64; i++) pad[i] = key[i]! ^ 0x5c;
    compress(this.outer, pad, 0);
  }

  /** The first 8 bytes of HMAC-SHA256(key, utf8(message)), big-endian, as an unsigned bigint. */
  first64(message: string): bigint {
    this.innerHash('', '', message);
    return this.outerFirst(-1);
  }

  /**
   * `first64(a + b + c)` with its top bit cleared (a non-negative 63-bit integer), without
   * building that string when it is short ASCII (ids with their prefix).
   */
  first63Of(a: string, b: string, c: string): bigint {
    this.innerHash(a, b, c);
    return this.outerFirst(0x7fff_ffff);
  }

  /** HMAC's inner hash of `a + b + c` into `state`. */
  private innerHash(a: string, b: string, c: string): void {
    if (putBlock(W, a, b, c, 0, 1)) {
      compressWords(this.inner, this.state);
      return;
    }
    const message = a + b + c;
    const need = message.length * 3 + 72;
    if (need > this.buffer.length) this.buffer = new Uint8Array(Math.max(need, this.buffer.length * 2));
    const { written } = encoder.encodeInto(message, this.buffer);
    this.state.set(this.inner);
    finish(this.state, this.buffer, written);
  }

  /** HMAC's outer hash over the inner digest in `state`: its first 64 bits, the first word ANDed with `mask`. */
  private outerFirst(mask: number): bigint {
    const state = this.state;
    for (let t = 0; t < 8; t++) W[t] = state[t]!;
    W[8] = 0x80000000 | 0;
    for (let t = 9; t < 15; t++) W[t] = 0;
    W[15] = (64 + 32) * 8;
    compressWords(this.outer, state);
    return unsigned64(state[0]! & mask, state[1]!);
  }
}

/** One unsigned bigint from two 32-bit words through a 64-bit view: no bigint arithmetic. */
export function unsigned64(high: number, low: number): bigint {
  HIGH_LOW[HIGH] = high;
  HIGH_LOW[LOW] = low;
  return AS_U64[0]!;
}

const encoder = new TextEncoder();

/** Two 32-bit words seen as one unsigned 64-bit integer, the high word first in value. */
const HIGH_LOW = new Uint32Array(2);
const AS_U64 = new BigUint64Array(HIGH_LOW.buffer);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const HIGH = LITTLE_ENDIAN ? 1 : 0;
const LOW = LITTLE_ENDIAN ? 0 : 1;

/**
 * Writes the message `a + b + c`, when it is at most 55 ASCII characters, as the one padded block
 * that follows the key block (bits counted from the key block on) into `words`, the block of
 * `lane` (word t is `words[t * lanes + lane]`); false, the block half written, otherwise.
 */
export function putBlock(
  words: Int32Array,
  a: string,
  b: string,
  c: string,
  lane: number,
  lanes: number,
): boolean {
  if (a.length + b.length + c.length > 55) return false;
  partial = 0;
  seen = 0;
  let length = putAscii(words, a, 0, lane, lanes);
  length = putAscii(words, b, length, lane, lanes);
  length = putAscii(words, c, length, lane, lanes);
  if (seen >= 0x80) return false;
  // The 0x80 byte that ends the message, after the bytes of the last word begun; zeros to the length.
  const last = length >> 2;
  words[last * lanes + lane] = ((partial << 8) | 0x80) << (8 * (3 - (length & 3)));
  for (let t = last + 1; t < 15; t++) words[t * lanes + lane] = 0;
  words[15 * lanes + lane] = (length + 64) * 8;
  return true;
}

/** `putAscii`'s bytes of a word not yet complete, and the OR of every character it read. */
let partial = 0;
let seen = 0;

/**
 * Writes `text`'s characters as big-endian bytes into `words` from byte `at` of the block of
 * `lane` (whose word t is `words[t * lanes + lane]`), each word once it is complete; returns where
 * it ends. The caller checks `seen` for characters that are not ASCII.
 */
function putAscii(words: Int32Array, text: string, at: number, lane: number, lanes: number): number {
  let word = partial;
  let chars = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    chars |= c;
    word = (word << 8) | c;
    if ((++at & 3) === 0) {
      words[((at >> 2) - 1) * lanes + lane] = word;
      word = 0;
    }
  }
  partial = word;
  seen |= chars;
  return at;
}
