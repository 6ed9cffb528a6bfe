import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { localRouteRefusal, localRouter } from '../../local/server.js';

function event(headers: Record<string, string>): APIGatewayProxyEventV2 {
  return { headers, rawPath: '/local/projects' } as unknown as APIGatewayProxyEventV2;
}

const SAME = { host: '127.0.0.1:8080', 'content-type': 'application/json' };

describe('the local admin routes', () => {
  it('accept a JSON request from this machine (the CLI and the demo)', () => {
    expect(localRouteRefusal(event(SAME))).toBeNull();
    expect(
      localRouteRefusal(event({ ...SAME, origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' })),
    ).toBeNull();
  });

  it.each([
    ['a text/plain body (a no-cors form post)', { ...SAME, 'content-type': 'text/plain' }, 'text/plain'],
    ['no content type', { host: SAME.host }, '(none)'],
    ['another origin', { ...SAME, origin: 'https://evil.example' }, 'https://evil.example'],
    ['a cross-site fetch', { ...SAME, 'sec-fetch-site': 'cross-site' }, 'cross-site'],
    ['a rebound DNS name', { ...SAME, host: 'evil.example:8080' }, 'evil.example:8080'],
  ])('refuse %s, naming it', (_, headers, named) => {
    expect(localRouteRefusal(event(headers))).toContain(named);
  });
});

describe('POST /local/rollup', () => {
  it('passes {"full": true} on to the running rollup', async () => {
    // Arrange
    const asked: Array<{ full?: boolean } | undefined> = [];
    const none = async () => ({ statusCode: 404 });
    const router = localRouter({
      collect: none,
      metrics: null,
      warehouse: {
        rollupNow: async (options) => {
          asked.push(options);
          return { manifests: 0, stats: {} };
        },
      },
      createProject: async () => ({ writeKey: '', readKey: '' }),
      erase: async () => null,
    });
    const post = (body: string) =>
      ({
        rawPath: '/local/rollup',
        headers: { ...SAME },
        body,
        isBase64Encoded: false,
        requestContext: { http: { method: 'POST' } },
      }) as unknown as APIGatewayProxyEventV2;

    // Act
    const full = await router(post('{"full": true}'));
    const recent = await router(post('{}'));

    // Assert
    expect([full.statusCode, recent.statusCode]).toEqual([200, 200]);
    expect(asked).toEqual([{ full: true }, { full: false }]);
  });
});

describe('POST /local/compact', () => {
  const none = async () => ({ statusCode: 404 });
  const post = {
    rawPath: '/local/compact',
    headers: { ...SAME },
    body: '',
    isBase64Encoded: false,
    requestContext: { http: { method: 'POST' } },
  } as unknown as APIGatewayProxyEventV2;
  const routes = (compactNow: () => Promise<unknown>) =>
    localRouter({
      collect: none,
      metrics: null,
      warehouse: { rollupNow: async () => ({ manifests: 0, stats: {} }), compactNow },
      createProject: async () => ({ writeKey: '', readKey: '' }),
      erase: async () => null,
    });

  it('runs a compaction in the running pipeline and answers what it did', async () => {
    const answer = await routes(async () => ({ partitions: 2, filesRead: 9 }))(post);
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body as string)).toEqual({ partitions: 2, filesRead: 9 });
  });

  it('answers 409 when this lake is not one the pipeline compacts', async () => {
    const answer = await routes(async () => null)(post);
    expect(answer.statusCode).toBe(409);
    expect(answer.body).toContain('compaction_off');
  });
});
