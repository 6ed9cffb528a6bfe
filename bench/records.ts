/**
 * What writing one stream record costs, by record size, with glibc's allocator as it comes and
 * as the Lambdas run it (`MALLOC_TUNABLES`): each record's Brotli encoder allocates and frees a
 * few hundred KB, and memory handed back to the kernel is faulted in again on the next record.
 * Each setting runs in a process of its own (glibc reads the setting at start). Run directly
 * (`tsx bench/records.ts --child`), it prints one setting's medians as JSON.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MALLOC_TUNABLES } from '../cdk/constructs/malloc-tunables.js';
import { encodeRecords, type StreamItem } from '../lib/stream/codec.js';
import { lakeEvent, seeded } from './data.js';

/** Events per record measured: a browser batch, a server SDK's batch, a large one. */
const SIZES = [20, 100, 400];
const CALLS = 150;

/** Median microseconds to encode one record of `n` events (`CALLS` records, after a third as many unmeasured). */
function medianMicros(n: number): { bytes: number; micros: number } {
  const random = seeded(n);
  const now = Date.now();
  const items: StreamItem[] = Array.from({ length: n }, (_, i) => ({
    kind: 'event',
    event: lakeEvent(i, random, now),
  }));
  const bytes = encodeRecords(items).reduce((sum, r) => sum + r.length, 0);
  for (let i = 0; i < CALLS / 3; i++) encodeRecords(items);
  const times: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const start = process.hrtime.bigint();
    encodeRecords(items);
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return { bytes, micros: times[Math.floor(times.length / 2)]! };
}

/** One setting, in a process of its own: the medians by record size. */
function child(tunables: string | null): Record<number, { bytes: number; micros: number }> {
  const env = { ...process.env };
  delete env.GLIBC_TUNABLES;
  if (tunables !== null) env.GLIBC_TUNABLES = tunables;
  const run = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child'], {
    env,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`record bench child failed: ${run.stderr.slice(0, 400)}`);
  return JSON.parse(run.stdout) as Record<number, { bytes: number; micros: number }>;
}

/** The bench's lines: per record size, the cost per record and per event with either allocator setting. */
export function benchRecords(): string {
  const plain = child(null);
  const tuned = child(MALLOC_TUNABLES);
  const lines = SIZES.map((n) => {
    const a = plain[n]!;
    const b = tuned[n]!;
    return `  ${String(n).padStart(3)} events (${(a.bytes / 1024).toFixed(1).padStart(5)} KB compressed): ${a.micros.toFixed(0).padStart(5)} us as glibc comes, ${b.micros.toFixed(0).padStart(5)} us with MALLOC_TUNABLES (${(a.micros / n).toFixed(2)} / ${(b.micros / n).toFixed(2)} us per event)`;
  });
  return [
    `stream record encoding (median of ${CALLS} records; Node ${process.version}):`,
    ...lines,
    '  (MALLOC_TUNABLES: what the Lambdas set in GLIBC_TUNABLES, cdk/constructs/malloc-tunables.ts)',
  ].join('\n');
}

if (process.argv.includes('--child')) {
  console.log(JSON.stringify(Object.fromEntries(SIZES.map((n) => [n, medianMicros(n)]))));
}
