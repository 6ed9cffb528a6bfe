import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utcDate } from '../../lib/events.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import type { Pipeline } from '../../local/pipeline.js';
import { launchChromium, watchPage } from '../helpers/browser.js';
import { waitForLake } from '../helpers/lake.js';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.js';

/** Where the browser tests leave their screenshots (not committed). */
const ARTIFACTS = 'test-artifacts';
const DAY = 86_400_000;

let started: TestPipeline;
let pipeline: Pipeline;
let browser: Browser;

interface ApiDay {
  date: string;
  dau: number;
  wau: number;
  mau: number;
}

/**
 * What person `u`'s app sends: an iOS app (a third), a desktop browser (most), nothing (a fifth of
 * the rest); half of them from an address in Great Britain (the others from loopback: no country).
 */
function contextOf(u: number): Record<string, unknown> | undefined {
  const ip = u % 2 === 0 ? { ip: '81.2.69.160' } : {};
  if (u % 3 === 0)
    return { library: { name: 'analytics-ios' }, os: { name: 'iOS' }, app: { version: '4.2.0' }, ...ip };
  if (u % 5 === 1) return u % 2 === 0 ? ip : undefined;
  return {
    userAgent:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    ...ip,
  };
}

beforeAll(async () => {
  started = await startTestPipeline('dashboard');
  pipeline = started.pipeline;
  // 40 people over 100 days with a weekly rhythm, and a few refused events.
  const now = Date.now();
  const batch: Array<Record<string, unknown>> = [];
  for (let d = 0; d < 100; d++) {
    for (let u = 0; u < 40; u++) {
      if ((u * 7 + d) % (u % 5 === 0 ? 2 : 9) === 0)
        batch.push({
          type: 'track',
          event: 'Viewed',
          userId: `person-${u}`,
          messageId: randomUUID(),
          timestamp: new Date(now - d * DAY).toISOString(),
          context: contextOf(u),
        });
    }
  }
  // A crawler that ran the site's script yesterday and today: 5 events from 2 ids, left out.
  for (const [d, id] of [
    [0, 'bot-a'],
    [0, 'bot-a'],
    [0, 'bot-b'],
    [1, 'bot-a'],
    [1, 'bot-b'],
  ] as const) {
    batch.push({
      type: 'page',
      name: 'Home',
      anonymousId: id,
      messageId: randomUUID(),
      timestamp: new Date(now - d * DAY).toISOString(),
      context: { userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' },
    });
  }
  const refused = [
    { type: 'track', userId: 'x' },
    { type: 'track', userId: 'y' },
    { type: 'track', event: 'E' },
  ];
  const auth = `Basic ${Buffer.from(`${pipeline.writeKeys.default}:`).toString('base64')}`;
  for (let i = 0; i < batch.length; i += 500) {
    const body = JSON.stringify({
      batch: i === 0 ? [...batch.slice(i, i + 500), ...refused] : batch.slice(i, i + 500),
    });
    const response = await fetch(`${pipeline.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body,
    });
    expect(response.status).toBe(200);
  }
  await waitForLake(
    new FsObjectStore(pipeline.lakeRoot!),
    batch.map((e) => e.messageId as string),
  );
  await pipeline.warehouse!.rollupNow();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await started?.close();
});

async function api(days: number): Promise<ApiDay[]> {
  const to = utcDate(Date.now());
  const from = utcDate(Date.now() - (days - 1) * DAY);
  const response = await fetch(`${pipeline.url}/v1/projects/default/active-users?from=${from}&to=${to}`, {
    headers: { authorization: `Bearer ${pipeline.readKeys.default}` },
  });
  return ((await response.json()) as { days: ApiDay[] }).days;
}

/** The rows of the page's table, as numbers. */
async function shownDays(page: Page): Promise<ApiDay[]> {
  return page.$$eval('#days tbody tr', (rows) =>
    rows.map((r) => {
      const [date, dau, wau, mau] = Array.from(r.querySelectorAll('td')).map((td) => td.textContent ?? '');
      const n = (s: string) => Number(s.replaceAll(',', ''));
      return { date: date!, dau: n(dau!), wau: n(wau!), mau: n(mau!) };
    }),
  );
}

async function open(options: { key?: string; width?: number; dark?: boolean } = {}) {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1200, height: 900 },
    colorScheme: options.dark ? 'dark' : 'light',
  });
  const page = await context.newPage();
  const trouble = watchPage(page, pipeline.url);
  const key = encodeURIComponent(options.key ?? pipeline.readKeys.default!);
  await page.goto(`${pipeline.url}/dashboard#project=default&key=${key}`);
  await page.waitForSelector('#main[data-state="ready"], #main[data-state="error"]');
  return { page, trouble, close: () => context.close() };
}

interface ApiBreakdown {
  values: Array<{ value: string | null; days: ApiDay[] }>;
  other: { values: number; days: ApiDay[] } | null;
}

async function breakdownApi(by: string): Promise<ApiBreakdown> {
  const to = utcDate(Date.now());
  const from = utcDate(Date.now() - 29 * DAY);
  const response = await fetch(
    `${pipeline.url}/v1/projects/default/active-users?from=${from}&to=${to}&by=${by}`,
    { headers: { authorization: `Bearer ${pipeline.readKeys.default}` } },
  );
  return ((await response.json()) as { breakdown: ApiBreakdown }).breakdown;
}

/** The rows of the breakdown's table of the last day: the value's name, DAU, WAU, MAU. */
async function shownValues(page: Page): Promise<string[][]> {
  return page.$$eval('#breakdown tbody tr', (rows) =>
    rows.map((r) =>
      Array.from(r.querySelectorAll('td'))
        .map((td) => td.textContent ?? '')
        .slice(0, 4),
    ),
  );
}

const strip = (days: ApiDay[]) => days.map(({ date, dau, wau, mau }) => ({ date, dau, wau, mau }));

describe('the dashboard', () => {
  it('shows the numbers of the API, switches ranges with the mouse and the keyboard, with no console error', async () => {
    // Arrange
    const { page, trouble, close } = await open();

    // Act and assert: the default 30 days.
    const thirty = await api(30);
    expect(await shownDays(page)).toEqual(strip(thirty));
    expect(await page.textContent('#dau')).toBe(String(thirty[29]!.dau));
    expect(await page.textContent('#mau')).toBe(String(thirty[29]!.mau));
    expect(await page.textContent('#freshness')).toContain('Numbers as of');
    expect(await page.textContent('#rejected')).toContain('missing_event_name');
    expect(await page.textContent('#rejected')).toContain('missing_identity');
    expect(await page.textContent('#bots-today')).toBe('3 events from 2 ids');
    expect(await page.$$eval('#bots tbody tr', (rows) => rows.map((r) => r.textContent))).toEqual([
      `${utcDate(Date.now())}32`,
      `${utcDate(Date.now() - DAY)}22`,
    ]);
    expect(
      Number((await page.textContent('#events-hour'))!.split(' ')[0]!.replaceAll(',', '')),
    ).toBeGreaterThan(0);
    expect(page.url()).not.toContain('key=');

    // 90 days by click, 365 by keyboard.
    await page.click('[data-days="90"]');
    await page.waitForFunction(() => document.querySelectorAll('#days tbody tr').length === 90);
    expect(await shownDays(page)).toEqual(strip(await api(90)));
    await page.focus('[data-days="365"]');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('#days tbody tr').length === 365);
    await page.waitForSelector('#main[data-state="ready"]');
    expect(await shownDays(page)).toEqual(strip(await api(365)));
    expect(await page.getAttribute('[data-days="365"]', 'aria-pressed')).toBe('true');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    await close();

    expect(trouble.consoleErrors).toEqual([]);
    expect(trouble.failedRequests).toEqual([]);
  });

  it('breaks the people down by platform, by country with its source named, as lines or stacked', async () => {
    // Arrange
    const { page, trouble, close } = await open();
    const row = (name: string, days: ApiDay[]) => {
      const d = days.at(-1)!;
      return [name, String(d.dau), String(d.wau), String(d.mau)];
    };

    // Act and assert: platforms by default.
    const platforms = await breakdownApi('platform');
    expect(platforms.values.map((v) => v.value).sort()).toEqual(['ios', 'web', null].sort());
    expect(await shownValues(page)).toEqual(platforms.values.map((v) => row(v.value ?? 'Unknown', v.days)));
    expect(await page.isHidden('#country-attribution')).toBe(true);
    expect(await page.textContent('#bot-share')).toMatch(/^\d+\.\d%$/);

    // Countries, chosen with the keyboard: named, with the database's attribution.
    const countries = await breakdownApi('country');
    await page.focus('#by');
    await page.selectOption('#by', 'country');
    await page.waitForFunction(() =>
      document.querySelector('#breakdown-caption')?.textContent?.startsWith('Country'),
    );
    expect(await shownValues(page)).toEqual(
      countries.values.map((v) => row(v.value === 'GB' ? 'United Kingdom (GB)' : 'Unknown', v.days)),
    );
    expect(countries.values.map((v) => v.value).sort()).toEqual(['GB', null].sort());
    expect(await page.isVisible('#country-attribution')).toBe(true);
    expect(await page.getAttribute('#country-attribution a', 'href')).toBe('https://db-ip.com');

    // DAU as stacked areas: the per-day table follows the metric.
    await page.selectOption('#metric', 'dau');
    await page.selectOption('#style', 'stacked');
    const header = await page.$$eval('#breakdown-days thead th', (ths) => ths.map((th) => th.textContent));
    expect(header).toEqual([
      'Date',
      ...countries.values.map((v) => `${v.value === 'GB' ? 'United Kingdom (GB)' : 'Unknown'} (DAU)`),
    ]);
    const perDay = await page.$$eval('#breakdown-days tbody tr', (rows) =>
      rows.map((r) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent)),
    );
    expect(perDay).toEqual(
      countries.values[0]!.days.map((d, i) => [
        d.date,
        ...countries.values.map((v) => String(v.days[i]!.dau)),
      ]),
    );
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-breakdown.png`, fullPage: true });
    await close();
    expect(trouble.consoleErrors).toEqual([]);
    expect(trouble.failedRequests).toEqual([]);
  });

  it('fits a phone and reads in dark mode', async () => {
    const { page, trouble, close } = await open({ width: 375, dark: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-phone-dark.png`, fullPage: true });
    await close();
    expect(overflow).toBeLessThanOrEqual(0);
    expect(background).toBe('rgb(13, 17, 23)');
    expect(trouble.consoleErrors).toEqual([]);
  });

  it('says clearly when the read key is wrong', async () => {
    const { page, close } = await open({ key: 'not-the-key' });
    const message = await page.textContent('#message');
    const state = await page.getAttribute('#main', 'data-state');
    await close();
    expect(state).toBe('error');
    expect(message).toContain('401');
    expect(message).toContain('unknown read key');
    expect(message).toContain('Check the project and its read key');
  });
});
