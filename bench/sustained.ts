/**
 * A sustained run (`BENCH_ONLY=sustained`): `npm start`'s pipeline (`startPipeline`: the collector,
 * kinesis-local, the lake writer and DuckDB, rolled up every minute by its own timer) fed at a
 * constant rate through `/v1/batch` for SUSTAINED_MINUTES (30 unless set), by a product's people:
 * a pool of known users, anonymous visitors, and visitors who identify. Each rollup's duration is
 * printed as it finishes; at the end, the last ten against the first ten (the work of a rollup
 * should follow what arrived since the last one, not the day so far), and today's DAU against the
 * people sent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utcDate } from '../lib/events.js';
import { silentLogger } from '../lib/log.js';
import { startPipeline } from '../local/pipeline.js';
import { median } from './growth.js';

const MINUTES = Number(process.env.SUSTAINED_MINUTES ?? 30);
const RATE = Number(process.env.SUSTAINED_EVENTS_PER_SECOND ?? 2000);
const USERS = 50_000;
const SENDS_PER_SECOND = 10;
const ROLLUP_MS = 60_000;

/** A deterministic pseudo-random sequence (the people a run sends are the same each run). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Rollup {
  atMinutes: number;
  ms: number;
  manifests: number;
}

export async function benchSustained(onProgress: (line: string) => void = console.log): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-bench-sustained-'));
  const pipeline = await startPipeline({
    dataDir: dir,
    port: 0,
    logger: silentLogger,
    rollupIntervalMs: ROLLUP_MS,
    compactionIntervalMs: 0,
  });
  const writeKey = pipeline.writeKeys.default!;
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const next = random(7);
  // Who is active: a known user (80%), an anonymous visitor (15%), a visitor who identifies (5%).
  // Persons: each user, each visitor who never identified.
  const users = new Set<number>();
  const anonymous = new Set<number>();
  let visitors = 0;
  let sent = 0;
  let refused = 0;
  const batch = (n: number) => {
    const events: object[] = [];
    for (let i = 0; i < n; i++) {
      const roll = next();
      const id = `${sent + i}`;
      if (roll < 0.8) {
        const user = Math.floor(next() ** 2 * USERS);
        users.add(user);
        events.push({ type: 'track', event: 'Viewed', userId: `u-${user}`, messageId: id });
      } else if (roll < 0.95) {
        const visitor = visitors++;
        anonymous.add(visitor);
        events.push({ type: 'page', anonymousId: `a-${visitor}`, messageId: id });
      } else {
        // A visitor seen earlier signs in as a known user: one person from now on.
        const visitor = Math.floor(next() * Math.max(visitors, 1));
        const user = Math.floor(next() * USERS);
        anonymous.delete(visitor);
        users.add(user);
        events.push({ type: 'identify', userId: `u-${user}`, anonymousId: `a-${visitor}`, messageId: id });
      }
    }
    return JSON.stringify({ batch: events });
  };
  const rollups: Rollup[] = [];
  const started = Date.now();
  const day = utcDate(started);
  let lastAt: string | null = null;
  const watch = setInterval(() => {
    const run = pipeline.warehouse?.lastRun();
    if (!run || run.at === lastAt) return;
    lastAt = run.at;
    const rollup = {
      atMinutes: (Date.parse(run.at) - started) / 60_000,
      ms: run.durationMs,
      manifests: run.manifests,
    };
    rollups.push(rollup);
    onProgress(
      `  rollup ${rollups.length} at ${rollup.atMinutes.toFixed(1)} min: ${rollup.ms.toLocaleString('en')} ms, ${rollup.manifests} manifests, ${sent.toLocaleString('en')} events sent`,
    );
  }, 250);
  try {
    const perSend = RATE / SENDS_PER_SECOND;
    const end = started + MINUTES * 60_000;
    for (let tick = 0; Date.now() < end; tick++) {
      const due = started + (tick * 1000) / SENDS_PER_SECOND;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const response = await fetch(`${pipeline.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: batch(perSend),
      });
      await response.arrayBuffer();
      if (response.status === 200) sent += perSend;
      else refused += perSend;
    }
    const sentMs = Date.now() - started;
    // Everything sent is rolled up: wait for a rollup that starts after the lake caught up.
    const caughtUp = Date.now() + 2 * ROLLUP_MS;
    while (Date.now() < caughtUp) await new Promise((resolve) => setTimeout(resolve, 1000));
    const [today] = await pipeline.warehouse!.warehouse.activeUsers('default', day, day, day);
    // The rollups that rolled something up while events arrived (not the first, before any, nor
    // those after the sender stopped).
    const working = rollups.filter((r) => r.manifests > 0 && r.atMinutes <= sentMs / 60_000);
    const first = working.slice(0, 10).map((r) => r.ms);
    const last = working.slice(-10).map((r) => r.ms);
    const ratio = median(last) / median(first);
    const people = users.size + anonymous.size;
    return [
      `sustained: npm start's pipeline at ${RATE.toLocaleString('en')} events/s for ${MINUTES} min, a rollup every ${ROLLUP_MS / 1000} s`,
      `  sent ${sent.toLocaleString('en')} events in ${(sentMs / 60_000).toFixed(1)} min (${Math.round((sent * 1000) / sentMs).toLocaleString('en')}/s), ${refused.toLocaleString('en')} refused; ${rollups.length} rollups`,
      `  rollup duration, median: first ten ${median(first).toLocaleString('en')} ms, last ten ${median(last).toLocaleString('en')} ms: ${ratio.toFixed(2)}x (target <= 1.2x)`,
      `  today's DAU ${today?.dau.toLocaleString('en')} (people sent: ${people.toLocaleString('en')}${utcDate(Date.now()) === day ? '' : '; the run crossed midnight, the DAU is the first day only'})`,
    ].join('\n');
  } finally {
    clearInterval(watch);
    await pipeline.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
