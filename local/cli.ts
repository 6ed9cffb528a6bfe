import { resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { refuseDedupWindow } from '../lib/config.js';
import { TallyError } from '../lib/errors.js';
import { botCountingProjects } from '../lib/ingest/auth.js';
import type { CompactionResult } from '../lib/lake/compaction.js';
import { changedDays, type ErasureRecord, type ErasureRequest, erase } from '../lib/privacy/erasure.js';
import { eventsAllView, eventsView } from '../lib/warehouse/duckdb.js';
import type { RefreshStats } from '../lib/warehouse/warehouse.js';
import { DemoError, runDemo } from './demo/run.js';
import { consoleLogger } from './logger.js';
import { warehousePaths } from './warehouse.js';

const USAGE = `usage: tally <command>

  start                 run the whole pipeline on this machine (same as npm start)
  demo [--users N] [--days N] [--seed N]
                        send a generated workload through the running pipeline and check
                        every DAU/WAU/MAU against the ground truth (exit 1 on any difference)
  sql ["<query>"]       query the local lake with DuckDB: tables events (deduplicated),
                        events_all and active_users; without a query, an interactive prompt
  rollup [--full]       refresh the rollups now (through the running pipeline if there is one)
  compact               rewrite each closed day's small lake files into one (through the running
                        pipeline if there is one; it also does this hourly); replaced files are
                        deleted a minute later, by a later run
  erase --project P [--user-id ID ...] [--anonymous-id ID ...]
                        erase people: rewrite every lake file holding their rows without them,
                        record the erasure (no raw id) and recount the days they were active
  partitions --bucket B [--database D] [--table T]
                        register every project=/dt= partition of the S3 lake in the Glue table
                        (a backfill; the lake writer registers new ones as it writes them)
  replay [--all] [--bucket B --lake-bucket L]
                        give the batches the lake writer gave up (failed-batches/ here, or the
                        stack's FailedBatchesBucket with --bucket) to the lake writer again;
                        idempotent, each replayed batch is marked so a rerun skips it

Environment: TALLY_DATA_DIR (default .tally), PORT (default 8080).`;

class UsageError extends Error {}

function dataDir(): string {
  return resolve(process.env.TALLY_DATA_DIR ?? '.tally');
}

function serverUrl(): string {
  return `http://127.0.0.1:${process.env.PORT ?? '8080'}`;
}

function intFlag(args: string[], name: string, fallback: number, min: number, max: number): number {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const raw = args[i + 1];
  const value = Number(raw);
  if (raw === undefined || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${name} takes an integer from ${min} to ${max}, got ${JSON.stringify(raw ?? '')}`,
    );
  }
  return value;
}

/** Every value of a repeatable flag. */
function listFlag(args: string[], name: string): string[] {
  const values: string[] = [];
  args.forEach((arg, i) => {
    if (arg !== `--${name}`) return;
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--'))
      throw new UsageError(`--${name} takes a value, got ${JSON.stringify(value ?? '')}`);
    values.push(value);
  });
  return values;
}

function isConnectionRefused(error: unknown): boolean {
  return /fetch failed|ECONNREFUSED/.test(
    String((error as Error).message) + String((error as { cause?: Error }).cause?.message),
  );
}

/**
 * `tally erase`: through the running pipeline (which holds the warehouse), or on the data dir
 * itself when none runs. Prints what was rewritten and recounted; the ids are never printed.
 */
async function eraseCommand(args: string[]): Promise<void> {
  const request = {
    project: listFlag(args, 'project')[0] ?? '',
    userIds: listFlag(args, 'user-id'),
    anonymousIds: listFlag(args, 'anonymous-id'),
  };
  if (request.project === '') throw new UsageError('erase needs --project');
  let result: { erasure: ErasureRecord; recomputed: RefreshStats | null };
  try {
    const response = await fetch(`${serverUrl()}/local/erase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    const body = (await response.json()) as typeof result & { error?: { message: string } };
    if (!response.ok) throw new UsageError(`erase refused: ${body.error?.message ?? response.status}`);
    result = body;
  } catch (error) {
    if (!isConnectionRefused(error)) throw error;
    result = await eraseOffline(request);
  }
  const e = result.erasure;
  console.log(
    `erased ${e.ids} id(s) of project ${e.project}: ${e.eventRowsRemoved} event row(s) in ${e.eventFilesRewritten} file(s), ` +
      `${e.badRowsRemoved} bad row(s) in ${e.badFilesRewritten} file(s); ${e.days.length} day(s) recounted` +
      (result.recomputed ? ` (${result.recomputed.windowsRecomputed} window(s))` : ''),
  );
}

async function eraseOffline(request: ErasureRequest) {
  const { FsObjectStore } = await import('../lib/lake/fs-store.js');
  const { loadOrCreateSecrets } = await import('./projects.js');
  const { startLocalWarehouse } = await import('./warehouse.js');
  const secrets = await loadOrCreateSecrets(dataDir());
  const store = new FsObjectStore(warehousePaths(dataDir()).lake);
  const erasure = await erase(
    {
      store,
      keys: [secrets.hashKey, ...secrets.previousHashKeys],
      now: new Date(),
      onProgress: (done, total) => process.stderr.write(`\rscanning lake files: ${done}/${total}`),
    },
    request,
  );
  process.stderr.write('\n');
  const local = await startLocalWarehouse({
    dataDir: dataDir(),
    store,
    logger: consoleLogger(),
    intervalMs: 0,
    countBots: botCountingProjects(secrets.projects),
  });
  try {
    return { erasure, recomputed: await local.refreshErased(changedDays(erasure)) };
  } finally {
    await local.stop();
  }
}

function formatTable(columns: string[], rows: unknown[][]): string {
  const text = rows.map((row) => row.map((v) => (v === null || v === undefined ? 'NULL' : String(v))));
  const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...text.map((r) => r[i]!.length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!)))
      .join(' │ ');
  return [
    line(columns),
    widths.map((w) => '─'.repeat(w)).join('─┼─'),
    ...text.map(line),
    `(${rows.length} row${rows.length === 1 ? '' : 's'})`,
  ].join('\n');
}

/**
 * `tally sql` opens its own in-memory DuckDB over the lake and the last exported `active_users`,
 * so it never waits on the database the running pipeline holds.
 */
async function sqlSession(): Promise<(query: string) => Promise<string>> {
  refuseDedupWindow(process.env);
  const paths = warehousePaths(dataDir());
  const instance = await DuckDBInstance.create(':memory:', {
    home_directory: paths.dir,
    autoinstall_known_extensions: 'false',
  });
  const db = await instance.connect();
  const quote = (p: string) => `'${p.replaceAll("'", "''")}'`;
  try {
    await db.run(eventsAllView(paths.lake));
    await db.run(eventsView());
  } catch {
    throw new UsageError(`no events in ${paths.lake} yet: start the pipeline (npm start) and send some`);
  }
  try {
    await db.run(`CREATE VIEW active_users AS SELECT * FROM read_parquet(${quote(paths.activeUsersExport)})`);
  } catch {
    // No rollup has run yet: active_users is empty until the first one.
    await db.run(
      `CREATE TABLE active_users (project VARCHAR, dt DATE, dau BIGINT, wau BIGINT, mau BIGINT, computed_at TIMESTAMPTZ)`,
    );
  }
  return async (query) => {
    const reader = await db.runAndReadAll(query);
    return formatTable(
      reader.columnNames(),
      reader.getRows().map((r) => r.map((v) => (v !== null && typeof v === 'object' ? String(v) : v))),
    );
  };
}

/** `tally sql`: 0, or 1 when a piped statement failed. */
async function sql(args: string[]): Promise<number> {
  const run = await sqlSession();
  if (args.length > 0) {
    console.log(await run(args.join(' ')));
    return 0;
  }
  const { createInterface } = await import('node:readline');
  const interactive = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined });
  if (interactive) {
    console.log(
      'DuckDB over the local lake: tables events, events_all, active_users. End with ; and Enter; Ctrl-D quits.',
    );
  }
  // Every line is read, piped or typed (an async iterator never drops lines that arrive before
  // a prompt); each statement runs when a line ends with ';', and what is left at the end too.
  let buffer = '';
  let failed = false;
  const runBuffer = async () => {
    if (!buffer.trim()) return;
    try {
      console.log(await run(buffer));
    } catch (error) {
      failed = true;
      console.error(`error: ${(error as Error).message}`);
    }
    buffer = '';
  };
  const prompt = () => {
    if (interactive) process.stdout.write(buffer ? '   ...> ' : 'tally> ');
  };
  prompt();
  for await (const line of rl) {
    buffer += `${line}\n`;
    if (line.trim().endsWith(';')) await runBuffer();
    prompt();
  }
  await runBuffer();
  rl.close();
  return failed && !interactive ? 1 : 0;
}

async function rollup(args: string[]): Promise<void> {
  const full = args.includes('--full');
  try {
    const response = await fetch(`${serverUrl()}/local/rollup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ full }),
    });
    const body = (await response.json()) as {
      manifests: number;
      stats: { daysRecomputed: number; windowsRecomputed: number };
    };
    console.log(
      `rolled up ${body.manifests} new batch(es): ${body.stats.daysRecomputed} day(s), ${body.stats.windowsRecomputed} window(s) recomputed`,
    );
    return;
  } catch (error) {
    if (!isConnectionRefused(error)) throw error;
  }
  const { FsObjectStore } = await import('../lib/lake/fs-store.js');
  const { startLocalWarehouse } = await import('./warehouse.js');
  const paths = warehousePaths(dataDir());
  const { loadOrCreateSecrets } = await import('./projects.js');
  const local = await startLocalWarehouse({
    dataDir: dataDir(),
    store: new FsObjectStore(paths.lake),
    logger: consoleLogger(),
    intervalMs: 0,
    countBots: botCountingProjects((await loadOrCreateSecrets(dataDir())).projects),
  });
  try {
    const result = await local.rollupNow({ full });
    console.log(
      `rolled up ${result.manifests} batch(es): ${result.stats.daysRecomputed} day(s), ${result.stats.windowsRecomputed} window(s) recomputed`,
    );
  } finally {
    await local.stop();
  }
}

function textFlag(args: string[], name: string): string | undefined {
  const values = listFlag(args, name);
  if (values.length > 1) throw new UsageError(`--${name} is given ${values.length} times`);
  return values[0];
}

/**
 * `tally replay`: locally from `<data dir>/failed-batches/` into the local lake; on AWS from the
 * FailedBatchesBucket into the LakeBucket (`--bucket`, `--lake-bucket`, the usual AWS
 * credentials; AWS_ENDPOINT_URL for an emulator). Exit 1 when a batch could not be replayed.
 */
async function replayCommand(args: string[]): Promise<number> {
  const { createLakeWriterHandler } = await import('../lambdas/lake-writer/handler.js');
  const { replayFailedBatches } = await import('../lib/stream/replay.js');
  const { FsObjectStore } = await import('../lib/lake/fs-store.js');
  const bucket = textFlag(args, 'bucket');
  const lakeBucket = textFlag(args, 'lake-bucket');
  if (Boolean(bucket) !== Boolean(lakeBucket)) {
    throw new UsageError(
      '--bucket and --lake-bucket go together (the failed batches and the lake they belong to)',
    );
  }
  let failures: import('../lib/lake/store.js').ObjectStore;
  let lake: import('../lib/lake/store.js').ObjectStore;
  let where: string;
  if (bucket && lakeBucket) {
    const { s3Client } = await import('../lambdas/aws.js');
    const { S3ObjectStore } = await import('../lib/lake/s3-store.js');
    const client = s3Client(process.env.AWS_ENDPOINT_URL);
    failures = new S3ObjectStore(client, bucket);
    lake = new S3ObjectStore(client, lakeBucket);
    where = `s3://${bucket}`;
  } else {
    failures = new FsObjectStore(resolve(dataDir(), 'failed-batches'));
    lake = new FsObjectStore(warehousePaths(dataDir()).lake);
    where = resolve(dataDir(), 'failed-batches');
  }
  const result = await replayFailedBatches(failures, createLakeWriterHandler(lake, consoleLogger()), {
    all: args.includes('--all'),
    onBatch: (key, records) => console.log(`  replayed ${key} (${records} records)`),
  });
  console.log(
    `replayed ${result.batches} batch(es), ${result.records} record(s) from ${where}` +
      (result.skipped > 0 ? `; ${result.skipped} replayed before, skipped (--all replays them again)` : ''),
  );
  for (const f of result.failed) console.error(`  could not replay ${f.key}: ${f.error}`);
  if (result.batches > 0 && !bucket)
    console.log('The running pipeline counts them at its next rollup (or: npm run rollup).');
  return result.failed.length > 0 ? 1 : 0;
}

/**
 * `tally partitions`: registers in Glue every partition the lake in S3 holds (idempotent: those
 * that exist are left alone). Needs credentials that list the bucket and may
 * glue:BatchCreatePartition on the table.
 */
async function partitionsCommand(args: string[]): Promise<void> {
  const bucket = textFlag(args, 'bucket');
  if (!bucket) throw new UsageError('--bucket <LakeBucket> is required (the stack prints it as LakeBucket)');
  const database = textFlag(args, 'database') ?? 'tally_lake';
  const table = textFlag(args, 'table') ?? 'events';
  const { glueClient, s3Client } = await import('../lambdas/aws.js');
  const { S3ObjectStore } = await import('../lib/lake/s3-store.js');
  const { lakePartitions, registerPartitions } = await import('../lib/warehouse/glue.js');
  console.log(`listing s3://${bucket}/events/ ...`);
  const days = await lakePartitions(new S3ObjectStore(s3Client(process.env.AWS_ENDPOINT_URL), bucket));
  console.log(`${days.length} partition(s) in the lake; registering them in ${database}.${table}`);
  const glue = glueClient();
  let done = 0;
  for (let i = 0; i < days.length; i += 500) {
    const chunk = days.slice(i, i + 500);
    await registerPartitions(glue, { database, table, bucket }, chunk);
    done += chunk.length;
    console.log(`  ${done}/${days.length}`);
  }
  console.log(`done: ${days.length} partition(s) registered or already there`);
}

function printCompaction(r: CompactionResult): void {
  console.log(
    `compacted ${r.partitions} partition(s): ${r.filesRead} file(s) into ${r.filesWritten}, ` +
      `${r.rowsRead} rows read, ${r.rowsWritten} kept (${r.rowsRead - r.rowsWritten} duplicate or erased), ` +
      `${r.filesDeleted} replaced file(s) deleted`,
  );
}

async function compactCommand(): Promise<void> {
  try {
    const response = await fetch(`${serverUrl()}/local/compact`, { method: 'POST' });
    const body = (await response.json()) as Parameters<typeof printCompaction>[0] & {
      error?: { message: string };
    };
    if (!response.ok) throw new UsageError(body.error?.message ?? `the pipeline answered ${response.status}`);
    printCompaction(body);
    return;
  } catch (error) {
    if (!isConnectionRefused(error)) throw error;
  }
  const { FsObjectStore } = await import('../lib/lake/fs-store.js');
  const { compactLake } = await import('../lib/lake/compaction.js');
  const { ErasureLog } = await import('../lib/privacy/erasure.js');
  const { LOCAL_COMPACTION_GRACE_MS } = await import('./warehouse.js');
  const store = new FsObjectStore(warehousePaths(dataDir()).lake);
  printCompaction(
    await compactLake(store, {
      now: new Date(),
      graceMs: LOCAL_COMPACTION_GRACE_MS,
      erasures: new ErasureLog(store),
      logger: consoleLogger(),
    }),
  );
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start': {
      const { runTally } = await import('./main.js');
      await runTally();
      return -1;
    }
    case 'demo': {
      const result = await runDemo({
        url: serverUrl(),
        users: intFlag(args, 'users', 3000, 1, 1_000_000),
        days: intFlag(args, 'days', 60, 31, 400),
        seed: intFlag(args, 'seed', 1, 0, 2 ** 31 - 1),
        progress: true,
      });
      return result.ok ? 0 : 1;
    }
    case 'sql':
      return sql(args);
    case 'rollup':
      await rollup(args);
      return 0;
    case 'compact':
      await compactCommand();
      return 0;
    case 'erase':
      await eraseCommand(args);
      return 0;
    case 'replay':
      return replayCommand(args);
    case 'partitions':
      await partitionsCommand(args);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2))
  .then((code) => {
    if (code >= 0) process.exitCode = code;
  })
  .catch((error: Error) => {
    // Tally's own errors (bad arguments, a refused erasure, a store that failed) are messages
    // for the user; only a bug shows its stack.
    const expected = error instanceof UsageError || error instanceof DemoError || error instanceof TallyError;
    console.error(`tally: ${expected ? error.message : (error.stack ?? error.message)}`);
    process.exitCode = 1;
  });
