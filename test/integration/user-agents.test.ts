import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utcDate } from '../../lib/events.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import type { LakeRow } from '../helpers/duckdb.js';
import { expectedHash, waitForRows } from '../helpers/lake.js';
import { sendBatch, startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

/**
 * Real user agents (isbot's fixtures, checked in: see `source` in the file): browsers of
 * common families with the family their list names, in-app webviews, and every crawler and
 * headless browser of its list.
 */
interface Corpus {
  source: string;
  families: Record<string, string>;
  browsers: Array<{ label: string; ua: string }>;
  webviews: Array<{ label: string; ua: string }>;
  crawlers: Array<{ label: string; ua: string }>;
}
const corpus = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'user-agents.json'), 'utf8'),
) as Corpus;

/**
 * The user agents whose family Bowser names otherwise than the list's label, as [label, Bowser's
 * name]: old or odd strings (a Brave built on Electron, UC Browser on feature phones, Yandex's
 * search app). A parser update that changes any of them fails the test, to be looked at.
 */
const KNOWN_DIFFERENCES = [
  ['Brave', 'Electron'],
  ['UC', 'BlackBerry'],
  ['UC', 'Mozilla'],
  ['UC', 'Opera'],
  ['Yandex', 'Chrome'],
];

/** The operating system a user agent names in plain tokens, or undefined when it names none of these. */
function osOf(ua: string): string | undefined {
  // Strings naming two systems (a Windows phone or device claiming Android, Ubuntu "like Android").
  if (/Windows Phone|Windows IoT|like Android/.test(ua)) return undefined;
  if (/iPhone|iPad|iPod/.test(ua)) return 'iOS';
  if (/Android/.test(ua)) return 'Android';
  if (/Windows NT/.test(ua)) return 'Windows';
  if (/CrOS/.test(ua)) return 'Chrome OS';
  if (/Macintosh|Mac OS X/.test(ua)) return 'macOS';
  if (/X11; (Ubuntu; )?Linux/.test(ua)) return 'Linux';
  return undefined;
}

let started: TestPipeline;
const people = [
  ...corpus.browsers.map((b) => ({ ...b, kind: 'browser' })),
  ...corpus.webviews.map((b) => ({ ...b, kind: 'webview' })),
  ...corpus.crawlers.map((b) => ({ ...b, kind: 'crawler' })),
].map((p, i) => ({ ...p, userId: `agent-${i}` }));
let rows: Map<string, LakeRow>;

beforeAll(async () => {
  started = await startTestPipeline('user-agents');
  const { pipeline, secret, dataDir } = started;
  // Each user agent is one person sending a page view from a browser SDK's context.
  const events = people.map((p) => ({
    type: 'page',
    name: 'Home',
    userId: p.userId,
    messageId: `m-${p.userId}`,
    context: {
      userAgent: p.ua,
      library: { name: 'analytics.js', version: 'next-1.70.0' },
      page: { url: 'https://shop.example/', referrer: 'https://www.google.com/' },
    },
  }));
  for (let i = 0; i < events.length; i += 100) {
    expect((await sendBatch(pipeline, events.slice(i, i + 100))).status).toBe(200);
  }
  const byHash = new Map(people.map((p) => [expectedHash(secret, 'default', p.userId), p.userId]));
  const landed = await waitForRows(
    new FsObjectStore(join(dataDir, 'lake')),
    (r) => r.user_hash !== null && byHash.has(r.user_hash),
    people.length,
  );
  rows = new Map(landed.map((r) => [byHash.get(r.user_hash!)!, r]));
  await pipeline.warehouse!.rollupNow();
}, 180_000);
afterAll(async () => {
  await started?.close();
});

describe(`${people.length} real user agents through npm start`, () => {
  it('flags every crawler and headless browser a bot, and no browser or webview', () => {
    const flagged = (kind: string) =>
      people.filter((p) => p.kind === kind).map((p) => rows.get(p.userId)?.bot);

    expect(corpus.crawlers.length + corpus.browsers.length + corpus.webviews.length).toBeGreaterThanOrEqual(
      200,
    );
    expect(new Set(flagged('crawler'))).toEqual(new Set([true]));
    expect(new Set(flagged('browser'))).toEqual(new Set([false]));
    expect(new Set(flagged('webview'))).toEqual(new Set([false]));
    expect(
      people.filter((p) => p.label.includes('Headless') || p.label === 'PhantomJS').length,
    ).toBeGreaterThan(0);
  });

  it("names each browser's family as its list does, its OS where the user agent says it plainly, and the platform web", () => {
    const browsers = people.filter((p) => p.kind === 'browser');
    const differences = browsers
      .filter((p) => rows.get(p.userId)?.browser !== corpus.families[p.label])
      .map((p) => [p.label, rows.get(p.userId)?.browser]);
    const wrongOs = browsers
      .filter((p) => osOf(p.ua) !== undefined && rows.get(p.userId)?.os !== osOf(p.ua))
      .map((p) => [p.ua, rows.get(p.userId)?.os]);

    expect(differences).toEqual(KNOWN_DIFFERENCES);
    expect(wrongOs).toEqual([]);
    expect(browsers.filter((p) => osOf(p.ua) !== undefined).length).toBeGreaterThan(90);
    expect(new Set(people.map((p) => rows.get(p.userId)?.platform))).toEqual(new Set(['web']));
  });

  it('counts every browser and webview as a person and no bot', async () => {
    const { pipeline } = started;
    const today = utcDate(Date.now());
    const response = await fetch(
      `${pipeline.url}/v1/projects/default/active-users?from=${today}&to=${today}`,
      { headers: { authorization: `Bearer ${pipeline.readKeys.default}` } },
    );
    const { days } = (await response.json()) as { days: Array<{ dau: number; mau: number }> };

    expect(days.map((d) => [d.dau, d.mau])).toEqual([
      [corpus.browsers.length + corpus.webviews.length, corpus.browsers.length + corpus.webviews.length],
    ]);
  });
});
