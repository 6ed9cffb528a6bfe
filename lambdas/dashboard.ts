import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** The dashboard's files: URL path -> path in the repository (beside the bundle on Lambda). */
export const DASHBOARD_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/dashboard': { file: 'dashboard/index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { file: 'dashboard/dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { file: 'dashboard/dashboard.css', type: 'text/css; charset=utf-8' },
  '/dashboard/uPlot.iife.min.js': {
    file: 'node_modules/uplot/dist/uPlot.iife.min.js',
    type: 'text/javascript; charset=utf-8',
  },
  '/dashboard/uPlot.min.css': {
    file: 'node_modules/uplot/dist/uPlot.min.css',
    type: 'text/css; charset=utf-8',
  },
};

/** Only this origin's scripts, styles and API; the read key never leaves for another site. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const cache = new Map<string, string>();

function read(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    // On Lambda the files sit flat beside the bundle; locally, in the repository.
    const root = process.env.LAMBDA_TASK_ROOT;
    text = readFileSync(root ? join(root, basename(file)) : join(process.cwd(), file), 'utf8');
    cache.set(file, text);
  }
  return text;
}

/** True for the dashboard's paths. */
export function isDashboardPath(path: string): boolean {
  return Object.hasOwn(DASHBOARD_FILES, path.replace(/\/$/, '') || '/');
}

/** Serves one of the dashboard's files (a static page: the data comes from the metrics API). */
export function dashboardFile(path: string): APIGatewayProxyStructuredResultV2 {
  const entry = DASHBOARD_FILES[path.replace(/\/$/, '')];
  if (!entry) return { statusCode: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' };
  return {
    statusCode: 200,
    headers: { 'content-type': entry.type, ...SECURITY_HEADERS },
    body: read(entry.file),
  };
}
