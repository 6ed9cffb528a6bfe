import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LakeEvent } from '../../lib/events.js';
import { parseCorsPolicy, SDK_HEADERS } from '../../lib/ingest/cors.js';
import { collectorRoutes, EVENT_ROUTES, loggablePath } from '../../lib/ingest/routes.js';
import { collect, deps, itemsOf, RECEIVED_AT, request, track, WRITE_KEY } from '../helpers/collect.js';

const ORIGIN = 'https://shop.example.com';

function eventsOf(d: ReturnType<typeof deps>): LakeEvent[] {
  return itemsOf(d.stream).flatMap((i) => (i.kind === 'event' ? [i.event] : []));
}

function badRowsOf(d: ReturnType<typeof deps>) {
  return itemsOf(d.stream).flatMap((i) => (i.kind === 'bad' ? [i.badRow] : []));
}

describe('collect: the routes the SDKs use', () => {
  it.each([
    ['/v1/t', 'track'],
    ['/v1/i', 'identify'],
    ['/v1/p', 'page'],
    ['/v1/s', 'screen'],
    ['/v1/g', 'group'],
    ['/v1/a', 'alias'],
  ])('takes analytics.js short route %s as a %s', async (path, type) => {
    // Arrange
    const d = deps();
    const body = { userId: 'u', event: 'E', groupId: 'g', previousId: 'p', messageId: `m-${type}` };

    // Act
    const { response } = await collect(request(path, body, { 'content-type': 'text/plain' }), d);

    // Assert
    expect(response.status).toBe(200);
    expect(eventsOf(d).map((e) => e.type)).toEqual([type]);
  });

  it('takes batches on /v1/b and /beacon/v1/batch', async () => {
    const d = deps();
    await collect(request('/v1/b', { batch: [track({ messageId: 'b-1' })] }), d);
    await collect(request('/beacon/v1/batch', { batch: [track({ messageId: 'b-2' })] }), d);
    expect(eventsOf(d).map((e) => e.eventId)).toEqual(['b-1', 'b-2']);
  });

  it('lists each event route once, with OPTIONS implied, for the HTTP API', () => {
    const paths = collectorRoutes().map((r) => `${r.method} ${r.path}`);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths).toEqual(
      expect.arrayContaining(['POST /v1/b', 'POST /beacon/v1/batch', 'POST /v1/m', 'GET /sourceConfig']),
    );
    expect(paths.filter((p) => p.startsWith('POST'))).toHaveLength(Object.keys(EVENT_ROUTES).length + 1);
  });

  it('answers analytics.js telemetry (/v1/m) and stores nothing', async () => {
    const d = deps();
    const { response } = await collect(request('/v1/m', { series: [] }, { authorization: '' }), d);
    expect(response).toMatchObject({ status: 200, body: { success: true } });
    expect(d.stream.written).toHaveLength(0);
  });
});

describe('collect: write keys and bodies as the SDKs send them', () => {
  it('takes the write key from the query string (beacons set no headers)', async () => {
    // Arrange
    const d = deps();
    const req = {
      ...request(
        '/beacon/v1/batch',
        { batch: [track()] },
        { authorization: '', 'content-type': 'text/plain' },
      ),
      query: { writeKey: WRITE_KEY },
    };

    // Act
    const { response } = await collect(req, d);

    // Assert
    expect(response.status).toBe(200);
    expect(eventsOf(d)).toHaveLength(1);
  });

  it('refuses an unknown write key in the query string', async () => {
    const d = deps();
    const req = {
      ...request('/v1/batch', { batch: [track()] }, { authorization: '' }),
      query: { writeKey: 'nope' },
    };
    const { response } = await collect(req, d);
    expect(response).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect(d.stream.written).toHaveLength(0);
  });

  it('inflates gzip labelled application/x-www-form-urlencoded (rudder-sdk-node)', async () => {
    const d = deps();
    const body = gzipSync(JSON.stringify({ batch: [track()] }));
    const req = request('/v1/batch', body, {
      'content-type': 'application/x-www-form-urlencoded',
      'content-encoding': 'gzip',
    });
    const { response } = await collect(req, d);
    expect(response.status).toBe(200);
    expect(eventsOf(d)).toHaveLength(1);
  });

  it('inflates a body that starts with gzip magic even without Content-Encoding', async () => {
    const d = deps();
    const req = request('/v1/batch', gzipSync(JSON.stringify({ batch: [track()] })), {
      'content-type': 'text/plain',
    });
    const { response } = await collect(req, d);
    expect(response.status).toBe(200);
    expect(eventsOf(d)).toHaveLength(1);
  });

  it('reads JSON sent with no content type (a Blob without a type)', async () => {
    const d = deps();
    const { response } = await collect(request('/v1/track', track(), { 'content-type': '' }), d);
    expect(response.status).toBe(200);
  });

  it('answers 400 for a real form body, saying form bodies must hold JSON', async () => {
    const d = deps();
    const req = request('/v1/track', 'userId=u&event=E', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    const { response } = await collect(req, d);
    expect(response).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect((response.body as { error: { message: string } }).error.message).toContain(
      'form bodies must hold JSON',
    );
    expect(d.stream.written).toHaveLength(0);
  });
});

describe('collect: CORS', () => {
  it('answers a preflight with the origin, the SDK headers, the headers asked for and a max-age', async () => {
    // Arrange
    const req = {
      ...request('/v1/t', ''),
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'Authorization, Content-Type, X-Retry-Count, X-Future-Sdk',
      },
    };

    // Act
    const { response } = await collect(req, deps());

    // Assert
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(response.headers['access-control-allow-methods']).toBe('POST, OPTIONS');
    const allowed = response.headers['access-control-allow-headers']!.split(', ');
    expect(allowed).toEqual(expect.arrayContaining([...SDK_HEADERS, 'x-future-sdk']));
    expect(allowed).toEqual(expect.arrayContaining(['anonymousid', 'sentat', 'rsa-retry-attempt']));
    expect(Number(response.headers['access-control-max-age'])).toBeGreaterThanOrEqual(7200);
    expect(response.headers.vary).toBe('origin, access-control-request-headers');
  });

  it('puts the CORS headers on answers and errors alike, exposing Retry-After', async () => {
    const ok = await collect(request('/v1/track', track(), { origin: ORIGIN }), deps());
    const unauthorized = await collect(
      request('/v1/track', track(), { origin: ORIGIN, authorization: '' }),
      deps(),
    );
    const notFound = await collect(request('/v1/nope', track(), { origin: ORIGIN }), deps());
    for (const { response } of [ok, unauthorized, notFound]) {
      expect(response.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(response.headers['access-control-expose-headers']).toContain('retry-after');
    }
    expect([ok, unauthorized, notFound].map((r) => r.response.status)).toEqual([200, 401, 404]);
  });

  it('sends no CORS headers to a request without an Origin (servers)', async () => {
    const { response } = await collect(request('/v1/track', track()), deps());
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('with an allow-list, refuses other origins with 403, no CORS headers and nothing written', async () => {
    // Arrange
    const d = { ...deps(), cors: parseCorsPolicy(`${ORIGIN},https://www.example.com`) };
    const evil = 'https://evil.example.net';

    // Act
    const post = await collect(request('/v1/track', track(), { origin: evil }), d);
    const pre = await collect(
      { ...request('/v1/track', ''), method: 'OPTIONS', headers: { origin: evil } },
      d,
    );
    const allowed = await collect(request('/v1/track', track({ messageId: 'ok' }), { origin: ORIGIN }), d);

    // Assert
    expect(post.response).toMatchObject({ status: 403, body: { error: { code: 'origin_not_allowed' } } });
    expect(pre.response.status).toBe(403);
    expect(post.response.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.response.headers['access-control-allow-origin']).toBeUndefined();
    expect((post.response.body as { error: { message: string } }).error.message).toContain(evil);
    expect(allowed.response.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(eventsOf(d).map((e) => e.eventId)).toEqual(['ok']);
  });

  it('refuses an allow-list entry that is not an origin, naming it', () => {
    expect(() => parseCorsPolicy('https://ok.example.com,shop.example.com/path')).toThrow(
      'shop.example.com/path',
    );
    expect(parseCorsPolicy('*')).toEqual({ anyOrigin: true });
    expect(parseCorsPolicy(undefined)).toEqual({ anyOrigin: true });
  });
});

describe("collect: analytics.js' settings, for cdnURL pointing at Tally", () => {
  it('answers settings that send events back to this host, with the SDK metrics off', async () => {
    const req = {
      ...request(`/v1/projects/${WRITE_KEY}/settings`, ''),
      method: 'GET',
      headers: { host: 'tally.example.com', 'x-forwarded-proto': 'https', origin: ORIGIN },
    };
    const { response } = await collect(req, deps());
    expect(response).toMatchObject({
      status: 200,
      headers: { 'access-control-allow-origin': ORIGIN },
      body: {
        integrations: {
          'Segment.io': { apiKey: WRITE_KEY, apiHost: 'tally.example.com/v1', protocol: 'https' },
        },
        metrics: { sampleRate: 0 },
      },
    });
  });

  it('answers 404 for an unknown write key', async () => {
    const req = { ...request('/v1/projects/nope/settings', ''), method: 'GET', headers: { host: 'h' } };
    expect((await collect(req, deps())).response.status).toBe(404);
  });

  it('keeps the write key out of the logged path, on any route or none', () => {
    for (const path of [
      `/v1/projects/${WRITE_KEY}/settings`,
      `/v1/projects/${WRITE_KEY}/settings/`,
      `//v1/projects/${WRITE_KEY}/settings`,
      `/v1/projects/${WRITE_KEY}/%73ettings`,
      `/v1/projects/${encodeURIComponent(WRITE_KEY)}x/settings`,
      `/${WRITE_KEY}`,
      `/v1/batch/${WRITE_KEY.slice(0, 12)}`,
    ]) {
      expect(loggablePath(path)).not.toContain(WRITE_KEY.slice(0, 12));
    }
    expect(loggablePath(`/v1/projects/${WRITE_KEY}/settings/`)).toBe('/v1/projects/*/settings/');
    expect(loggablePath('/v1/batch')).toBe('/v1/batch');
    expect(loggablePath('/sourceConfig/')).toBe('/sourceConfig/');
    expect(loggablePath('/dashboard/app.js')).toBe('/dashboard/*');
  });
});

describe("collect: RudderStack's source configuration", () => {
  it('answers a source config with no destinations for a known write key', async () => {
    const { response } = await collect({ ...request('/sourceConfig/', ''), method: 'GET' }, deps());
    expect(response).toMatchObject({
      status: 200,
      body: { source: { id: 'shop', enabled: true, config: {}, destinations: [] } },
    });
  });

  it('takes the write key from the query and refuses an unknown one', async () => {
    const base = { ...request('/sourceConfig', ''), method: 'GET', headers: {} };
    const known = await collect({ ...base, query: { writeKey: WRITE_KEY } }, deps());
    const unknown = await collect({ ...base, query: { writeKey: 'x' } }, deps());
    expect([known.response.status, unknown.response.status]).toEqual([200, 401]);
  });

  it('answers POST to it with 405 naming GET', async () => {
    const { response } = await collect(request('/sourceConfig', {}), deps());
    expect(response).toMatchObject({ status: 405, headers: { allow: 'GET, OPTIONS' } });
  });
});

describe('collect: event fields of the SDKs', () => {
  it("uses RudderStack's originalTimestamp as the event time, corrected by sentAt", async () => {
    // Arrange: a device 2 minutes fast sends an event it queued offline three days ago.
    const d = deps();
    const fast = 120_000;
    const queuedAt = RECEIVED_AT - 3 * 86_400_000;
    const event = track({
      originalTimestamp: new Date(queuedAt + fast).toISOString(),
      sentAt: new Date(RECEIVED_AT + fast).toISOString(),
    });

    // Act
    await collect(request('/v1/batch', { batch: [event] }), d);

    // Assert
    expect(eventsOf(d)[0]?.eventTime).toBe(queuedAt);
  });

  it('prefers timestamp over originalTimestamp, and keeps an unreadable originalTimestamp as a bad row', async () => {
    const d = deps();
    const at = '2026-03-09T08:00:00.000Z';
    await collect(
      request('/v1/batch', {
        batch: [
          track({ timestamp: at, originalTimestamp: '2026-03-01T00:00:00Z' }),
          track({ messageId: 'm-2', originalTimestamp: 'yesterday' }),
        ],
      }),
      d,
    );
    expect(eventsOf(d).map((e) => new Date(e.eventTime).toISOString())).toEqual([at]);
    expect(badRowsOf(d)).toMatchObject([{ reason: 'invalid_timestamp', eventId: 'm-2' }]);
  });

  it("merges the batch's context into each event's, the event's keys winning, IP and traits removed", async () => {
    // Arrange
    const d = deps();
    const context = {
      library: { name: 'batch-lib' },
      locale: 'de-DE',
      ip: '203.0.113.9',
      traits: { email: 'a@b.c' },
    };
    const batch = [track(), track({ messageId: 'm-2', context: { locale: 'fr-FR' } })];

    // Act
    await collect(request('/v1/batch', { batch, context, integrations: { All: false } }), d);

    // Assert
    const contexts = eventsOf(d).map((e) => JSON.parse(e.context ?? 'null'));
    expect(contexts).toEqual([
      { library: { name: 'batch-lib' }, locale: 'de-DE' },
      { library: { name: 'batch-lib' }, locale: 'fr-FR' },
    ]);
  });

  it('answers 400 invalid_context for a batch context that is not an object, writing nothing', async () => {
    const d = deps();
    const { response } = await collect(request('/v1/batch', { batch: [track()], context: ['x'] }), d);
    expect(response).toMatchObject({ status: 400, body: { error: { code: 'invalid_context' } } });
    expect(d.stream.written).toHaveLength(0);
  });

  it('keeps the channel, and refuses one that is not a string', async () => {
    const d = deps();
    await collect(
      request('/v1/batch', {
        batch: [
          track({ channel: 'web' }),
          track({ messageId: 'm-2', channel: 7 }),
          track({ messageId: 'm-3' }),
        ],
      }),
      d,
    );
    expect(eventsOf(d).map((e) => e.channel)).toEqual(['web', null]);
    expect(badRowsOf(d)).toMatchObject([{ reason: 'invalid_channel', eventId: 'm-2' }]);
  });
});
