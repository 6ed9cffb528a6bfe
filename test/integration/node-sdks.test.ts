import { join } from 'node:path';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utcDate } from '../../lib/events.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { kafkaMissing } from '../../local/kafka-broker.js';
import type { Pipeline } from '../../local/pipeline.js';
import { startContainerFront } from '../helpers/container.js';
import type { LakeRow } from '../helpers/duckdb.js';
import { expectedHash, waitForRows } from '../helpers/lake.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

let started: TestPipeline;
let pipeline: Pipeline;
let container: Awaited<ReturnType<typeof startContainerFront>>;
/** The same pipeline on a Kafka topic (null where no broker can run: reported, and required in CI). */
let onKafka: TestPipeline | null = null;

beforeAll(async () => {
  started = await startTestPipeline('node-sdks');
  ({ pipeline } = started);
  container = await startContainerFront(pipeline.collectDeps);
  const missing = kafkaMissing();
  if (missing && process.env.TALLY_REQUIRE_KAFKA)
    throw new Error(`a Kafka broker is required here: ${missing}`);
  if (missing) console.warn(`no Kafka broker here, the SDKs are not run through Kafka: ${missing}`);
  else onKafka = await startTestPipeline('node-sdks-kafka', { kafka: {} });
}, 120_000);
afterAll(async () => {
  await container?.close();
  await started?.close();
  await onKafka?.close();
});

/** Where an SDK sends, with the write key, lake and HMAC key of the pipeline behind it. */
interface Target {
  url: string;
  writeKey: string;
  lake: FsObjectStore;
  secret: Buffer;
}

function targetOf(test: TestPipeline, url: string): Target {
  return {
    url,
    writeKey: test.pipeline.writeKeys.default!,
    lake: new FsObjectStore(join(test.dataDir, 'lake')),
    secret: test.secret,
  };
}

const fronts: Array<[string, () => Target | null]> = [
  ['npm start', () => targetOf(started, pipeline.url)],
  ['the collector container', () => targetOf(started, container.url)],
  ['npm start on a Kafka topic', () => (onKafka ? targetOf(onKafka, onKafka.pipeline.url) : null)],
];

const SIX_TYPES = ['alias', 'group', 'identify', 'page', 'screen', 'track'];

let users = 0;
function userOf(name: string, secret: Buffer) {
  const userId = `${name}-${++users}-${Date.now()}`;
  const aliasId = `${userId}-new`;
  const hashes = new Set([expectedHash(secret, 'default', userId), expectedHash(secret, 'default', aliasId)]);
  return { userId, aliasId, match: (r: LakeRow) => r.user_hash !== null && hashes.has(r.user_hash) };
}

describe.each(fronts)('the Node SDKs with their default options, through %s', (_, targetNow) => {
  it('@rudderstack/rudder-sdk-node (gzip labelled as a form) delivers six events of six types', async (ctx) => {
    // Arrange
    const target = targetNow();
    if (!target) return ctx.skip();
    const rudder = new RudderAnalytics(target.writeKey, {
      dataPlaneUrl: target.url,
      logLevel: 'error',
    });
    const { userId, aliasId, match } = userOf('rudder-node', target.secret);
    const sentFrom = Date.now();

    // Act
    rudder.identify({ userId, traits: { email: 'grace@example.com' } });
    rudder.track({ userId, event: 'Order Completed', properties: { total: 30 } });
    rudder.page({ userId, name: 'Pricing', properties: { plan: 'pro' } });
    rudder.screen({ userId, name: 'Home' });
    rudder.group({ userId, groupId: 'acme', traits: { name: 'Acme' } });
    rudder.alias({ userId: aliasId, previousId: userId });
    await rudder.flush();
    const rows = await waitForRows(target.lake, match, 6);

    // Assert
    expect(rows.map((r) => r.type).sort()).toEqual(SIX_TYPES);
    for (const r of rows) {
      expect(r.event_time_ms).toBeGreaterThanOrEqual(sentFrom - 5_000);
      expect(r.dt).toBe(utcDate(r.event_time_ms));
      expect(r.channel).toBe('server');
    }
    expect(JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(
      'grace@example.com',
    );
  });

  it('@rudderstack/rudder-sdk-node: an event queued three days ago lands on its own day', async (ctx) => {
    // Arrange: RudderStack stamps originalTimestamp when the call is made; sentAt when it is sent.
    const target = targetNow();
    if (!target) return ctx.skip();
    const rudder = new RudderAnalytics(target.writeKey, {
      dataPlaneUrl: target.url,
      logLevel: 'error',
    });
    const { userId, match } = userOf('rudder-offline', target.secret);
    const queuedAt = new Date(Date.now() - 3 * 86_400_000);

    // Act
    // The library keeps an originalTimestamp it is given (its types do not list it).
    rudder.track({ userId, event: 'Offline Read', ...({ originalTimestamp: queuedAt } as object) });
    await rudder.flush();
    const [row] = await waitForRows(target.lake, match, 1);

    // Assert
    expect(Math.abs(row!.event_time_ms - queuedAt.getTime())).toBeLessThan(5_000);
    expect(row!.dt).toBe(utcDate(queuedAt.getTime()));
  });

  it('@segment/analytics-node delivers six events of six types', async (ctx) => {
    // Arrange
    const target = targetNow();
    if (!target) return ctx.skip();
    const analytics = new Analytics({ writeKey: target.writeKey, host: target.url });
    const { userId, aliasId, match } = userOf('segment-node', target.secret);

    // Act
    analytics.identify({ userId, traits: { email: 'grace@example.com' } });
    // A server-side caller may give the person's address: only its country is kept.
    analytics.track({ userId, event: 'Order Completed', context: { ip: '81.2.69.160' } });
    analytics.page({ userId, name: 'Pricing' });
    analytics.screen({ userId, name: 'Home' });
    analytics.group({ userId, groupId: 'acme' });
    analytics.alias({ userId: aliasId, previousId: userId });
    await analytics.closeAndFlush({ timeout: 20_000 });
    const rows = await waitForRows(target.lake, match, 6);

    // Assert
    expect(rows.map((r) => r.type).sort()).toEqual(SIX_TYPES);
    for (const r of rows) expect(r.dt).toBe(utcDate(r.event_time_ms));
    // A server library: platform `server`, no user agent (so no browser and no bot verdict);
    // the country of the address given, the others' of loopback (none).
    expect(
      new Set(rows.map((r) => JSON.stringify([r.platform, r.library, r.browser, r.bot, r.country]))),
    ).toEqual(
      new Set([
        JSON.stringify(['server', '@segment/analytics-node', null, null, null]),
        JSON.stringify(['server', '@segment/analytics-node', null, null, 'GB']),
      ]),
    );
    expect(rows.find((r) => r.type === 'track')?.country).toBe('GB');
    expect(JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(
      '81.2.69.160',
    );
  });
});
