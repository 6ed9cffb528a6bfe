import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { waitForLake } from '../helpers/lake.js';
import { sendBatch, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

const CLI = join(import.meta.dirname, '../../local/cli.ts');

/** `npm run sql` with statements piped to it, as in `tally sql < queries.sql`. */
function sqlPiped(dataDir: string, input: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'sql'], {
      env: { ...process.env, TALLY_DATA_DIR: dataDir },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.end(input);
  });
}

let test: TestPipeline;
beforeAll(async () => {
  test = await startTestPipeline('sql-cli');
  const { pipeline } = test;
  const response = await sendBatch(
    pipeline,
    ['a', 'b', 'c'].map((id) => ({
      type: 'track',
      event: 'Queried',
      messageId: `sql-${id}`,
      userId: id,
    })),
  );
  expect(response.status).toBe(200);
  await waitForLake(new FsObjectStore(pipeline.lakeRoot!), ['sql-a', 'sql-b', 'sql-c']);
});
afterAll(async () => {
  await test?.close();
});

describe('npm run sql with piped statements', () => {
  it('runs every statement, one spread over lines included', async () => {
    const result = await sqlPiped(
      test.dataDir,
      "SELECT count(*) AS n FROM events;\nSELECT event_id FROM events\n WHERE event_id = 'sql-b';\nSELECT 40 + 2 AS answer",
    );
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/n\n─+\n3\n\(1 row\)/);
    expect(result.out).toContain('sql-b');
    expect(result.out).toMatch(/answer\n─+\n42/);
  });

  it('reports a failing statement, runs the ones after it, and exits 1', async () => {
    const result = await sqlPiped(test.dataDir, 'SELECT nope FROM events;\nSELECT 7 AS after;\n');
    expect(result.err).toMatch(/error: .*nope/);
    expect(result.out).toMatch(/after\n─+\n7/);
    expect(result.code).toBe(1);
  });
});

describe('the CLI on a refused request', () => {
  it('says what is wrong in one line, without a stack trace, and exits 1', async () => {
    const result = await new Promise<{ code: number; err: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, 'erase', '--project', '../x', '--user-id', 'u'],
        { env: { ...process.env, TALLY_DATA_DIR: test.dataDir } },
      );
      let err = '';
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
      });
      child.on('close', (code) => resolve({ code: code ?? -1, err }));
    });
    expect(result.code).toBe(1);
    expect(result.err).toContain('project "../x" does not match');
    expect(result.err).not.toMatch(/\n\s+at /);
  });
});
