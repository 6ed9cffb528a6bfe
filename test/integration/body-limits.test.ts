import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { readBadRows, waitForLake } from '../helpers/lake.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

/**
 * C6 through the HTTP front: every oversized body gets a 413 and nothing is written, whichever
 * layer refuses it: the collector (its 500 KB limit, with Tally's error body), Lambda's 6 MB
 * invoke limit (API Gateway's own answer), or API Gateway's 10 MB cap.
 */
let test: TestPipeline;
beforeAll(async () => {
  test = await startTestPipeline('body-limits');
});
afterAll(async () => {
  await test?.close();
});

async function post(bytes: number, messageId?: string): Promise<{ status: number; body: string }> {
  const filler = 'x'.repeat(Math.max(0, bytes - 120));
  const body = JSON.stringify({
    batch: [{ type: 'track', event: 'Big', userId: 'u', messageId, properties: { filler } }],
  });
  const response = await fetch(`${test.pipeline.url}/v1/batch`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${test.pipeline.writeKeys.default}:`).toString('base64')}`,
    },
    body,
  });
  return { status: response.status, body: await response.text() };
}

describe('oversized bodies through the HTTP front', () => {
  it.each([
    ['600 KB: over the collector limit', 600 * 1024, /"code":"request_too_large"/],
    ["5 MB: over Lambda's invoke limit once base64-encoded", 5 * 1024 * 1024, /"message":"Request Too Long"/],
    ["7 MB: over Lambda's invoke limit", 7 * 1024 * 1024, /"message":"Request Too Long"/],
    ["11 MB: over API Gateway's cap", 11 * 1024 * 1024, /"message":"Request Entity Too Large"/],
  ])('%s answers 413', async (_, bytes, body) => {
    const answer = await post(bytes);
    expect(answer.status).toBe(413);
    expect(answer.body).toMatch(body);
  });

  it('writes nothing for any of them: the lake holds only the small event sent after them', async () => {
    const small = await post(1000, 'small-1');
    expect(small.status).toBe(200);
    const rows = await waitForLake(new FsObjectStore(test.pipeline.lakeRoot!), ['small-1']);
    expect(rows.map((r) => r.event_id)).toEqual(['small-1']);
    expect(await readBadRows(new FsObjectStore(test.pipeline.lakeRoot!))).toEqual([]);
  });
});
