import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { localRouteRefusal } from '../../local/server.js';

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
