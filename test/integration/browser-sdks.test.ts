import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollectHandler } from '../../lambdas/collect/handler.js';
import { utcDate } from '../../lib/events.js';
import { parseCorsPolicy } from '../../lib/ingest/cors.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { silentLogger } from '../../lib/log.js';
import { kafkaMissing } from '../../local/kafka-broker.js';
import type { Pipeline } from '../../local/pipeline.js';
import { serveHandler } from '../../local/server.js';
import {
  bundleBrowserSdks,
  launchChromium,
  type PageTrouble,
  serveSite,
  watchPage,
} from '../helpers/browser.js';
import { synth } from '../helpers/cdk.js';
import { startContainerFront } from '../helpers/container.js';
import type { LakeRow } from '../helpers/duckdb.js';
import { environmentOf, httpApiStandIn } from '../helpers/http-api-standin.js';
import { expectedHash, waitForRows } from '../helpers/lake.js';
import { startKafkaTwin, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

/**
 * The browser SDKs, unchanged and with their default options, in headless Chromium on a page of
 * another origin than the collector: once through `npm start`'s server, once through a stand-in
 * of the HTTP API exactly as the synthesized CDK template declares its routes and CORS.
 */

let started: TestPipeline;
let dataDir: string;
let pipeline: Pipeline;
let browser: Browser;
let site: { origin: string; close(): Promise<void> };
let standIn: { url: string; close(): Promise<void> };
let container: Awaited<ReturnType<typeof startContainerFront>>;
let secret: Buffer;
let runs = 0;
/** The same pipeline on a Kafka topic (none where no broker can run: reported, and required in CI). */
let onKafka: TestPipeline | null = null;
const kafka = kafkaMissing();

beforeAll(async () => {
  started = await startTestPipeline('browser');
  ({ dataDir, pipeline, secret } = started);
  const { template } = synth();
  const cors = parseCorsPolicy(environmentOf(template, 'Collect').TALLY_ALLOWED_ORIGINS);
  const collect = createCollectHandler({ ...pipeline.collectDeps, cors }, silentLogger);
  standIn = await serveHandler(httpApiStandIn(template, { Collect: collect }), 0);
  container = await startContainerFront({ ...pipeline.collectDeps, cors });
  site = await serveSite(await bundleBrowserSdks());
  browser = await launchChromium();
  if (kafka && process.env.TALLY_REQUIRE_KAFKA) throw new Error(`a Kafka broker is required here: ${kafka}`);
  if (kafka) console.warn(`no Kafka broker here, the browser SDKs are not run through Kafka: ${kafka}`);
  else onKafka = await startKafkaTwin(started, 'browser-kafka');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await standIn?.close();
  await container?.close();
  await started?.close();
  await onKafka?.close();
});

/** A fresh page of the site, and what goes wrong on it. */
async function openSite(collectorUrl: string, userAgent?: string) {
  const context = await browser.newContext(userAgent === undefined ? {} : { userAgent });
  const page = await context.newPage();
  const trouble = watchPage(page, collectorUrl);
  await page.goto(`${site.origin}/`);
  return { page, trouble, close: () => context.close() };
}

/** A user id no other test uses, and the hashes its events carry (the alias adds a second id). */
function newUser() {
  const userId = `browser-user-${++runs}-${Date.now()}`;
  const aliasId = `${userId}-new`;
  const hashes = new Set([expectedHash(secret, 'default', userId), expectedHash(secret, 'default', aliasId)]);
  return { userId, aliasId, match: (r: LakeRow) => r.user_hash !== null && hashes.has(r.user_hash) };
}

/** The checks every delivery ends with: the events in the lake, typed, on their UTC day, nothing refused. */
function expectDelivered(
  rows: LakeRow[],
  types: string[],
  sentFrom: number,
  trouble: PageTrouble,
  /** The sender put the browser's user agent in the context, as the SDKs do (a bare beacon does not). */
  sdk = true,
): void {
  expect(trouble.failedRequests).toEqual([]);
  const byId = new Map(rows.map((r) => [r.event_id, r]));
  const delivered = [...byId.values()];
  expect(delivered.map((r) => r.type).sort()).toEqual([...types].sort());
  for (const r of delivered) {
    expect(r.event_time_ms).toBeGreaterThanOrEqual(sentFrom - 5_000);
    expect(r.event_time_ms).toBeLessThanOrEqual(Date.now());
    expect(r.dt).toBe(utcDate(r.event_time_ms));
    expect(r.user_hash).not.toBeNull();
  }
  expect(delivered.filter((r) => r.type === 'track').map((r) => r.event)).toContain('Order Completed');
  expect(delivered.find((r) => r.type === 'page')?.event).toBe('Pricing');
  // Headless Chromium says so in its user agent: flagged a bot (kept, counted nowhere). Loopback
  // has no country. Without a user agent in the context nothing is derived (the request's own
  // User-Agent header is not read: a server library's would be taken for a bot).
  const agent = sdk ? ['web', 'Chrome', 'Linux', true, null] : [null, null, null, null, null];
  expect(
    new Set(delivered.map((r) => JSON.stringify([r.platform, r.browser, r.os, r.bot, r.country]))),
  ).toEqual(new Set([JSON.stringify(agent)]));
  // Traits (an email here) never reach the lake.
  expect(JSON.stringify(delivered, (_, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(
    'ada@example.com',
  );
}

/** The pipeline behind a collector: the Kafka twin for its URL, else `npm start`'s. */
const behind = (collectorUrl: string): Pipeline =>
  onKafka && collectorUrl === onKafka.pipeline.url ? onKafka.pipeline : pipeline;

/** Today's DAU per value of each dimension, from the metrics API of the pipeline behind a collector. */
async function todayBy<D extends string>(
  dimensions: D[],
  collectorUrl: string,
): Promise<Record<D, Record<string, number>>> {
  const today = utcDate(Date.now());
  const out = {} as Record<D, Record<string, number>>;
  for (const by of dimensions) {
    const response = await fetch(
      `${behind(collectorUrl).url}/v1/projects/default/active-users?from=${today}&to=${today}&by=${by}&limit=100`,
      { headers: { authorization: `Bearer ${pipeline.readKeys.default}` } },
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      breakdown: { values: Array<{ value: string | null; days: Array<{ dau: number }> }> };
    };
    out[by] = Object.fromEntries(body.breakdown.values.map((v) => [String(v.value), v.days[0]!.dau]));
  }
  return out;
}

const SIX_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'];
/** The lake behind a collector: the Kafka twin's for its URL, else the pipeline's. */
const lake = (collectorUrl: string) =>
  new FsObjectStore(
    join(onKafka && collectorUrl === onKafka.pipeline.url ? onKafka.dataDir : dataDir, 'lake'),
  );

const fronts: Array<[string, () => string]> = [
  ['npm start', () => pipeline.url],
  ['the HTTP API of the synthesized template', () => standIn.url],
  ['the collector container', () => container.url],
  ...(kafka ? [] : [['npm start on a Kafka topic', () => onKafka!.pipeline.url] as [string, () => string]]),
];

describe.each(fronts)('browser SDKs through %s', (_, collectorUrl) => {
  it.each([
    ['standard', false],
    ['batching', true],
  ])('@segment/analytics-next (%s delivery) delivers six events of six types', async (_, batching) => {
    // Arrange
    const url = collectorUrl();
    const user = newUser();
    const { page, trouble, close } = await openSite(url);
    const sentFrom = Date.now();

    // Act
    await page.evaluate(
      async ({ writeKey, apiHost, batching, userId, aliasId }) => {
        const segment = {
          apiKey: writeKey,
          apiHost,
          protocol: 'http',
          ...(batching
            ? { deliveryStrategy: { strategy: 'batching', config: { size: 6, timeout: 500 } } }
            : {}),
        };
        // biome-ignore lint/suspicious/noExplicitAny: the SDK's global, set by the bundle
        const [analytics] = await (window as any).AnalyticsBrowser.load({
          writeKey,
          cdnSettings: { integrations: { 'Segment.io': segment } },
        });
        await analytics.identify(userId, { email: 'ada@example.com' });
        await analytics.track('Order Completed', { total: 30 });
        await analytics.page('Docs', 'Pricing', { plan: 'pro' });
        await analytics.screen('Home');
        await analytics.group('acme', { name: 'Acme' });
        await analytics.alias(aliasId, userId);
      },
      {
        writeKey: pipeline.writeKeys.default!,
        apiHost: `${new URL(url).host}/v1`,
        batching,
        userId: user.userId,
        aliasId: user.aliasId,
      },
    );
    const rows = await waitForRows(lake(collectorUrl()), user.match, 6);
    await close();

    // Assert
    expectDelivered(rows, SIX_TYPES, sentFrom, trouble);
    const routes = batching ? ['POST /v1/b'] : ['t', 'i', 'p', 's', 'g', 'a'].map((r) => `POST /v1/${r}`);
    expect(new Set(trouble.sent)).toEqual(new Set(routes));
  });

  it("@segment/analytics-next in a person's desktop browser: platform, browser, OS, device and the country of context.ip, no bot", async () => {
    // Arrange: a desktop Chrome's user agent, as a person's browser sends it.
    const url = collectorUrl();
    const user = newUser();
    const desktop =
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
    const { page, close } = await openSite(url, desktop);
    const before = await todayBy(['browser', 'country', 'platform'], url);

    // Act: one event with the address a server-side caller would give, one without.
    await page.evaluate(
      async ({ writeKey, apiHost, userId }) => {
        // biome-ignore lint/suspicious/noExplicitAny: the SDK's global, set by the bundle
        const [analytics] = await (window as any).AnalyticsBrowser.load({
          writeKey,
          cdnSettings: { integrations: { 'Segment.io': { apiKey: writeKey, apiHost, protocol: 'http' } } },
        });
        await analytics.identify(userId);
        await analytics.track('Order Completed', { total: 30 }, { context: { ip: '81.2.69.160' } });
      },
      { writeKey: pipeline.writeKeys.default!, apiHost: `${new URL(url).host}/v1`, userId: user.userId },
    );
    const rows = await waitForRows(lake(collectorUrl()), user.match, 2);
    await close();

    // Assert
    const columns = rows
      .map((r) => [r.type, r.platform, r.browser, r.os, r.device_type, r.library, r.bot, r.country])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(columns).toEqual([
      ['identify', 'web', 'Chrome', 'Windows', 'desktop', 'analytics.js', false, null],
      ['track', 'web', 'Chrome', 'Windows', 'desktop', 'analytics.js', false, 'GB'],
    ]);
    // The API's breakdowns (what the dashboard shows) count this person once more in each.
    await behind(url).warehouse!.rollupNow();
    const after = await todayBy(['browser', 'country', 'platform'], url);
    expect(after.browser.Chrome).toBe((before.browser.Chrome ?? 0) + 1);
    expect(after.country.GB).toBe((before.country.GB ?? 0) + 1);
    expect(after.platform.web).toBe((before.platform.web ?? 0) + 1);
  });

  it('@segment/analytics-next with only cdnURL set to Tally loads its settings there and delivers', async () => {
    // Arrange
    const url = collectorUrl();
    const user = newUser();
    const { page, trouble, close } = await openSite(url);
    const sentFrom = Date.now();

    // Act
    await page.evaluate(
      async ({ writeKey, url, userId, aliasId }) => {
        // biome-ignore lint/suspicious/noExplicitAny: the SDK's global, set by the bundle
        const [analytics] = await (window as any).AnalyticsBrowser.load({ writeKey, cdnURL: url });
        await analytics.identify(userId, { email: 'ada@example.com' });
        await analytics.track('Order Completed');
        await analytics.page('Docs', 'Pricing');
        await analytics.screen('Home');
        await analytics.group('acme');
        await analytics.alias(aliasId, userId);
      },
      { writeKey: pipeline.writeKeys.default!, url, userId: user.userId, aliasId: user.aliasId },
    );
    const rows = await waitForRows(lake(collectorUrl()), user.match, 6);
    await close();

    // Assert
    expectDelivered(rows, SIX_TYPES, sentFrom, trouble);
    expect(trouble.sent).toContain(`GET /v1/projects/${pipeline.writeKeys.default}/settings`);
  });

  it.each([
    ['XHR', false],
    ['beacon', true],
  ])('@rudderstack/analytics-js (%s) delivers six events of its five types', async (_, useBeacon) => {
    // Arrange
    const url = collectorUrl();
    const user = newUser();
    const { page, trouble, close } = await openSite(url);
    const sentFrom = Date.now();

    // Act
    await page.evaluate(
      async ({ writeKey, url, useBeacon, userId, aliasId }) => {
        // biome-ignore lint/suspicious/noExplicitAny: the SDK's global, set by the bundle
        const rudder = new (window as any).RudderAnalytics();
        await new Promise<void>((resolve) => {
          rudder.load(writeKey, url, {
            configUrl: `${url}/sourceConfig`,
            useBeacon,
            beaconQueueOptions: { flushQueueInterval: 500 },
            onLoaded: () => resolve(),
          });
        });
        rudder.identify(userId, { email: 'ada@example.com' });
        rudder.track('Order Completed', { total: 30 });
        rudder.page('Docs', 'Pricing', { plan: 'pro' });
        rudder.group('acme', { name: 'Acme' });
        rudder.track('Checkout Started');
        rudder.alias(aliasId, userId);
      },
      { writeKey: pipeline.writeKeys.default!, url, useBeacon, userId: user.userId, aliasId: user.aliasId },
    );
    const rows = await waitForRows(lake(collectorUrl()), user.match, 6);
    await close();

    // Assert
    expectDelivered(rows, ['identify', 'track', 'page', 'group', 'track', 'alias'], sentFrom, trouble);
    expect(new Set(rows.map((r) => r.channel))).toEqual(new Set(['web']));
    const routes = useBeacon
      ? ['POST /beacon/v1/batch']
      : ['identify', 'track', 'page', 'group', 'alias'].map((r) => `POST /v1/${r}`);
    expect(new Set(trouble.sent)).toEqual(new Set(['GET /sourceConfig', ...routes]));
  });

  it.each([
    ['an application/json Blob (preflighted)', 'json'],
    ['a string (text/plain)', 'text'],
  ])('navigator.sendBeacon with %s delivers six events', async (_, kind) => {
    // Arrange
    const url = collectorUrl();
    const user = newUser();
    const { page, trouble, close } = await openSite(url);
    const sentFrom = Date.now();

    // Act
    const queued = await page.evaluate(
      ({ writeKey, url, kind, userId, aliasId, types }) => {
        const now = new Date().toISOString();
        const batch = types.map((type, i) => ({
          type,
          messageId: `${userId}-${i}`,
          userId: type === 'alias' ? aliasId : userId,
          previousId: userId,
          groupId: 'acme',
          event: 'Order Completed',
          name: 'Pricing',
          traits: { email: 'ada@example.com' },
          timestamp: now,
        }));
        const body = JSON.stringify({ batch, sentAt: now });
        const data = kind === 'json' ? new Blob([body], { type: 'application/json' }) : body;
        return navigator.sendBeacon(`${url}/v1/batch?writeKey=${encodeURIComponent(writeKey)}`, data);
      },
      {
        writeKey: pipeline.writeKeys.default!,
        url,
        kind,
        types: SIX_TYPES,
        userId: user.userId,
        aliasId: user.aliasId,
      },
    );
    const rows = await waitForRows(lake(collectorUrl()), user.match, 6);
    await close();

    // Assert
    expect(queued).toBe(true);
    expectDelivered(rows, SIX_TYPES, sentFrom, trouble, false);
  });
});

describe('the HTTP API as the template declares it', () => {
  it("routes rudder-sdk-js 1.x's `/sourceConfig/` (an empty tail) and any unknown path to the collector", async () => {
    // Arrange
    const key = encodeURIComponent(pipeline.writeKeys.default!);

    // Act
    const config = await fetch(`${standIn.url}/sourceConfig/?p=npm&v=1.1.21&writeKey=${key}`);
    const unknown = await fetch(`${standIn.url}/v2/nothing-here`);

    // Assert
    expect(config.status).toBe(200);
    expect(await config.json()).toMatchObject({ source: { enabled: true, destinations: [] } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});
