/**
 * What pseudonymizing costs per id, three ways in the same run: the collector's four-lane
 * WebAssembly SIMD kernel (`HmacBatch`), the scalar JavaScript HMAC it falls back to, and
 * `node:crypto`'s `createHmac` (what a plain implementation would call).
 */
import { createHmac } from 'node:crypto';
import { HmacSha256 } from '../lib/ingest/hmac-sha256.js';
import { HmacBatch } from '../lib/ingest/sha256-lanes.js';
import { seeded } from './data.js';

const IDS = 20_000;
const ROUNDS = 15;

/** Best nanoseconds per id over `ROUNDS` rounds (after one unmeasured): hashing is pure CPU, the best round is the least disturbed. */
function nanosPerId(fn: () => void): number {
  fn();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start));
  }
  return best / IDS;
}

/** The bench's lines: ns per id with each implementation, on ids shaped like the collect bench's. */
export function benchPseudonyms(): string {
  const random = seeded(7);
  const ids = Array.from({ length: IDS }, (_, i) =>
    i % 2 === 0
      ? `user-${Math.floor(random() * 100_000)}`
      : `2f5c7b1e-4d2a-9b61-${Math.floor(random() * 1e12)}`,
  );
  const secret = Buffer.alloc(32, 1);
  const mac = new HmacSha256(secret);
  let sink = 0n;
  const lanes = nanosPerId(() => {
    const batch = new HmacBatch(mac);
    for (const id of ids) batch.add('shop', '\0', id);
    batch.finish();
    sink ^= batch.results[IDS - 1]!;
  });
  const scalar = nanosPerId(() => {
    for (const id of ids) sink ^= mac.first63Of('shop', '\0', id);
  });
  const crypto = nanosPerId(() => {
    for (const id of ids)
      sink ^= createHmac('sha256', secret).update(`shop\0${id}`).digest().readBigUInt64BE(0);
  });
  if (sink === -1n) console.log('');
  const line = (name: string, ns: number) =>
    `  ${name.padEnd(44)} ${ns.toFixed(0).padStart(5)} ns per id   ${(scalar / ns).toFixed(2)}x the scalar JS`;
  return [
    `pseudonyms (HMAC-SHA256 of ${IDS.toLocaleString('en')} ids, best of ${ROUNDS} rounds):`,
    line('four lanes, WebAssembly SIMD (the collector)', lanes),
    line('scalar JavaScript (its fallback)', scalar),
    line('node:crypto createHmac', crypto),
  ].join('\n');
}
