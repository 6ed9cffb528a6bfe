import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's Chromium, which `.ci/run` installs. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Starts headless Chromium. Without the background-networking flags it keeps trying to reach
 * Google's hosts, which this machine's closed network refuses.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * The browser SDKs as a site would ship them: the npm packages bundled by a bundler (esbuild
 * here), each exposed on `window` for the test page. RudderStack's `bundled` build carries its
 * plugins instead of loading them from its CDN.
 */
export async function bundleBrowserSdks(): Promise<Record<string, string>> {
  const entries = {
    '/segment.js': `import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;`,
    '/rudderstack.js': `import { RudderAnalytics } from '@rudderstack/analytics-js/bundled'; window.RudderAnalytics = RudderAnalytics;`,
  };
  const files: Record<string, string> = {};
  for (const [path, contents] of Object.entries(entries)) {
    const result = await build({
      stdin: { contents, resolveDir: process.cwd(), loader: 'js' },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'chrome120',
      write: false,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    files[path] = result.outputFiles[0]!.text;
  }
  return files;
}

/** A static site on its own origin (`http://localhost:<port>`, another origin than the collector's). */
export async function serveSite(
  files: Record<string, string>,
): Promise<{ origin: string; close(): Promise<void> }> {
  const pages: Record<string, string> = {
    ...files,
    '/': `<!doctype html><html><head><title>Shop</title>${Object.keys(files)
      .map((f) => `<script src="${f}"></script>`)
      .join('')}</head><body><h1>Shop</h1></body></html>`,
  };
  const server = createServer((req, res) => {
    const body = pages[new URL(req.url ?? '/', 'http://x').pathname];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const type = req.url === '/' ? 'text/html' : 'text/javascript';
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8` }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What a page sent to the collector (method and path), and what went wrong: console errors, requests that failed or were refused. */
export interface PageTrouble {
  sent: string[];
  consoleErrors: string[];
  failedRequests: string[];
}

/** Records the trouble of a page with the collector at `collectorUrl`. */
export function watchPage(page: Page, collectorUrl: string): PageTrouble {
  const trouble: PageTrouble = { sent: [], consoleErrors: [], failedRequests: [] };
  page.on('request', (r) => {
    if (r.url().startsWith(collectorUrl)) trouble.sent.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') trouble.consoleErrors.push(m.text());
  });
  page.on('requestfailed', (r) => {
    if (r.url().startsWith(collectorUrl))
      trouble.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.url().startsWith(collectorUrl) && r.status() >= 400)
      trouble.failedRequests.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
  });
  return trouble;
}
