import { describe, expect, it } from 'vitest';
import { countryReader, packagedCountryDb } from '../../lib/enrich/country.js';
import { answerCollect } from '../../lib/ingest/answer.js';
import { anonymousHash, identityHash } from '../../lib/ingest/pseudonymize.js';
import {
  collect,
  deps,
  gzipRequest,
  HASH_KEY,
  itemsOf,
  RECEIVED_AT,
  request,
  track,
  WRITE_KEY,
} from '../helpers/collect.js';
import { MemoryStream } from '../helpers/memory.js';

describe('collect: whole requests', () => {
  it('accepts a batch and writes one pseudonymized event per valid input', async () => {
    const d = deps();
    const { response } = await collect(
      request('/v1/batch', { batch: [track(), track({ messageId: 'm-2' })] }),
      d,
    );
    expect(response).toMatchObject({ status: 200, body: { success: true } });
    const events = itemsOf(d.stream).map((i) => (i.kind === 'event' ? i.event : null));
    expect(events.map((e) => e?.eventId)).toEqual(['m-1', 'm-2']);
    expect(events[0]?.userHash).toBe(identityHash(HASH_KEY, 'shop', 'user-1'));
    expect(events[0]?.keyVersion).toBe(3);
  });

  it('pseudonymizes a userId and an anonymousId of the same text as two ids', async () => {
    const d = deps();
    await collect(
      request('/v1/batch', {
        batch: [
          track({ userId: 'same', messageId: 'as-user' }),
          track({ userId: undefined, anonymousId: 'same', messageId: 'as-visitor' }),
        ],
      }),
      d,
    );
    const events = itemsOf(d.stream).map((i) => (i.kind === 'event' ? i.event : null));
    expect(events[0]?.userHash).toBe(identityHash(HASH_KEY, 'shop', 'same'));
    expect(events[1]?.anonymousHash).toBe(anonymousHash(HASH_KEY, 'shop', 'same'));
    expect(events[0]?.userHash).not.toBe(events[1]?.anonymousHash);
  });

  it("keeps an alias' previousId as both pseudonyms, and no other event's", async () => {
    const d = deps();
    await collect(
      request('/v1/batch', {
        batch: [
          { type: 'alias', userId: 'ada@example.com', previousId: 'visitor-7', messageId: 'al-1' },
          track({ messageId: 'tr-1', previousId: 'visitor-7' }),
        ],
      }),
      d,
    );
    const [alias, other] = itemsOf(d.stream).map((i) => (i.kind === 'event' ? i.event : null));
    expect(alias?.previousUserHash).toBe(identityHash(HASH_KEY, 'shop', 'visitor-7'));
    expect(alias?.previousAnonymousHash).toBe(anonymousHash(HASH_KEY, 'shop', 'visitor-7'));
    expect(other?.previousUserHash).toBeNull();
    expect(other?.previousAnonymousHash).toBeNull();
  });

  it('takes the write key from the body when there is no Authorization header', async () => {
    const d = deps();
    const req = request('/v1/track', { ...track(), writeKey: WRITE_KEY }, { authorization: '' });
    const { response } = await collect(req, d);
    expect(response.status).toBe(200);
  });

  it('answers 401 for a missing or unknown write key and writes nothing', async () => {
    const d = deps();
    const missing = await collect(request('/v1/track', track(), { authorization: '' }), d);
    const unknown = await collect(
      request('/v1/track', track(), { authorization: `Basic ${Buffer.from('nope:').toString('base64')}` }),
      d,
    );
    expect([missing.response.status, unknown.response.status]).toEqual([401, 401]);
    expect(missing.response.body).toMatchObject({ error: { code: 'unauthorized' } });
    expect(d.stream.written).toHaveLength(0);
  });

  it('answers 413 for a body over 500 KB and writes nothing', async () => {
    const d = deps();
    const big = {
      batch: Array.from({ length: 30 }, (_, i) =>
        track({ messageId: `m${i}`, properties: { pad: 'x'.repeat(20_000) } }),
      ),
    };
    const { response } = await collect(request('/v1/batch', big), d);
    expect(response).toMatchObject({ status: 413, body: { error: { code: 'request_too_large' } } });
    expect(d.stream.written).toHaveLength(0);
  });

  it('answers 413 for a gzip body that inflates past 500 KB (a gzip bomb)', async () => {
    const d = deps();
    const { response } = await collect(gzipRequest('/v1/batch', Buffer.alloc(50 * 1024 * 1024, 0x20)), d);
    expect(response).toMatchObject({ status: 413, body: { error: { code: 'request_too_large' } } });
  });

  it('inflates a gzip body', async () => {
    const d = deps();
    const { response } = await collect(
      gzipRequest('/v1/batch', Buffer.from(JSON.stringify({ batch: [track()] }))),
      d,
    );
    expect(response.status).toBe(200);
    expect(itemsOf(d.stream)).toHaveLength(1);
  });

  it('answers 400 invalid_json with the parser message', async () => {
    const { response } = await collect(request('/v1/batch', '{"batch": [}'), deps());
    expect(response).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect((response.body as { error: { message: string } }).error.message).toContain('not valid JSON');
  });

  it('answers 415 for other content types, naming the one sent', async () => {
    const { response } = await collect(
      request('/v1/track', track(), { 'content-type': 'multipart/form-data; boundary=x' }),
      deps(),
    );
    expect(response.status).toBe(415);
    expect((response.body as { error: { message: string } }).error.message).toContain('multipart/form-data');
  });

  it('accepts text/plain bodies holding JSON (sendBeacon)', async () => {
    const { response } = await collect(
      request('/v1/track', track(), { 'content-type': 'text/plain;charset=UTF-8' }),
      deps(),
    );
    expect(response.status).toBe(200);
  });

  it('answers 503 with Retry-After when the stream refuses past the retry budget', async () => {
    const d = deps(new MemoryStream(() => 'ProvisionedThroughputExceededException'));
    const { response } = await collect(request('/v1/batch', { batch: [track()] }), d);
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body).toMatchObject({ error: { code: 'stream_unavailable' } });
  });

  it('answers 404 for an unknown route and 405 for GET', async () => {
    expect((await collect(request('/v1/nope', {}), deps())).response.status).toBe(404);
    expect((await collect({ ...request('/v1/track', track()), method: 'GET' }, deps())).response.status).toBe(
      405,
    );
  });
});

describe('collect: events inside a valid batch', () => {
  it('hashes the ids of every event, however they repeat or alternate within a batch', async () => {
    // Arrange: the same ids in a row (a browser's batch), then alternating, then new ones.
    const users = ['a', 'a', 'b', 'a', 'c', 'c', 'b'];
    const anons = ['x', 'x', 'x', 'y', 'x', 'z', 'z'];
    const d = deps();
    const batch = users.map((userId, i) => track({ userId, anonymousId: anons[i], messageId: `m-${i}` }));

    // Act
    await collect(request('/v1/batch', { batch }), d);

    // Assert
    const events = itemsOf(d.stream).flatMap((i) => (i.kind === 'event' ? [i.event] : []));
    expect(events.map((e) => e.userHash)).toEqual(users.map((u) => identityHash(HASH_KEY, 'shop', u)));
    expect(events.map((e) => e.anonymousHash)).toEqual(anons.map((a) => anonymousHash(HASH_KEY, 'shop', a)));
  });

  it('turns a 40 KB event into a bad row and accepts the rest', async () => {
    const d = deps();
    const batch = [
      track(),
      track({ messageId: 'big', properties: { pad: 'x'.repeat(40_000) } }),
      track({ messageId: 'm-3' }),
    ];
    const { response } = await collect(request('/v1/batch', { batch }), d);
    expect(response.body).toEqual({
      success: true,
      rejected: [
        {
          index: 1,
          messageId: 'big',
          code: 'size',
          message: expect.stringContaining('over the limit of 32768'),
        },
      ],
      rejectedCount: 1,
    });
    const items = itemsOf(d.stream);
    expect(items.map((i) => (i.kind === 'event' ? i.event.eventId : `bad:${i.badRow.reason}`))).toEqual([
      'm-1',
      'bad:size',
      'm-3',
    ]);
  });

  it.each([
    ['missing_identity', { userId: undefined }],
    ['missing_event_name', { event: '' }],
    ['invalid_type', { type: 'purchase' }],
    ['invalid_timestamp', { timestamp: 'yesterday' }],
    ['invalid_message_id', { messageId: 'x'.repeat(101) }],
    ['invalid_identity', { userId: { id: 1 } }],
  ])('rejects an event with %s', async (code, over) => {
    const d = deps();
    const { response } = await collect(request('/v1/batch', { batch: [track(over)] }), d);
    expect(response.body).toMatchObject({ success: true, rejected: [{ index: 0, code }] });
  });

  it('answers 400 with the reason when the single event of /v1/track is invalid, and keeps it as a bad row', async () => {
    const d = deps();
    const { response } = await collect(request('/v1/track', track({ event: undefined })), d);
    expect(response).toMatchObject({ status: 400, body: { error: { code: 'missing_event_name' } } });
    expect(itemsOf(d.stream)).toMatchObject([{ kind: 'bad', badRow: { reason: 'missing_event_name' } }]);
  });

  it('keeps no raw id, trait or IP in the stream, even in bad rows', async () => {
    const d = deps();
    const secret = 'alice@example.com';
    const batch = [
      track({ userId: secret, context: { ip: '203.0.113.9', traits: { email: secret }, locale: 'en' } }),
      { type: 'identify', userId: secret, traits: { email: secret } },
      track({ userId: secret, event: 42, context: { ip: '203.0.113.9' } }),
    ];
    await collect(request('/v1/batch', { batch }), d);
    const text = JSON.stringify(itemsOf(d.stream), (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    expect(text).not.toContain(secret);
    expect(text).not.toContain('203.0.113.9');
    expect(text).toContain('locale');
  });

  it('generates the same event_id for the same body without messageId', async () => {
    const d = deps();
    const body = { batch: [track({ messageId: undefined, timestamp: '2026-03-10T11:00:00Z' })] };
    await collect(request('/v1/batch', body), d);
    await collect(request('/v1/batch', body), d);
    const ids = itemsOf(d.stream).map((i) => (i.kind === 'event' ? i.event.eventId : ''));
    expect(ids[0]).toMatch(/^gen-[0-9a-f]{32}$/);
    expect(ids[1]).toBe(ids[0]);
  });

  it('corrects clock skew with the batch-level sentAt', async () => {
    const d = deps();
    const body = { sentAt: '2026-03-07T12:00:00Z', batch: [track({ timestamp: '2026-03-07T11:50:00Z' })] };
    await collect(request('/v1/batch', body), d);
    const [item] = itemsOf(d.stream);
    expect(item?.kind === 'event' && item.event.eventTime).toBe(RECEIVED_AT - 10 * 60_000);
  });

  it('clamps a timestamp two days ahead and flags it', async () => {
    const d = deps();
    await collect(request('/v1/batch', { batch: [track({ timestamp: '2026-03-12T12:00:00Z' })] }), d);
    const [item] = itemsOf(d.stream);
    expect(item?.kind === 'event' && [item.event.eventTime, item.event.flags]).toEqual([
      RECEIVED_AT,
      'future_clamped',
    ]);
  });

  it("finds the country of a text context.ip, else of the request's address, and keeps neither address", async () => {
    const d = { ...deps(), countryOf: countryReader(packagedCountryDb()) };
    const bodies = [
      '{"batch":[{"type":"track","event":"a","userId":"u","messageId":"m1","context":{"ip":"81.2.69.160"}}]}',
      '{"batch":[{"type":"track","event":"a","userId":"u","messageId":"m2","context":{"a":{"b":1},"ip":"2a02:8070::1"}}]}',
      '{ "batch": [ { "type": "track", "event": "a", "userId": "u", "messageId": "m3", "context": { "ip" : "81.2.69.160" } } ] }',
      '{"batch":[{"type":"track","event":"a","userId":"u","messageId":"m4","context":{"ip":5}}]}',
      '{"batch":[{"type":"track","event":"a","userId":"u","messageId":"m5"}]}',
      '{"batch":[{"type":"track","event":"a","userId":"u","messageId":"m6","context":{"ip":"not an address"}}]}',
    ];

    for (const body of bodies) await collect({ ...request('/v1/batch', body), sourceIp: '8.8.8.8' }, d);
    await collect(request('/v1/batch', bodies[4]!.replace('m5', 'm7')), d);

    const events = itemsOf(d.stream).flatMap((i) => (i.kind === 'event' ? [i.event] : []));
    expect(events.map((e) => [e.eventId, e.country])).toEqual([
      ['m1', 'GB'],
      ['m2', 'DE'],
      ['m3', 'GB'],
      ['m4', 'US'],
      ['m5', 'US'],
      ['m6', null],
      ['m7', null],
    ]);
    const written = JSON.stringify(events, (_, v) => (typeof v === 'bigint' ? String(v) : v));
    for (const ip of ['81.2.69.160', '2a02:8070::1', '8.8.8.8']) expect(written).not.toContain(ip);
  });

  it('survives hostile JSON: NUL, lone surrogates, 1e309, __proto__, deep nesting', async () => {
    const d = deps();
    let deep = '1';
    for (let i = 0; i < 10_000; i++) deep = `[${deep}]`;
    const body = `{"batch":[
      {"type":"track","userId":"a\\u0000b","event":"E","messageId":"h1","properties":{"__proto__":{"polluted":1},"n":1}},
      {"type":"track","userId":"u","event":"deep","messageId":"h2","properties":{"d":${deep}}},
      {"type":"track","userId":"u","event":"\\ud800","messageId":"h3"},
      {"type":"track","userId":"u","event":"E","messageId":"h4","properties":{"n":1e309}}
    ]}`;
    const { response } = await collect(request('/v1/batch', body), d);
    expect(response.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const items = itemsOf(d.stream);
    expect(items[0]).toMatchObject({
      kind: 'event',
      event: { eventId: 'h1', properties: '{"__proto__":{"polluted":1},"n":1}' },
    });
    expect(items.slice(1)).toMatchObject([
      { kind: 'bad', badRow: { reason: 'too_deep' } },
      { kind: 'bad', badRow: { reason: 'invalid_text', message: expect.stringContaining('event') } },
      { kind: 'bad', badRow: { reason: 'invalid_number', message: expect.stringContaining('properties.n') } },
    ]);
  });
});

describe('collect: what a request logs', () => {
  it('writes a line only for a request refused, or with events refused, and counts every one', async () => {
    // Arrange
    const lines: Array<[string, string, unknown]> = [];
    const logger = {
      info: (m: string, f?: unknown) => lines.push(['info', m, f]),
      warn: (m: string, f?: unknown) => lines.push(['warn', m, f]),
      error: (m: string, f?: unknown) => lines.push(['error', m, f]),
    };
    const counts: number[] = [];
    const count = (c: { status: number }) => counts.push(c.status);

    // Act
    await answerCollect(request('/v1/batch', { batch: [track()] }), deps(), logger, count);
    const afterAccepted = lines.length;
    await answerCollect(request('/v1/batch', { batch: [track(), { type: 'nope' }] }), deps(), logger, count);
    await answerCollect(request('/v1/batch', '{'), deps(), logger, count);

    // Assert
    expect(afterAccepted).toBe(0);
    expect(lines.map(([level, , fields]) => [level, (fields as { status: number }).status])).toEqual([
      ['warn', 200],
      ['warn', 400],
    ]);
    expect(counts).toEqual([200, 200, 400]);
  });
});
