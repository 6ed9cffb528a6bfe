import { Analytics } from '@segment/analytics-node';
import { Progress } from '../progress.js';
import { type DemoCall, generateWorkload, type Workload } from './workload.js';

export interface DemoOptions {
  /** The running local server. */
  url: string;
  users: number;
  days: number;
  seed: number;
  now?: Date;
  /** Where the report goes. @default console.log */
  print?: (line: string) => void;
  /** Longest wait for the pipeline to settle after sending. @default 180 s */
  timeoutMs?: number;
  /** Progress output. @default true */
  progress?: boolean;
}

export interface DemoResult {
  ok: boolean;
  project: string;
  checked: number;
  mismatches: string[];
  workload: Workload;
}

class DemoError extends Error {}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of our own local API, read field by field below.
type Json = any;

async function request(url: string, init: RequestInit = {}): Promise<{ status: number; body: Json }> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new DemoError(
      `cannot reach ${url} (${(error as Error).message}): start the pipeline first with \`npm start\``,
    );
  }
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Sends calls from devices with wrong clocks the way such a device does: raw batches, skewed sentAt. */
async function sendSkewed(url: string, writeKey: string, calls: DemoCall[]): Promise<void> {
  for (let i = 0; i < calls.length; i += 100) {
    const chunk = calls.slice(i, i + 100);
    // One device clock per request: the batch's sentAt and every timestamp share the same error.
    const skew = chunk[0]!.clockSkewMs;
    const batch = chunk.map((c) => ({
      type: c.kind,
      messageId: c.messageId,
      ...(c.userId ? { userId: c.userId } : {}),
      ...(c.previousId ? { previousId: c.previousId } : { anonymousId: c.anonymousId }),
      timestamp: new Date(c.time.getTime() + skew).toISOString(),
      ...(c.event ? { event: c.event } : {}),
      ...(c.name ? { name: c.name } : {}),
      ...(c.properties ? { properties: c.properties } : {}),
      ...(c.traits ? { traits: c.traits } : {}),
    }));
    const { status, body } = await request(`${url}/v1/batch`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      },
      body: JSON.stringify({ sentAt: new Date(Date.now() + skew).toISOString(), batch }),
    });
    if (status !== 200 || body?.rejected)
      throw new DemoError(`the collector refused a batch: ${status} ${JSON.stringify(body).slice(0, 200)}`);
  }
}

/** Sends calls with the official Segment client, as an app would. */
async function sendWithSegment(
  url: string,
  writeKey: string,
  calls: DemoCall[],
  progress: Progress | null,
  offset: number,
): Promise<void> {
  const analytics = new Analytics({ writeKey, host: url, flushAt: 250, maxRetries: 5 });
  let done = 0;
  let failure: Error | null = null;
  const callback = (error?: unknown) => {
    if (error && !failure) failure = error as Error;
    done++;
    if (done % 500 === 0) progress?.update(offset + done);
  };
  for (const c of calls) {
    const identity = c.userId
      ? { userId: c.userId, anonymousId: c.anonymousId }
      : { anonymousId: c.anonymousId };
    const common = { ...identity, messageId: c.messageId, timestamp: c.time };
    if (c.kind === 'track')
      analytics.track({ ...common, event: c.event!, properties: c.properties }, callback);
    else if (c.kind === 'page') analytics.page({ ...common, name: c.name }, callback);
    else if (c.kind === 'alias')
      analytics.alias(
        { userId: c.userId!, previousId: c.previousId!, messageId: c.messageId, timestamp: c.time },
        callback,
      );
    else analytics.identify({ ...common, traits: c.traits }, callback);
  }
  await analytics.closeAndFlush({ timeout: 120_000 });
  if (failure) throw new DemoError(`the Segment client reported a failure: ${(failure as Error).message}`);
}

async function send(
  url: string,
  writeKey: string,
  calls: DemoCall[],
  label: string,
  showProgress: boolean,
): Promise<void> {
  const progress = showProgress ? new Progress(label, calls.length) : null;
  const skewed = calls.filter((c) => c.clockSkewMs !== 0).sort((a, b) => a.clockSkewMs - b.clockSkewMs);
  const plain = calls.filter((c) => c.clockSkewMs === 0);
  await sendWithSegment(url, writeKey, plain, progress, 0);
  const bySkew = new Map<number, DemoCall[]>();
  for (const c of skewed) bySkew.set(c.clockSkewMs, [...(bySkew.get(c.clockSkewMs) ?? []), c]);
  for (const group of bySkew.values()) await sendSkewed(url, writeKey, group);
  progress?.done();
}

/** Waits until the stream is drained into the lake and rolled up: three rollups in a row find nothing new. */
async function settle(url: string, timeoutMs: number, showProgress: boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  let manifests = 0;
  while (quiet < 3) {
    if (Date.now() > deadline)
      throw new DemoError(`the pipeline did not settle within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { status, body } = await request(`${url}/local/rollup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    if (status !== 200) throw new DemoError(`rollup failed: ${status} ${JSON.stringify(body).slice(0, 200)}`);
    manifests += body.manifests;
    quiet = body.manifests === 0 ? quiet + 1 : 0;
    if (showProgress && process.stderr.isTTY) {
      process.stderr.write(
        `\rwaiting for the lake and the rollup: ${manifests} batch(es) rolled up`.padEnd(80),
      );
    }
  }
  if (showProgress) process.stderr.write(process.stderr.isTTY ? '\n' : `rolled up ${manifests} batch(es)\n`);
}

type Numbers = { dau: number; wau: number; mau: number };

/** Every number of every day against the ground truth: the differences, and a printable row per day. */
export function compareWithTruth(
  days: ReadonlyArray<Numbers & { date: string }>,
  truth: ReadonlyMap<string, Numbers>,
): { mismatches: string[]; rows: string[] } {
  const mismatches: string[] = [];
  const rows: string[] = [];
  for (const day of days) {
    const expected = truth.get(day.date);
    if (!expected) {
      mismatches.push(`${day.date}: not in the ground truth`);
      continue;
    }
    const cell = (k: keyof Numbers) => {
      if (day[k] !== expected[k]) mismatches.push(`${day.date} ${k}: tally ${day[k]}, truth ${expected[k]}`);
      return `${String(day[k]).padStart(6)} ${day[k] === expected[k] ? '=' : '≠'} ${String(expected[k]).padEnd(6)}`;
    };
    rows.push(`${day.date}  ${cell('dau')}  ${cell('wau')}  ${cell('mau')}`);
  }
  for (const date of truth.keys()) {
    if (!days.some((d) => d.date === date)) mismatches.push(`${date}: missing from Tally's answer`);
  }
  return { mismatches, rows };
}

/**
 * `tally demo`: generates a workload, sends it through the running pipeline (official Segment
 * client, plus raw requests from devices with wrong clocks), sends late events after a first
 * rollup, then compares Tally's DAU/WAU/MAU of every day with the ground truth.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const showProgress = options.progress ?? true;
  const timeoutMs = options.timeoutMs ?? 180_000;
  const workload = generateWorkload({
    users: options.users,
    days: options.days,
    seed: options.seed,
    now: options.now ?? new Date(),
  });
  const project = `demo-${options.seed}-${Date.now().toString(36)}`;
  const created = await request(`${options.url}/local/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ project }),
  });
  if (created.status !== 201)
    throw new DemoError(`cannot create project ${project}: ${JSON.stringify(created.body).slice(0, 200)}`);
  const { writeKey, readKey } = created.body as { writeKey: string; readKey: string };
  const s = workload.stats;
  print(
    `demo project ${project}: ${s.users} users (${s.identified} identify, ${s.aliased} change userId by alias), ` +
      `${s.events} events over ${options.days} days, ` +
      `${s.resent} resent, ${s.skewed} from wrong clocks, ${s.late} arriving late`,
  );

  await send(options.url, writeKey, workload.main, 'sending', showProgress);
  await settle(options.url, timeoutMs, showProgress);
  await send(options.url, writeKey, workload.late, 'sending late events', showProgress);
  await settle(options.url, timeoutMs, showProgress);

  const { status, body } = await request(
    `${options.url}/v1/projects/${project}/active-users?from=${workload.from}&to=${workload.to}`,
    { headers: { authorization: `Bearer ${readKey}` } },
  );
  if (status !== 200)
    throw new DemoError(`the metrics API answered ${status}: ${JSON.stringify(body).slice(0, 200)}`);
  const { mismatches, rows } = compareWithTruth(body.days, workload.truth);
  print('');
  print(
    `date        ${'DAU tally = truth'.padEnd(17)}  ${'WAU tally = truth'.padEnd(17)}  MAU tally = truth`,
  );
  for (const row of rows.slice(-14)) print(row);
  const checked = (body.days as unknown[]).length * 3;
  print('');
  print(
    mismatches.length === 0
      ? `all ${checked} numbers over ${checked / 3} days match the ground truth exactly (last 14 days shown).`
      : `${mismatches.length} number(s) differ from the ground truth:\n  ${mismatches.slice(0, 20).join('\n  ')}`,
  );
  print('');
  print(`See it: ${dashboardUrl(options.url, project, readKey)}`);
  return { ok: mismatches.length === 0, project, checked, mismatches, workload };
}

/**
 * The dashboard's address for a project, its read key in the fragment: the browser keeps it (the
 * page moves it to this tab's storage), no server or log ever receives it.
 */
export function dashboardUrl(url: string, project: string, readKey: string): string {
  return `${url}/dashboard#project=${encodeURIComponent(project)}&key=${encodeURIComponent(readKey)}`;
}

export { DemoError };
