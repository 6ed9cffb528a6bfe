import { describe, expect, it } from 'vitest';
import { hashKey, KeyRing } from '../../lib/ingest/auth.js';
import type { Breakdown, Dimension } from '../../lib/warehouse/breakdowns.js';
import { daysFrom } from '../../lib/warehouse/days.js';
import { activeUsersApi, type MetricsRequest } from '../../lib/warehouse/metrics-api.js';
import type { ActiveUsersDay, Warehouse } from '../../lib/warehouse/warehouse.js';

const NOW = new Date('2026-03-31T12:00:00Z');
const calls: Array<[string, string, string, string]> = [];
const warehouse = {
  async activeUsers(project: string, from: string, to: string, today: string): Promise<ActiveUsersDay[]> {
    calls.push([project, from, to, today]);
    const last = to < today ? to : today;
    return daysFrom(from, last).map((dt, i) => ({ dt, dau: i, wau: 2 * i, mau: 3 * i }));
  },
  async lastRollup() {
    return new Date('2026-03-31T11:59:50Z');
  },
  async breakdown(
    _project: string,
    by: Dimension,
    range: { from: string; to: string; today: string },
    limit: number,
  ): Promise<Breakdown> {
    breakdowns.push([by, limit]);
    const days = daysFrom(range.from, range.to).map((dt) => ({ dt, dau: 1, wau: 2, mau: 3 }));
    return {
      by,
      values: [
        { value: 'ios', days },
        { value: null, days },
      ],
      other: { values: 4, days },
    };
  },
} as unknown as Warehouse;
const breakdowns: Array<[string, number]> = [];
const deps = {
  projects: new Set(['shop', 'blog']),
  readKeys: new KeyRing([
    { project: 'shop', sha256: hashKey('shop-read') },
    { project: 'blog', sha256: hashKey('blog-read') },
  ]),
  warehouse,
};

function get(
  path: string,
  query: Record<string, string> = {},
  key: string | null = 'shop-read',
): MetricsRequest {
  return { method: 'GET', path, headers: key ? { authorization: `Bearer ${key}` } : {}, query, now: NOW };
}

describe('GET /v1/projects/:project/active-users', () => {
  it('answers dau, wau, mau and stickiness per day with freshness', async () => {
    const response = await activeUsersApi(
      get('/v1/projects/shop/active-users', { from: '2026-03-29', to: '2026-03-31' }),
      deps,
    );
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      project: 'shop',
      from: '2026-03-29',
      to: '2026-03-31',
      days: [
        { date: '2026-03-29', dau: 0, wau: 0, mau: 0, stickiness: 0 },
        { date: '2026-03-30', dau: 1, wau: 2, mau: 3, stickiness: 0.3333 },
        { date: '2026-03-31', dau: 2, wau: 4, mau: 6, stickiness: 0.3333 },
      ],
      freshness: {
        rolledUpAt: '2026-03-31T11:59:50.000Z',
        live: '2026-03-31',
        generatedAt: '2026-03-31T12:00:00.000Z',
      },
    });
  });

  it('defaults to the 30 days ending today', async () => {
    await activeUsersApi(get('/v1/projects/shop/active-users'), deps);
    expect(calls.at(-1)).toEqual(['shop', '2026-03-02', '2026-03-31', '2026-03-31']);
  });

  it('starts the default range no earlier than the first day it serves', async () => {
    const response = await activeUsersApi(get('/v1/projects/shop/active-users', { to: '0001-01-05' }), deps);
    expect(response.status).toBe(200);
    expect(calls.at(-1)).toEqual(['shop', '0001-01-01', '0001-01-05', '2026-03-31']);
  });

  it.each([
    [{ from: '2026-02-30' }, 400, 'invalid_date', '"2026-02-30"'],
    [{ to: 'yesterday' }, 400, 'invalid_date', '"yesterday"'],
    [{ to: '0000-01-05' }, 400, 'invalid_date', 'from 0001-01-01 to 9999-12-31, got "0000-01-05"'],
    [{ from: '0000-12-31', to: '0001-01-10' }, 400, 'invalid_date', '"0000-12-31"'],
    [{ from: '2026-03-10', to: '2026-03-01' }, 400, 'invalid_range', '2026-03-10'],
    [{ from: '2025-01-01', to: '2026-03-01' }, 400, 'range_too_large', '425 days'],
  ])('refuses %j with %i %s', async (query, status, code, inMessage) => {
    const response = await activeUsersApi(get('/v1/projects/shop/active-users', query), deps);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ error: { code, message: expect.stringContaining(inMessage) } });
  });

  it('adds a breakdown by a dimension, the top 10 values by default, the rest as other', async () => {
    const response = await activeUsersApi(
      get('/v1/projects/shop/active-users', { from: '2026-03-31', to: '2026-03-31', by: 'platform' }),
      deps,
    );
    const day = [{ date: '2026-03-31', dau: 1, wau: 2, mau: 3 }];
    expect(response.status).toBe(200);
    expect((response.body as Record<string, unknown>).breakdown).toEqual({
      by: 'platform',
      limit: 10,
      values: [
        { value: 'ios', days: day },
        { value: null, days: day },
      ],
      other: { values: 4, days: day },
    });
    await activeUsersApi(get('/v1/projects/shop/active-users', { by: 'country', limit: '3' }), deps);
    expect(breakdowns.at(-1)).toEqual(['country', 3]);
  });

  it.each([
    [{ by: 'city' }, 'invalid_dimension', 'platform, os, browser'],
    [{ by: 'platform', limit: '0' }, 'invalid_limit', 'from 1 to 100, got "0"'],
    [{ by: 'platform', limit: '101' }, 'invalid_limit', 'got "101"'],
    [{ by: 'platform', limit: '2.5' }, 'invalid_limit', 'got "2.5"'],
    [{ limit: '5' }, 'invalid_limit', 'with by=<dimension>'],
  ])('refuses the breakdown %j with 400 %s naming the value', async (query, code, inMessage) => {
    const response = await activeUsersApi(get('/v1/projects/shop/active-users', query), deps);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code, message: expect.stringContaining(inMessage) } });
  });

  it("answers 404 for an unknown project, 401 without or with an unknown key, 403 with another project's key", async () => {
    const unknown = await activeUsersApi(get('/v1/projects/nope/active-users'), deps);
    const missing = await activeUsersApi(get('/v1/projects/shop/active-users', {}, null), deps);
    const wrong = await activeUsersApi(get('/v1/projects/shop/active-users', {}, 'guess'), deps);
    const other = await activeUsersApi(get('/v1/projects/shop/active-users', {}, 'blog-read'), deps);
    expect([unknown.status, missing.status, wrong.status, other.status]).toEqual([404, 401, 401, 403]);
    expect(unknown.body).toMatchObject({
      error: { code: 'unknown_project', message: expect.stringContaining('"nope"') },
    });
  });

  it('answers 404, not a crash, for a malformed escape in the project', async () => {
    const response = await activeUsersApi(get('/v1/projects/%E0%A4%A/active-users'), deps);
    expect(response).toMatchObject({ status: 404, body: { error: { code: 'unknown_project' } } });
  });

  it('answers 405 for other methods', async () => {
    const response = await activeUsersApi({ ...get('/v1/projects/shop/active-users'), method: 'POST' }, deps);
    expect(response).toMatchObject({ status: 405, headers: { allow: 'GET' } });
  });

  it('answers a range in the first century instead of failing (years 0-99 are not 1900-1999)', async () => {
    const response = await activeUsersApi(get('/v1/projects/shop/active-users', { to: '0100-01-15' }), deps);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ from: '0099-12-17', to: '0100-01-15' });
  });
});
