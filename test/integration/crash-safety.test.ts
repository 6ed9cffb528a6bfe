import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import {
  alive,
  emulatorsOf,
  formatReport,
  KILL_KINDS,
  runChaos,
  spawnTally,
  violations,
} from '../../local/chaos/run.js';
import { waitFor } from '../../local/ports.js';
import { waitForLake } from '../helpers/lake.js';
import { postBatch, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

const MAIN = fileURLToPath(new URL('../../local/main.ts', import.meta.url));

const batchOf = (prefix: string, n: number) => ({
  ids: Array.from({ length: n }, (_, i) => `${prefix}-${i}`),
  body: JSON.stringify({
    batch: Array.from({ length: n }, (_, i) => ({
      type: 'track',
      event: 'Crash Tested',
      messageId: `${prefix}-${i}`,
      userId: `u-${i % 7}`,
    })),
  }),
});

const dirs: string[] = [];
const opened: TestPipeline[] = [];
afterAll(async () => {
  for (const p of opened) await p.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** `npm start`'s process on a data dir of its own, ready, with its kinesis-local's pid. */
async function startTally(prefix: string) {
  const dataDir = await mkdtemp(join(tmpdir(), `tally-${prefix}-`));
  dirs.push(dataDir);
  const env = { ...process.env, TALLY_DATA_DIR: dataDir, PORT: '0' };
  const first = spawnTally(MAIN, env);
  const { url, writeKey } = await first.ready;
  const [emulator] = emulatorsOf(first.child.pid!);
  return { dataDir, env, first, url, writeKey, emulator };
}

/** Starts `npm start` again on the data dir, waits until the lake holds `ids`, then stops it with Ctrl-C. */
async function restartUntilLanded(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  ids: string[],
  alsoCheck: () => Promise<void> = async () => {},
) {
  const again = spawnTally(MAIN, env);
  await again.ready;
  try {
    const rows = await waitForLake(new FsObjectStore(join(dataDir, 'lake')), ids, 60_000);
    expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(ids));
    await alsoCheck();
  } finally {
    again.child.kill('SIGINT');
    await new Promise((resolve) => again.child.once('exit', resolve));
  }
}

describe('crash safety on one machine', () => {
  it('an event acknowledged just before kinesis-local is killed reaches the lake: the emulator is restarted and refilled from the journal', async () => {
    const test = await startTestPipeline('crash-emulator');
    opened.push(test);
    const { pipeline } = test;
    const before = pipeline.emulatorPid();
    const { ids, body } = batchOf('emu', 300);
    expect(await postBatch(pipeline.url, pipeline.writeKeys.default!, body)).toBe(200);
    process.kill(before!, 'SIGKILL');

    await waitFor(
      'a new kinesis-local',
      async () => alive(pipeline.emulatorPid()) && pipeline.emulatorPid() !== before,
    );
    const rows = await waitForLake(new FsObjectStore(join(test.dataDir, 'lake')), ids, 60_000);
    expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(ids));
    // Collection works on the restarted emulator too.
    const more = batchOf('emu-after', 50);
    expect(await postBatch(pipeline.url, pipeline.writeKeys.default!, more.body)).toBe(200);
    await waitForLake(new FsObjectStore(join(test.dataDir, 'lake')), [...ids, ...more.ids], 60_000);
  });

  it('kill -9 of the whole process right after a 200 loses nothing; a second start on the data dir is refused while one runs; the emulator dies with its parent', async () => {
    const { dataDir, env, first, url, writeKey, emulator } = await startTally('crash');
    expect(emulator).toBeGreaterThan(0);

    const second = spawnTally(MAIN, env);
    await expect(second.ready).rejects.toThrow(/another Tally \(pid \d+\) is running on the data dir/);

    const { ids, body } = batchOf('kill', 500);
    expect(await postBatch(url, writeKey, body)).toBe(200);
    process.kill(first.child.pid!, 'SIGKILL');
    await waitFor('kinesis-local to exit with its parent', async () => !alive(emulator), 10_000);

    // An old data dir's emulator file, cut to 0 bytes by a crash, must not stop the start.
    await mkdir(join(dataDir, 'kinesis'), { recursive: true });
    await writeFile(join(dataDir, 'kinesis', 'kinesis-data.json'), '');

    await restartUntilLanded(env, dataDir, ids, async () => {
      expect(await readdir(join(dataDir, 'kinesis'))).toEqual(['kinesis-data.json.damaged']);
    });
    // The graceful stop drained everything: nothing is left for the next start to re-drive.
    expect(await readdir(join(dataDir, 'journal'))).toEqual([]);
    expect(await readdir(dataDir)).not.toContain('tally.pid');
  });

  it('Ctrl-C right after kinesis-local was killed still ends the process, and the next start delivers every acknowledged event', async () => {
    // Arrange
    const { dataDir, env, first, url, writeKey, emulator } = await startTally('stop');
    const { ids, body } = batchOf('stop', 400);
    expect(await postBatch(url, writeKey, body)).toBe(200);

    // Act: the emulator dies, and the stop begins before the supervisor could restart it.
    process.kill(emulator!, 'SIGKILL');
    first.child.kill('SIGINT');
    const code = await Promise.race([
      new Promise((resolve) => first.child.once('exit', (c, signal) => resolve(c ?? signal))),
      new Promise((resolve) => setTimeout(() => resolve('still running after 90 s'), 90_000)),
    ]);

    // Assert: it ended within its bound (60 s), and nothing acknowledged was lost.
    expect([0, 1]).toContain(code);
    await restartUntilLanded(env, dataDir, ids);
  }, 240_000);

  it('a short chaos run: kills from outside and faults inside, then nothing lost, nothing doubled, exact counts', async () => {
    const report = await runChaos({
      events: 20_000,
      users: 400,
      days: 35,
      batch: 100,
      concurrency: 8,
      killEveryMs: 0,
      kills: KILL_KINDS.length,
      badEvery: 499,
      rates: {
        putPartial: 0.08,
        putThrottle: 0.04,
        putLostAnswer: 0.04,
        storeError: 0.01,
        crashBeforeManifest: 0.01,
        redeliver: 0.1,
        superset: 0.1,
        rollupKill: 0.02,
        compactionKill: 0.03,
        compactEveryMs: 1_500,
        maxSelfKills: 3,
      },
    });
    console.log(formatReport(report));
    expect(violations(report)).toEqual([]);
    expect(report.lake.distinctIds).toBe(report.validEvents);
    expect(report.lake.compactions).toBeGreaterThan(0);
    expect(report.totalFaults).toBeGreaterThanOrEqual(30);
    for (const kind of KILL_KINDS) {
      expect(report.faults[`kill-${kind}`] ?? 0).toBeGreaterThan(0);
    }
  }, 120_000);
});
