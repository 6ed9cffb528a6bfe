import { type HmacSha256, putBlock, SHA256_K, unsigned64 } from './hmac-sha256.js';

/**
 * HMAC-SHA256 of four one-block messages at once, in WebAssembly SIMD: each 128-bit value holds
 * the same 32-bit word of four messages, so one pass of SHA-256's rounds compresses four blocks.
 * A pass costs about what 1.3 scalar compressions cost in JS here (~1 us for the four HMACs'
 * eight compressions against ~300 ns per compression in JS), so it pays once three or four lanes
 * are filled: the collector fills them across the events of a request.
 *
 * The module is emitted here, instruction by instruction (no build step, no binary in the tree),
 * and compiled once per process. Memory layout (bytes): 0-1023 the message schedule, 64 words of
 * four lanes (the caller's 16 block words first); 1024 the inner key state, 1056 the outer key
 * state (8 words each, the same for every lane); 1088 the result, the first two digest words of
 * every lane; 1152-2175 SHA-256's round constants, each in four lanes. Verified against
 * node:crypto in test/unit/sha256-lanes.test.ts.
 */

/** Messages per pass. */
export const LANES = 4;

const SCHEDULE = 0;
const INNER_KEY = 1024;
const OUTER_KEY = 1056;
const RESULT = 1088;
/** K[0..63], each word in all four lanes. */
const ROUND_CONSTANTS = 1152;

/** Bytes written one by one into a buffer that grows (the emitter runs once, at cold start: no arrays per instruction). */
class Bytes {
  private buffer = new Uint8Array(256);
  length = 0;

  byte(value: number): void {
    if (this.length === this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.length++] = value;
  }

  /** Unsigned LEB128. */
  uleb(n: number): void {
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n !== 0) byte |= 0x80;
      this.byte(byte);
    } while (n !== 0);
  }

  /** Signed LEB128. */
  sleb(n: number): void {
    for (;;) {
      const byte = n & 0x7f;
      n >>= 7;
      if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
        this.byte(byte);
        return;
      }
      this.byte(byte | 0x80);
    }
  }

  bytes(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.byte(values[i]!);
  }

  /** A section: its id, its length, then what `content` wrote. */
  section(id: number, content: Bytes): void {
    this.byte(id);
    this.uleb(content.length);
    this.bytes(content.done());
  }

  done(): Uint8Array<ArrayBuffer> {
    return this.buffer.slice(0, this.length);
  }
}

/** The function body's instructions, with the few opcodes this needs (WebAssembly core and SIMD). */
class Code {
  readonly out = new Bytes();
  get(local: number): void {
    this.out.byte(0x20);
    this.out.uleb(local);
  }
  set(local: number): void {
    this.out.byte(0x21);
    this.out.uleb(local);
  }
  i32(value: number): void {
    this.out.byte(0x41);
    this.out.sleb(value | 0);
  }
  private simd(op: number): void {
    this.out.byte(0xfd);
    this.out.uleb(op);
  }
  /** A memory access' immediates: alignment (log2) and offset. */
  private memory(align: number, address: number): void {
    this.out.byte(align);
    this.out.uleb(address);
  }
  /** Pushes the address in the i32 local `base`, or 0 when there is none. */
  private base(base: number | null): void {
    if (base === null) this.i32(0);
    else this.get(base);
  }
  /** Pushes the v128 at byte `address` (from `base`'s address). */
  load(address: number, base: number | null = null): void {
    this.base(base);
    this.simd(0x00);
    this.memory(4, address);
  }
  /** Pushes the 32-bit word at byte `address` in every lane. */
  loadSplat(address: number): void {
    this.i32(0);
    this.simd(0x09);
    this.memory(2, address);
  }
  /** Stores the v128 that `value` pushes at byte `address` (from `base`'s address). */
  store(address: number, value: () => void, base: number | null = null): void {
    this.base(base);
    value();
    this.simd(0x0b);
    this.memory(4, address);
  }
  /** Runs `body` with the i32 local `counter` at `from`, `from + step`, ... while below `to`. */
  loop(counter: number, from: number, to: number, step: number, body: () => void): void {
    this.i32(from);
    this.set(counter);
    this.out.bytes([0x03, 0x40]); // loop, no result
    body();
    this.get(counter);
    this.i32(step);
    this.out.byte(0x6a); // i32.add
    this.out.byte(0x22); // local.tee
    this.out.uleb(counter);
    this.i32(to);
    this.out.byte(0x49); // i32.lt_u
    this.out.bytes([0x0d, 0, 0x0b]); // br_if to the loop's start; end
  }
  splat(word: number): void {
    this.i32(word);
    this.simd(0x11);
  }
  add(): void {
    this.simd(0xae); // i32x4.add
  }
  xor(): void {
    this.simd(0x51);
  }
  or(): void {
    this.simd(0x50);
  }
  /** v128.bitselect: bits of the first operand where the third's are set, else of the second. */
  select(): void {
    this.simd(0x52);
  }
  shiftRight(bits: number): void {
    this.i32(bits);
    this.simd(0xad); // i32x4.shr_u
  }
  shiftLeft(bits: number): void {
    this.i32(bits);
    this.simd(0xab); // i32x4.shl
  }
  rotateRight(local: number, bits: number): void {
    this.get(local);
    this.shiftRight(bits);
    this.get(local);
    this.shiftLeft(32 - bits);
    this.or();
  }
  /** Pushes rotr(x, r0) ^ rotr(x, r1) ^ (rotr or shr)(x, r2). */
  sigma(local: number, r0: number, r1: number, r2: number, shiftLast: boolean): void {
    this.rotateRight(local, r0);
    this.rotateRight(local, r1);
    this.xor();
    if (shiftLast) {
      this.get(local);
      this.shiftRight(r2);
    } else this.rotateRight(local, r2);
    this.xor();
  }
}

/** Locals: the eight working variables and two temporaries (v128), then a byte offset (i32). */
const T1 = 8;
const X = 9;
const OFFSET = 10;

/** W[16..63] from W[0..15], one word of the four lanes per turn (OFFSET is W[t - 16]'s). */
function emitSchedule(code: Code): void {
  code.loop(OFFSET, SCHEDULE, SCHEDULE + 48 * 16, 16, () => {
    code.store(
      16 * 16,
      () => {
        code.load(0, OFFSET);
        code.load(1 * 16, OFFSET);
        code.set(X);
        code.sigma(X, 7, 18, 3, true);
        code.add();
        code.load(9 * 16, OFFSET);
        code.add();
        code.load(14 * 16, OFFSET);
        code.set(X);
        code.sigma(X, 17, 19, 10, true);
        code.add();
      },
      OFFSET,
    );
  });
}

/**
 * The 64 rounds from the key state at `key` over the schedule, eight to a turn of a loop (OFFSET
 * is the turn's first word's, in the schedule and in the table of round constants); returns which
 * local holds each working variable at the end (they are renamed from round to round, never
 * moved, and are back in place after eight).
 */
function emitRounds(code: Code, key: number): number[] {
  for (let i = 0; i < 8; i++) {
    code.loadSplat(key + i * 4);
    code.set(i);
  }
  let v = [0, 1, 2, 3, 4, 5, 6, 7];
  code.loop(OFFSET, 0, 64 * 16, 8 * 16, () => {
    for (let r = 0; r < 8; r++) {
      const [a, b, c, d, e, f, g, h] = v as [number, number, number, number, number, number, number, number];
      // t1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t]
      code.get(h);
      code.sigma(e, 6, 11, 25, false);
      code.add();
      code.get(f);
      code.get(g);
      code.get(e);
      code.select();
      code.add();
      code.load(ROUND_CONSTANTS + r * 16, OFFSET);
      code.add();
      code.load(SCHEDULE + r * 16, OFFSET);
      code.add();
      code.set(T1);
      code.get(d);
      code.get(T1);
      code.add();
      code.set(d);
      // new a (into h's local) = t1 + Σ0(a) + Maj(a, b, c); Maj is a where b and c differ, else b
      code.get(T1);
      code.sigma(a, 2, 13, 22, false);
      code.add();
      code.get(a);
      code.get(b);
      code.get(b);
      code.get(c);
      code.xor();
      code.select();
      code.add();
      code.set(h);
      v = [h, a, b, c, d, e, f, g];
    }
  });
  return v;
}

/** The module: `hmac()` of the four blocks in the schedule's first 16 words. */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const code = new Code();
  emitSchedule(code);
  let v = emitRounds(code, INNER_KEY);
  // The outer block: the inner digest, then SHA-256's padding for 64 + 32 bytes.
  for (let i = 0; i < 8; i++) {
    code.store(SCHEDULE + i * 16, () => {
      code.get(v[i]!);
      code.loadSplat(INNER_KEY + i * 4);
      code.add();
    });
  }
  for (let i = 8; i < 16; i++) {
    code.store(SCHEDULE + i * 16, () => code.splat(i === 8 ? 0x80000000 : i === 15 ? (64 + 32) * 8 : 0));
  }
  emitSchedule(code);
  v = emitRounds(code, OUTER_KEY);
  for (let i = 0; i < 2; i++) {
    code.store(RESULT + i * 16, () => {
      code.get(v[i]!);
      code.loadSplat(OUTER_KEY + i * 4);
      code.add();
    });
  }
  code.out.byte(0x0b); // end
  const V128 = 0x7b;
  const body = new Bytes();
  const I32 = 0x7f;
  body.bytes([2, 10, V128, 1, I32]); // 10 v128 locals, then one i32
  body.bytes(code.out.done());
  const functions = new Bytes();
  functions.bytes([1]); // one body
  functions.uleb(body.length);
  functions.bytes(body.done());
  const exports = new Bytes();
  exports.byte(2);
  for (const [name, kind] of [
    ['memory', 0x02],
    ['hmac', 0x00],
  ] as const) {
    exports.uleb(name.length);
    exports.bytes(Buffer.from(name, 'latin1'));
    exports.bytes([kind, 0]);
  }
  const section = (values: number[]) => {
    const content = new Bytes();
    content.bytes(values);
    return content;
  };
  const module = new Bytes();
  module.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  module.section(1, section([1, 0x60, 0, 0])); // one type: () -> ()
  module.section(3, section([1, 0])); // one function of that type
  module.section(5, section([1, 0x00, 1])); // one memory of one page
  module.section(7, exports);
  module.section(10, functions);
  return module.done();
}

/** The compiled pass: its memory as words, and the function. */
export interface LanesKernel {
  words: Int32Array;
  hmac: () => void;
}

let kernel: LanesKernel | null | undefined;

/** The process' kernel, compiled on first use; null where WebAssembly SIMD is not available. */
export function lanesKernel(): LanesKernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  const bytes = moduleBytes();
  if (typeof WebAssembly === 'object' && WebAssembly.validate(bytes)) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const memory = instance.exports.memory as WebAssembly.Memory;
    const words = new Int32Array(memory.buffer);
    for (let t = 0; t < 64; t++)
      words.fill(SHA256_K[t]!, ROUND_CONSTANTS / 4 + t * 4, ROUND_CONSTANTS / 4 + t * 4 + 4);
    kernel = { words, hmac: instance.exports.hmac as () => void };
  }
  return kernel;
}

/**
 * `first63Of` of many messages under one key, four to a pass: `add` answers the slot its result
 * takes in `results`, set when its pass runs (once four are waiting, or at `finish`). A message
 * that is not one block (over 55 characters with its prefixes, or not ASCII) is hashed at once by
 * the scalar code, as is every message where WebAssembly SIMD is missing.
 */
export class HmacBatch {
  readonly results: bigint[] = [];
  /** The waiting blocks, laid out as the kernel's schedule takes them. */
  private readonly blocks = new Int32Array(16 * LANES);
  private readonly slots = new Int32Array(LANES);
  private waiting = 0;

  constructor(
    private readonly mac: HmacSha256,
    private readonly kernel: LanesKernel | null = lanesKernel(),
  ) {}

  add(a: string, b: string, c: string): number {
    const slot = this.results.length;
    if (this.kernel !== null && putBlock(this.blocks, a, b, c, this.waiting, LANES)) {
      this.results.push(0n);
      this.slots[this.waiting++] = slot;
      if (this.waiting === LANES) this.run(this.kernel);
    } else this.results.push(this.mac.first63Of(a, b, c));
    return slot;
  }

  /** Runs the last pass: every result is set after this. */
  finish(): void {
    if (this.kernel !== null && this.waiting > 0) this.run(this.kernel);
  }

  private run({ words, hmac }: LanesKernel): void {
    // Lanes past `waiting` hold older blocks: hashed again, their results unread.
    words.set(this.blocks, SCHEDULE / 4);
    words.set(this.mac.inner, INNER_KEY / 4);
    words.set(this.mac.outer, OUTER_KEY / 4);
    hmac();
    const high = RESULT / 4;
    const low = high + LANES;
    for (let lane = 0; lane < this.waiting; lane++) {
      this.results[this.slots[lane]!] = unsigned64(words[high + lane]! & 0x7fff_ffff, words[low + lane]!);
    }
    this.waiting = 0;
  }
}
