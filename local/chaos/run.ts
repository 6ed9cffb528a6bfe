import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLakeWriterHandler } from '../../lambdas/lake-writer/handler.js';
import { COMPACTIONS_PREFIX, type CompactionRecord, recordName } from '../../lib/lake/compaction.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { silentLogger } from '../../lib/log.js';
import { replayFailedBatches } from '../../lib/stream/replay.js';
import { eventsAllView, eventsView } from '../../lib/warehouse/duckdb.js';
import { freePort, waitFor } from '../ports.js';
import type { FaultRates } from './child.js';

/**
 * The chaos run: an SDK-like sender (batches, same messageIds on every resend, resends until a
 * 2xx) pushes events through `npm start`'s pipeline while processes are killed from outside and
 * faults are injected inside (local/chaos/child.ts); then it reconciles what was acknowledged
 * with what the lake and the warehouse hold.
 */

export type KillKind = 'main-SIGKILL' | 'main-SIGINT' | 'emulator-SIGKILL' | 'group-SIGKILL' | 'group-SIGINT';
/** The compaction records of a lake: how many, and how many replaced files they deleted. */
async function compactionsOf(lake: string): Promise<{ compactions: number; compactedFilesDeleted: number }> {
  const store = new FsObjectStore(lake);
  // By name: a run killed while moving a record leaves it both pending and done.
  const records = new Map<string, CompactionRecord>();
  for (const key of await store.list(COMPACTIONS_PREFIX)) {
    const bytes = await store.get(key);
    if (bytes === null) continue;
    const record = JSON.parse(Buffer.from(bytes).toString('utf8')) as CompactionRecord;
    const name = recordName(key);
    if (record.status === 'done' || !records.has(name)) records.set(name, record);
  }
  const done = [...records.values()].filter((r) => r.status === 'done');
  return { compactions: records.size, compactedFilesDeleted: done.reduce((n, r) => n + r.inputs.length, 0) };
}

/** `group-SIGINT` is Ctrl-C in the terminal: every process of the group gets it at once. */
export const KILL_KINDS: KillKind[] = [
  'main-SIGKILL',
  'main-SIGINT',
  'emulator-SIGKILL',
  'group-SIGKILL',
  'group-SIGINT',
];

export interface ChaosOptions {
  events: number;
  /** Distinct user ids the events are spread over. */
  users: number;
  /** Days the event times are spread over (ending yesterday, UTC). */
  days: number;
  batch: number;
  concurrency: number;
  /** Mean time between two process kills from outside (0: none). */
  killEveryMs: number;
  /** Kills go on after the last event was sent until this many happened. @default 0 */
  minKills?: number;
  /**
   * Instead of a kill every `killEveryMs`: exactly this many kills, spread evenly over the
   * sending by progress (so a slow machine gets the same run, only slower). @default none
   */
  kills?: number;
  rates: Partial<FaultRates>;
  /** One event in this many is invalid (an unparseable timestamp) and must end as a bad row. */
  badEvery: number;
  /** Where the pipeline keeps its data. @default a new temporary directory, removed afterwards */
  dataDir?: string;
  /** The stream `npm start` runs on (`TALLY_STREAM`): its own kinesis-local, or its own Kafka broker. @default kinesis */
  stream?: 'kinesis' | 'kafka';
  /** Progress lines. @default none */
  log?: (line: string) => void;
}

export interface ChaosReport {
  events: number;
  validEvents: number;
  badInputs: number;
  acknowledged: number;
  requests: number;
  resends: number;
  restarts: number;
  faults: Record<string, number>;
  totalFaults: number;
  lake: {
    distinctIds: number;
    lost: number;
    neverSent: number;
    rowsBeforeDedup: number;
    duplicatesAfterDedup: number;
    badRows: number;
    /** Partitions compacted during the run (records under compactions/), and files it deleted. */
    compactions: number;
    compactedFilesDeleted: number;
  };
  /** Batches the lake writer gave up on (kept in failed-batches/), replayed before counting. */
  givenUp: { batches: number; records: number };
  activeUsers: { daysChecked: number; mismatches: string[] };
  seconds: number;
  /** Where the run's data dir was kept (when an invariant broke), or null. */
  dataDir: string | null;
}

const DAY_MS = 86_400_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The stream processes a pipeline process started: kinesis-local, or its Kafka broker (not tsx's esbuild service). */
export function emulatorsOf(pid: number): number[] {
  return childrenOf(pid, 'kinesis-child|server[.]properties');
}

/** The children of a process whose command line matches `pattern` (pgrep -f). */
export function childrenOf(pid: number, pattern: string): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-f', pattern], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Whether a process is running (signal 0). */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface TallyProcess {
  child: ChildProcess;
  /** Resolves once it has printed where it collects and the keys of project "default". */
  ready: Promise<{ url: string; writeKey: string; readKey: string }>;
  /** The last 20 kB it printed. */
  output(): string;
}

/**
 * Starts `npm start`'s entry (or another with the same output) as its own process group, the
 * way a person or a service manager would, and reads its URL and keys from what it prints.
 */
export function spawnTally(entry: string, env: NodeJS.ProcessEnv): TallyProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<{ url: string; writeKey: string; readKey: string }>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      const url = /Tally is collecting on (\S+)/.exec(output);
      if (url && output.includes('Press Ctrl-C to stop.')) {
        resolve({
          url: url[1]!,
          writeKey: /Write key of project "default": (\S+)/.exec(output)?.[1] ?? '',
          readKey: /Bearer (\S+)'/.exec(output)?.[1] ?? '',
        });
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`exited (${signal ?? code}) before it was ready: ${output.slice(-600)}`)),
    );
  });
  ready.catch(() => {});
  return { child, ready, output: () => output };
}

/** The pipeline process, started again whenever it ends until the run says stop. */
class Supervised {
  child: ChildProcess | null = null;
  url = '';
  writeKey = '';
  readKey = '';
  restarts = 0;
  private ready: Promise<void> = Promise.resolve();
  /** Started, ready, and not hit by a kill yet: each kill hits a pipeline that was working. */
  private up = false;
  private wanted = true;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (line: string) => void,
  ) {}

  start(): Promise<void> {
    const started = spawnTally(fileURLToPath(new URL('./child.ts', import.meta.url)), this.env);
    const child = started.child;
    this.child = child;
    this.up = false;
    this.ready = started.ready.then((info) => {
      Object.assign(this, info);
      if (this.child === child) this.up = true;
    });
    this.ready.catch(() => {});
    this.exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        resolve();
        if (this.wanted) {
          this.restarts++;
          void sleep(50).then(() => {
            if (this.wanted) this.start().catch(() => {});
          });
        }
      }),
    );
    return this.ready;
  }

  /** Starts the pipeline again after stop(). */
  startAgain(): Promise<void> {
    this.wanted = true;
    return this.start();
  }

  async whenReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.ready;
        if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
      } catch {}
      if (Date.now() > deadline) throw new Error('the pipeline did not come back');
      await sleep(100);
    }
  }

  kill(kind: KillKind): boolean {
    const pid = this.child?.pid;
    if (!pid || !this.up || this.child?.exitCode !== null || this.child?.signalCode !== null) return false;
    // The emulator is restarted inside the process: the pipeline stays up for the next kill.
    if (kind !== 'emulator-SIGKILL') this.up = false;
    try {
      if (kind === 'main-SIGKILL') process.kill(pid, 'SIGKILL');
      else if (kind === 'main-SIGINT') process.kill(pid, 'SIGINT');
      else if (kind === 'group-SIGKILL') process.kill(-pid, 'SIGKILL');
      else if (kind === 'group-SIGINT') process.kill(-pid, 'SIGINT');
      else {
        const emulator = emulatorsOf(pid)[0];
        if (!emulator) return false;
        process.kill(emulator, 'SIGKILL');
      }
      this.log(`  fault: ${kind}`);
      return true;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    this.wanted = false;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 60_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

interface Batch {
  body: string;
  valid: number;
}

/** Runs the chaos scenario and returns the reconciliation; throws only when it could not run. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'tally-chaos-')));
  const port = await freePort();
  let keep = false;
  const pipeline = new Supervised(
    {
      ...process.env,
      TALLY_DATA_DIR: dataDir,
      PORT: String(port),
      TALLY_CHAOS: JSON.stringify(options.rates),
      TALLY_STREAM: options.stream ?? 'kinesis',
    },
    log,
  );
  try {
    await pipeline.start();
    log(`pipeline up at ${pipeline.url}; data dir ${dataDir}`);

    // The workload: event i belongs to user i mod users, on day i mod days; a few are invalid.
    const today = Math.floor(Date.now() / DAY_MS);
    const firstDay = today - options.days;
    const usersByDay = new Map<number, Set<number>>();
    const batches: Batch[] = [];
    let badInputs = 0;
    for (let start = 0; start < options.events; start += options.batch) {
      const events: unknown[] = [];
      let valid = 0;
      for (let i = start; i < Math.min(start + options.batch, options.events); i++) {
        const user = (i * 7919) % options.users;
        const day = firstDay + ((i * 31) % options.days);
        const bad = options.badEvery > 0 && i % options.badEvery === options.badEvery - 1;
        if (bad) badInputs++;
        else {
          valid++;
          const set = usersByDay.get(day) ?? new Set<number>();
          usersByDay.set(day, set);
          set.add(user);
        }
        events.push({
          type: 'track',
          event: 'Chaos Tested',
          messageId: `chaos-${i}`,
          userId: `user-${user}`,
          timestamp: bad ? 'not a time' : new Date(day * DAY_MS + ((i * 997) % DAY_MS)).toISOString(),
          properties: { i },
        });
      }
      batches.push({ body: JSON.stringify({ batch: events }), valid });
    }
    const validEvents = options.events - badInputs;

    const faults: Record<string, number> = {};
    let sending = true;
    let kills = 0;
    const minKills = options.minKills ?? 0;
    const killing = () => options.killEveryMs > 0 && (sending || kills < minKills);
    let doneBatches = 0;
    const kill = () => {
      const kind = KILL_KINDS[kills % KILL_KINDS.length]!;
      if (!pipeline.kill(kind)) return false;
      kills++;
      faults[`kill-${kind}`] = (faults[`kill-${kind}`] ?? 0) + 1;
      return true;
    };
    const planned = options.kills;
    const killer = (async () => {
      if (planned !== undefined) {
        // The k-th kill once k/(kills+1) of the batches are acknowledged, each when the pipeline is up.
        while (kills < planned) {
          if (doneBatches * (planned + 1) >= (kills + 1) * batches.length || !sending) {
            if (!kill()) await sleep(100);
          } else await sleep(50);
        }
        return;
      }
      while (killing()) {
        await sleep(options.killEveryMs * (0.5 + Math.random()));
        if (!killing()) break;
        kill();
      }
    })();

    let next = 0;
    let acknowledged = 0;
    let requests = 0;
    let resends = 0;
    let lastReport = Date.now();
    const send = async () => {
      for (let b = next++; b < batches.length; b = next++) {
        const batch = batches[b]!;
        for (let attempt = 0; ; attempt++) {
          requests++;
          if (attempt > 0) resends++;
          try {
            const response = await fetch(`${pipeline.url}/v1/batch`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                authorization: `Basic ${Buffer.from(`${pipeline.writeKey}:`).toString('base64')}`,
              },
              body: batch.body,
              signal: AbortSignal.timeout(30_000),
            });
            await response.arrayBuffer();
            if (response.ok) break;
          } catch {}
          await sleep(Math.min(50 * 2 ** attempt, 1000) * Math.random() + 20);
        }
        acknowledged += batch.valid;
        doneBatches++;
        if (Date.now() - lastReport > 5000) {
          lastReport = Date.now();
          log(
            `  ${acknowledged.toLocaleString('en-US')} of ${validEvents.toLocaleString('en-US')} valid events acknowledged, ${kills} kills, ${pipeline.restarts} restarts`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, send));
    sending = false;
    await killer;
    log(
      `all ${options.events.toLocaleString('en-US')} events acknowledged (${resends} resends); waiting for the lake`,
    );

    await pipeline.whenReady();
    const lake = join(dataDir, 'lake');
    const instance = await DuckDBInstance.create(':memory:');
    const db = await instance.connect();
    // Everything acknowledged is in the lake (or given up to failed-batches/) once the journal
    // is empty: a segment is deleted only when the lake writer has stored all of it.
    const journalFiles = async () =>
      (await readdir(join(dataDir, 'journal')).catch(() => [] as string[])).filter((f) => f.endsWith('.wal'));
    await waitFor('the journal to empty', async () => (await journalFiles()).length === 0, 900_000, 2000);
    // What an operator does after an outage: stop, replay the batches given up, start again.
    await pipeline.stop();
    const replay = await replayFailedBatches(
      new FsObjectStore(join(dataDir, 'failed-batches')),
      createLakeWriterHandler(new FsObjectStore(lake), silentLogger),
    );
    if (replay.failed.length > 0) throw new Error(`replay failed: ${replay.failed[0]!.error}`);
    log(
      `replayed ${replay.batches} failed batch(es), ${replay.records} record(s); starting again for the rollup`,
    );
    await pipeline.startAgain();
    // The in-process faults go on meanwhile (a rollup may be killed): ask until an answer comes.
    const ask = async (path: string, init: RequestInit = {}): Promise<unknown> => {
      for (let attempt = 1; ; attempt++) {
        await pipeline.whenReady();
        try {
          const response = await fetch(`${pipeline.url}${path}`, init);
          if (response.ok) return await response.json();
          if (attempt >= 20) throw new Error(`${path}: ${response.status} ${await response.text()}`);
        } catch (error) {
          if (attempt >= 20) throw error;
        }
        await sleep(500);
      }
    };
    await ask('/local/rollup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ full: true }),
    });
    const isoDay = (d: number) => new Date(d * DAY_MS).toISOString().slice(0, 10);
    const answer = (await ask(
      `/v1/projects/default/active-users?from=${isoDay(firstDay)}&to=${isoDay(today - 1)}`,
      { headers: { authorization: `Bearer ${pipeline.readKey}` } },
    )) as { days?: Array<{ date: string; dau: number; wau: number; mau: number }> };
    await pipeline.stop();

    // Reconciliation.
    const mismatches: string[] = [];
    const windowCount = (day: number, span: number) => {
      const users = new Set<number>();
      for (let d = day - span + 1; d <= day; d++) for (const u of usersByDay.get(d) ?? []) users.add(u);
      return users.size;
    };
    const got = new Map((answer.days ?? []).map((d) => [d.date, d]));
    for (let day = firstDay; day < today; day++) {
      const want = { dau: windowCount(day, 1), wau: windowCount(day, 7), mau: windowCount(day, 30) };
      const have = got.get(isoDay(day));
      if (!have || have.dau !== want.dau || have.wau !== want.wau || have.mau !== want.mau) {
        mismatches.push(
          `${isoDay(day)}: got ${have ? `${have.dau}/${have.wau}/${have.mau}` : 'nothing'}, want ${want.dau}/${want.wau}/${want.mau}`,
        );
      }
    }
    await db.run(eventsAllView(lake));
    await db.run(eventsView());
    const ids = (await db.runAndReadAll('SELECT DISTINCT event_id FROM events_all'))
      .getRows()
      .map((r) => String(r[0]));
    const seen = new Set<number>();
    let neverSent = 0;
    for (const id of ids) {
      const match = /^chaos-(\d+)$/.exec(id);
      const i = match ? Number(match[1]) : -1;
      if (
        i < 0 ||
        i >= options.events ||
        (options.badEvery > 0 && i % options.badEvery === options.badEvery - 1)
      ) {
        neverSent++;
      } else seen.add(i);
    }
    const counts = (
      await db.runAndReadAll(
        'SELECT (SELECT count(*) FROM events_all), (SELECT count(*) - count(DISTINCT event_id) FROM events)',
      )
    ).getRows()[0]!;
    db.closeSync();
    const badIds = new Set<string>();
    for (const file of await listFiles(join(lake, 'bad'))) {
      for (const line of gunzipSync(await readFile(file))
        .toString('utf8')
        .split('\n')) {
        if (line.trim()) badIds.add(String((JSON.parse(line) as { event_id?: unknown }).event_id));
      }
    }
    const injected = (() => {
      try {
        return readFileSync(join(dataDir, 'chaos-faults.log'), 'utf8');
      } catch {
        return '';
      }
    })();
    for (const line of injected.split('\n')) {
      if (line) faults[line] = (faults[line] ?? 0) + 1;
    }
    const report: ChaosReport = {
      events: options.events,
      validEvents,
      badInputs,
      acknowledged,
      requests,
      resends,
      restarts: pipeline.restarts,
      faults,
      totalFaults: Object.values(faults).reduce((a, b) => a + b, 0),
      lake: {
        distinctIds: ids.length,
        lost: validEvents - seen.size,
        neverSent,
        rowsBeforeDedup: Number(counts[0]),
        duplicatesAfterDedup: Number(counts[1]),
        badRows: badIds.size,
        ...(await compactionsOf(lake)),
      },
      givenUp: { batches: replay.batches, records: replay.records },
      activeUsers: { daysChecked: today - firstDay, mismatches },
      seconds: Math.round((Date.now() - started) / 1000),
      dataDir: null,
    };
    // A run that broke an invariant keeps its data dir to look into.
    if (violations(report).length > 0) {
      keep = true;
      report.dataDir = dataDir;
    }
    return report;
  } finally {
    await pipeline.stop().catch(() => {});
    if (ownDir && !keep) await rm(dataDir, { recursive: true, force: true });
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else out.push(path);
  }
  return out;
}

/** The invariants a chaos run must keep; empty when it kept them all. */
export function violations(report: ChaosReport): string[] {
  const out: string[] = [];
  if (report.lake.lost !== 0) out.push(`${report.lake.lost} acknowledged events are not in the lake`);
  if (report.lake.neverSent !== 0) out.push(`${report.lake.neverSent} event ids in the lake were never sent`);
  if (report.lake.duplicatesAfterDedup !== 0) {
    out.push(`${report.lake.duplicatesAfterDedup} duplicate rows remain after deduplication`);
  }
  if (report.lake.badRows !== report.badInputs) {
    out.push(`${report.lake.badRows} bad rows for ${report.badInputs} bad inputs`);
  }
  if (report.activeUsers.mismatches.length > 0) {
    out.push(
      `active users differ from the truth on ${report.activeUsers.mismatches.length} day(s): ${report.activeUsers.mismatches.slice(0, 3).join('; ')}`,
    );
  }
  return out;
}

/** The report as the lines `npm run chaos` prints. */
export function formatReport(report: ChaosReport): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const faults = Object.entries(report.faults)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `    ${kind.padEnd(26)} ${n(count)}`);
  return [
    `chaos run: ${n(report.events)} events in ${report.seconds} s, ${n(report.requests)} requests (${n(report.resends)} resends), ${report.restarts} pipeline restarts`,
    `  faults injected: ${n(report.totalFaults)}`,
    ...faults,
    '  reconciliation:',
    `    acknowledged valid events  ${n(report.acknowledged)}`,
    `    distinct ids in the lake   ${n(report.lake.distinctIds)} (${n(report.lake.rowsBeforeDedup)} rows before dedup)`,
    `    partitions compacted       ${n(report.lake.compactions)} (${n(report.lake.compactedFilesDeleted)} replaced files deleted)`,
    `    lost                       ${n(report.lake.lost)}`,
    `    never sent                 ${n(report.lake.neverSent)}`,
    `    duplicates after dedup     ${n(report.lake.duplicatesAfterDedup)}`,
    `    bad rows / bad inputs      ${n(report.lake.badRows)} / ${n(report.badInputs)}`,
    `    batches given up, replayed ${n(report.givenUp.batches)} (${n(report.givenUp.records)} records)`,
    `    DAU/WAU/MAU days checked   ${report.activeUsers.daysChecked}, mismatches ${report.activeUsers.mismatches.length}`,
  ].join('\n');
}
