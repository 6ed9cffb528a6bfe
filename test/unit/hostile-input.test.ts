import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createCollectHandler } from '../../lambdas/collect/handler.js';
import { MAX_REJECTIONS_LISTED } from '../../lib/ingest/collect.js';
import { silentLogger } from '../../lib/log.js';
import { recordText } from '../../lib/stream/codec.js';
import { dayNumber } from '../../lib/warehouse/days.js';
import { collect, deps, itemsOf, request, track, WRITE_KEY } from '../helpers/collect.js';

/** Everything the stream received, as the text inside its records. */
function streamText(d: ReturnType<typeof deps>): string {
  return d.stream.written.map((e) => recordText(e.data)).join('\n');
}

function outcomes(d: ReturnType<typeof deps>): string[] {
  return itemsOf(d.stream).map((i) =>
    i.kind === 'event' ? `ok:${i.event.eventId}` : `bad:${i.badRow.reason}`,
  );
}

describe('generated messageIds', () => {
  it('are keyed: the same body gives the same id under one key, another id under another', async () => {
    // Arrange
    const event = { type: 'track', userId: 'alice@example.com', event: 'Viewed' };
    const one = deps();
    const again = deps();
    const otherKey = { ...deps(), hashKey: { version: 1, secret: Buffer.alloc(32, 9) } };

    // Act
    for (const d of [one, again, otherKey]) await collect(request('/v1/track', event), d);
    const [a, b, c] = [one, again, otherKey].map((d) => itemsOf(d.stream)[0]);

    // Assert
    const id = (x: typeof a) => (x?.kind === 'event' ? x.event.eventId : null);
    expect(id(a)).toMatch(/^gen-[0-9a-f]{32}$/);
    expect(id(a)).toBe(id(b));
    expect(id(c)).not.toBe(id(a));
  });

  it('cannot be recomputed from a guessed event without the key', async () => {
    // Arrange: what someone holding the lake would try: hash the guessed raw event.
    const event = { type: 'track', userId: 'alice@example.com', event: 'Viewed' };
    const d = deps();
    const guess = (text: string) => `gen-${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;

    // Act
    await collect(request('/v1/track', event), d);

    // Assert
    const [item] = itemsOf(d.stream);
    const eventId = item?.kind === 'event' ? item.event.eventId : '';
    for (const text of [
      `shop\0${JSON.stringify(event)}`,
      JSON.stringify(event),
      `shop\0m\0${JSON.stringify(event)}`,
    ]) {
      expect(eventId).not.toBe(guess(text));
    }
  });
});

describe('redaction of identities in every shape', () => {
  it.each([
    [
      'an array of objects',
      [{ ip: '203.0.113.77', traits: { phone: '+1-202-555-0147', email: 'bob@example.com' } }],
    ],
    ['a string', 'ip=203.0.113.77 phone=+1-202-555-0147 email=bob@example.com'],
    ['a number-keyed object in an array', [[{ '0': '203.0.113.77 +1-202-555-0147 bob@example.com' }]]],
  ])(
    'keeps no IP, phone or email of a context that is %s, in the stream or the answer',
    async (_, context) => {
      // Arrange
      const d = deps();

      // Act
      const { response } = await collect(request('/v1/batch', { batch: [track({ context })] }), d);

      // Assert
      expect(outcomes(d)).toEqual(['bad:invalid_context']);
      const written = `${streamText(d)}\n${JSON.stringify(response.body)}`;
      for (const secret of ['203.0.113.77', '202-555-0147', 'bob@example.com'])
        expect(written).not.toContain(secret);
    },
  );

  it('keeps no trait of any shape in a bad row', async () => {
    const d = deps();
    await collect(request('/v1/batch', { batch: [track({ event: 7, traits: ['bob@example.com'] })] }), d);
    expect(outcomes(d)).toEqual(['bad:missing_event_name']);
    expect(streamText(d)).not.toContain('bob@example.com');
  });
});

describe('text every reader can read', () => {
  it.each([
    ['a property value', { properties: { k: '\udfff' } }, 'properties.k'],
    ['a property name', { properties: { 'a\ud800': 1 } }, 'properties.a'],
    ['a context value', { context: { page: { title: 'x\ud83d' } } }, 'context.page.title'],
    ['the event name', { event: 'E\ud800' }, 'event'],
    ['the userId', { userId: '\ud800' }, 'userId'],
    ['the messageId', { messageId: 'm-\udc00' }, 'messageId'],
  ])('refuses a lone surrogate in %s as invalid_text, naming where', async (_, over, where) => {
    const d = deps();
    await collect(request('/v1/batch', { batch: [track(over)] }), d);
    const [item] = itemsOf(d.stream);
    expect(item).toMatchObject({ kind: 'bad', badRow: { reason: 'invalid_text' } });
    expect(item?.kind === 'bad' && item.badRow.message).toContain(where);
  });

  it.each([
    ['the user agent', { userAgent: 'Mozilla/5.0 \ud800' }, 'user_agent_ignored'],
    ['a campaign source', { campaign: { source: 'news\udfff', name: 'spring' } }, 'utm_source_ignored'],
    ['the app version', { app: { version: '\ud83d1.2' } }, 'app_version_ignored'],
  ])(
    'leaves out only %s when it holds a lone surrogate, flagged, and accepts the event',
    async (_, context, flag) => {
      // Arrange: a single-event route, where refusing the event would refuse the whole request.
      const d = deps();
      const sent = { ...track({ messageId: 'm-ua' }), context: { ...context, locale: 'en-GB' } };

      // Act
      const { response } = await collect(request('/v1/track', sent), d);

      // Assert
      expect(response.status).toBe(200);
      const [item] = itemsOf(d.stream);
      if (item?.kind !== 'event')
        throw new Error(`expected an event, got ${JSON.stringify(item).slice(0, 200)}`);
      expect(item.event.flags).toBe(flag);
      const kept = JSON.parse(item.event.context!) as Record<string, unknown>;
      expect(kept.locale).toBe('en-GB');
      expect(item.event.context!.isWellFormed()).toBe(true);
      expect(item.event.context).not.toMatch(/\\u[dD][89a-fA-F]/);
      if ('campaign' in context) expect(kept.campaign).toEqual({ name: 'spring' });
    },
  );

  it('keeps ids that differ only in lone surrogates apart: both refused, none merged', async () => {
    const d = deps();
    const batch = ['\ud800', '\udc00', '\ufffd'].map((u, i) => track({ userId: u, messageId: `m-${i}` }));
    await collect(request('/v1/batch', { batch }), d);
    expect(outcomes(d)).toEqual(['bad:invalid_text', 'bad:invalid_text', 'ok:m-2']);
  });

  it('writes bad rows whose event_id, message and excerpt are well-formed, never half a pair', async () => {
    // Arrange: 99 ASCII characters and an emoji: a cut at 100 UTF-16 units would halve it.
    const d = deps();
    const messageId = `${'x'.repeat(99)}😀\ud800`;

    // Act
    await collect(request('/v1/batch', { batch: [track({ messageId })] }), d);

    // Assert
    const [item] = itemsOf(d.stream);
    if (item?.kind !== 'bad') throw new Error('expected a bad row');
    expect(item.badRow.eventId).toBe(`${'x'.repeat(99)}😀`);
    for (const text of [item.badRow.eventId ?? '', item.badRow.message, item.badRow.payload ?? '']) {
      expect(text.isWellFormed()).toBe(true);
    }
  });
});

describe('numbers kept or refused exactly', () => {
  it('refuses numeric userIds beyond 2^53 instead of merging them', async () => {
    const d = deps();
    const body = `{"batch":[${[
      '123456789012345678901234567890',
      '123456789012345678901234567891',
      '9007199254740991',
    ]
      .map((n, i) => `{"type":"track","event":"E","messageId":"m-${i}","userId":${n}}`)
      .join(',')}]}`;
    await collect(request('/v1/batch', body), d);
    expect(outcomes(d)).toEqual(['bad:invalid_number', 'bad:invalid_number', 'ok:m-2']);
  });

  it('refuses 1e400 in properties instead of storing null', async () => {
    const d = deps();
    await collect(
      request(
        '/v1/batch',
        '{"batch":[{"type":"track","userId":"u","event":"E","properties":{"big":1e400}}]}',
      ),
      d,
    );
    const [item] = itemsOf(d.stream);
    expect(item).toMatchObject({ kind: 'bad', badRow: { reason: 'invalid_number' } });
    expect(item?.kind === 'bad' && item.badRow.message).toContain('properties.big');
  });

  it('refuses a number too small for a double, and keeps exponents a double holds', async () => {
    // Arrange
    const d = deps();
    const body = `{"batch":[
      {"type":"track","userId":"u","event":"E","messageId":"m-0","properties":{"tiny":1e-400}},
      {"type":"track","userId":"u","event":"E","messageId":"m-1","properties":{"big":1E5,"small":25e-1}}
    ]}`;

    // Act
    const { response } = await collect(request('/v1/batch', body), d);

    // Assert
    expect(outcomes(d)).toEqual(['bad:invalid_number', 'ok:m-1']);
    expect(JSON.stringify(response.body)).toContain('the number 1e-400');
    const kept = itemsOf(d.stream).find((i) => i.kind === 'event');
    expect(kept?.kind === 'event' && JSON.parse(kept.event.properties!)).toEqual({ big: 100000, small: 2.5 });
  });

  it('refuses the same numbers when the body scan gives up (nesting deeper than any event may hold)', async () => {
    // Arrange: the too-deep event sends the numbers to the slower token-by-token scan.
    const d = deps();
    const deep = `${'['.repeat(80)}${']'.repeat(80)}`;
    const body = `{"batch":[
      {"type":"track","userId":"u","event":"E","messageId":"m-0","properties":{"tiny":1e-400}},
      {"type":"track","userId":"u","event":"E","messageId":"m-1","properties":{"deep":${deep}}},
      {"type":"track","userId":"u","event":"E","messageId":"m-2","properties":{"big":1E5,"huge":1e400}}
    ]}`;

    // Act
    await collect(request('/v1/batch', body), d);

    // Assert: the infinity gets the validator's own message, as on the fast path.
    expect(outcomes(d)).toEqual(['bad:invalid_number', 'bad:too_deep', 'bad:invalid_number']);
    const bad = itemsOf(d.stream).flatMap((i) => (i.kind === 'bad' ? [i.badRow.message] : []));
    expect(bad[0]).toContain('the number 1e-400');
    expect(bad[2]).toContain('read as infinity');
  });

  it('refuses only the events of a batch holding numbers with more digits than a double keeps', async () => {
    // Arrange: digits inside strings are text, not numbers, and stay.
    const d = deps();
    const body = `{"batch":[
      {"type":"track","userId":"u","event":"E","messageId":"m-0","properties":{"id":"12345678901234567890"}},
      {"type":"track","userId":"u","event":"E","messageId":"m-1","properties":{"order":12345678901234567890}},
      {"type":"track","userId":"u","event":"E","messageId":"m-2","properties":{"p":{"q":[1, 0.12345678901234567891]}}},
      {"type":"track","userId":"u","event":"E","messageId":"m-3","properties":{"big":1e300,"max":9007199254740992,"pi":3.141592653589793}}
    ]}`;

    // Act
    const { response } = await collect(request('/v1/batch', body), d);

    // Assert
    expect(outcomes(d)).toEqual(['ok:m-0', 'bad:invalid_number', 'bad:invalid_number', 'ok:m-3']);
    expect(JSON.stringify(response.body)).toContain(
      '12345678901234567890, which a JSON number (a 64-bit double) does not keep exactly',
    );
  });

  it('refuses every event of a batch whose own context holds such a number (it would be merged into each)', async () => {
    const d = deps();
    const body = `{"context":{"n":123456789012345678901},"batch":[{"type":"track","userId":"u","event":"E","messageId":"m-0"}]}`;
    await collect(request('/v1/batch', body), d);
    expect(outcomes(d)).toEqual(['bad:invalid_number']);
  });

  it('keeps safe integers and decimals as sent', async () => {
    const d = deps();
    const body =
      '{"type":"track","userId":"u","event":"E","properties":{"a":9007199254740991,"b":-0.5,"c":1e-7}}';
    await collect(request('/v1/track', body), d);
    const [item] = itemsOf(d.stream);
    expect(item?.kind === 'event' && JSON.parse(item.event.properties ?? '')).toEqual({
      a: 9007199254740991,
      b: -0.5,
      c: 1e-7,
    });
  });
});

describe('limits counted as the README states them', () => {
  it('takes a messageId of 100 emoji, refuses 101, counting characters', async () => {
    const d = deps();
    const batch = [track({ messageId: '😀'.repeat(100) }), track({ messageId: '😀'.repeat(101) })];
    const { response } = await collect(request('/v1/batch', { batch }), d);
    expect(outcomes(d)).toEqual([`ok:${'😀'.repeat(100)}`, 'bad:invalid_message_id']);
    expect(JSON.stringify(response.body)).toContain('messageId is 101 characters');
  });
});

describe('bounded answers', () => {
  it(`lists the first ${MAX_REJECTIONS_LISTED} rejections and counts them all, keeping every bad row`, async () => {
    // Arrange
    const d = deps();
    const batch = Array.from({ length: 5_000 }, () => 0);

    // Act
    const { response } = await collect(request('/v1/batch', { batch }), d);

    // Assert
    const body = response.body as { rejected: unknown[]; rejectedCount: number };
    expect(body.rejected).toHaveLength(MAX_REJECTIONS_LISTED);
    expect(body.rejectedCount).toBe(5_000);
    expect(itemsOf(d.stream).filter((i) => i.kind === 'bad')).toHaveLength(5_000);
  });
});

describe('Lambda events that are not quite API Gateway', () => {
  const base = (over: Partial<APIGatewayProxyEventV2['requestContext']> = {}): APIGatewayProxyEventV2 =>
    ({
      rawPath: '/v1/track',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
      },
      body: JSON.stringify(track()),
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/v1/track' }, ...over },
    }) as unknown as APIGatewayProxyEventV2;

  it('stamps an event without requestContext.timeEpoch with the time it arrived', async () => {
    const d = deps();
    const before = Date.now();
    const result = await createCollectHandler(d, silentLogger)(base());
    expect(result.statusCode).toBe(200);
    const [item] = itemsOf(d.stream);
    expect(item?.kind === 'event' && item.event.receivedAt).toBeGreaterThanOrEqual(before);
  });

  it('answers 400 invalid_request to an event without a method or path', async () => {
    const d = deps();
    const noHttp = { ...base(), requestContext: {} } as unknown as APIGatewayProxyEventV2;
    const result = await createCollectHandler(d, silentLogger)(noHttp);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(String(result.body))).toMatchObject({ error: { code: 'invalid_request' } });
    expect(d.stream.written).toHaveLength(0);
  });

  it.each([42, { batch: [] }, ['x'], true])(
    'answers 400 invalid_request, never a TypeError, to a body of %j',
    async (body) => {
      const d = deps();
      const odd = { ...base(), body } as unknown as APIGatewayProxyEventV2;
      const result = await createCollectHandler(d, silentLogger)(odd);
      expect(result.statusCode).toBe(400);
      expect(JSON.parse(String(result.body))).toMatchObject({ error: { code: 'invalid_request' } });
      expect(d.stream.written).toHaveLength(0);
    },
  );
});

describe('dates of the first century', () => {
  it('reads years 0-99 as themselves, not 1900-1999', () => {
    expect(dayNumber('0099-12-17')).toBeLessThan(dayNumber('0100-01-15'));
    expect(dayNumber('0099-12-17')).toBeLessThan(dayNumber('1970-01-01'));
  });
});
