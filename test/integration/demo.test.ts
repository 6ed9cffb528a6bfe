import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../lib/log.js';
import { runDemo } from '../../local/demo/run.js';
import { type Pipeline, startPipeline } from '../../local/pipeline.js';

let dataDir: string;
let pipeline: Pipeline;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tally-demo-'));
  pipeline = await startPipeline({
    dataDir,
    port: 0,
    logger: silentLogger,
    batchingWindowMs: 300,
    rollupIntervalMs: 0,
  });
});
afterAll(async () => {
  await pipeline?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('tally demo, end to end on kinesis-local', () => {
  it('reports DAU/WAU/MAU equal to the ground truth on every day, late events included', async () => {
    const lines: string[] = [];

    const result = await runDemo({
      url: pipeline.url,
      users: 600,
      days: 45,
      seed: 42,
      print: (l) => lines.push(l),
      progress: false,
    });

    expect(result.mismatches).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.checked).toBe(45 * 3);
    expect(result.workload.stats.late).toBeGreaterThan(0);
    expect(result.workload.stats.aliased).toBeGreaterThan(0);
    expect(result.workload.stats.skewed).toBeGreaterThan(0);
    expect(result.workload.stats.resent).toBeGreaterThan(0);
    expect(lines.at(-3)).toContain('match the ground truth exactly');
    expect(lines.at(-1)).toMatch(new RegExp(`^See it: ${pipeline.url}/dashboard#project=demo-.+&key=.+$`));
  });
});
