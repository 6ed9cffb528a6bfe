import type { EventType } from '../events.js';

/** What a collection route does: take events (of the type it implies, or a batch), or something else. */
export type Route =
  | { kind: 'events'; type: EventType | 'batch' }
  /** analytics.js' own delivery metrics (`/v1/m`): answered, not stored. */
  | { kind: 'telemetry' }
  /** RudderStack's source configuration, which its browser SDK fetches before it sends anything. */
  | { kind: 'source_config' }
  /** analytics.js' settings (`<cdnURL>/v1/projects/<write key>/settings`), when `cdnURL` is Tally. */
  | { kind: 'segment_settings'; writeKey: string };

/**
 * Every path the current Segment and RudderStack SDKs send to, and what it takes:
 * - `/v1/{batch,track,identify,page,screen,group,alias}`: Segment's HTTP Tracking API, the server
 *   SDKs (analytics-node, rudder-sdk-node posts `/v1/batch`) and RudderStack's browser SDK;
 * - `/v1/{t,i,p,s,g,a,b}`: the short forms analytics.js (`@segment/analytics-next`) posts to;
 * - `/beacon/v1/batch`: RudderStack's browser SDK in beacon mode (write key in the query);
 * - `/v1/import`: Segment's historical import, a batch.
 */
export const EVENT_ROUTES: Readonly<Record<string, EventType | 'batch'>> = {
  '/v1/batch': 'batch',
  '/v1/b': 'batch',
  '/v1/import': 'batch',
  '/beacon/v1/batch': 'batch',
  '/v1/track': 'track',
  '/v1/t': 'track',
  '/v1/identify': 'identify',
  '/v1/i': 'identify',
  '/v1/page': 'page',
  '/v1/p': 'page',
  '/v1/screen': 'screen',
  '/v1/s': 'screen',
  '/v1/group': 'group',
  '/v1/g': 'group',
  '/v1/alias': 'alias',
  '/v1/a': 'alias',
};

export const TELEMETRY_PATH = '/v1/m';
export const SOURCE_CONFIG_PATH = '/sourceConfig';
/** The write key is the path parameter; the HTTP API names it like the active-users route's. */
export const SEGMENT_SETTINGS_ROUTE = '/v1/projects/{project}/settings';
const SEGMENT_SETTINGS = /^\/v1\/projects\/([^/]+)\/settings$/;

/** The read-key routes and the dashboard page (API Gateway's syntax), served by the metrics function. */
export const READ_ROUTES = [
  '/v1/projects/{project}/active-users',
  '/v1/projects/{project}/health',
  '/dashboard',
  '/dashboard/{file}',
];

/** Every word the routes' paths are made of (parameters aside): what a logged path may show. */
const PATH_WORDS: ReadonlySet<string> = new Set(
  [...collectorRoutes().map((r) => r.path), ...READ_ROUTES]
    .flatMap((path) => path.split('/'))
    .filter((word) => word !== '' && !word.startsWith('{')),
);

/**
 * The path as it may be logged, whatever it is: each segment that is not one of the routes' own
 * words (a write key in analytics.js' settings path, a project, anything a client made up,
 * escaped or not) is replaced with `*`, and the path is cut at 200 characters. So a key never
 * reaches a log through the path, on any route or none: `/v1/projects/<key>/settings/`,
 * `//v1/projects/<key>/settings`, `/v1/projects/<key>/%73ettings`.
 */
export function loggablePath(path: string): string {
  return path
    .slice(0, 200)
    .split('/')
    .map((segment) => (segment === '' || PATH_WORDS.has(segment) ? segment : '*'))
    .join('/');
}

/** The route of a request path (trailing slashes ignored), or null. */
export function routeOf(path: string): Route | null {
  const normalized = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const type = Object.hasOwn(EVENT_ROUTES, normalized) ? EVENT_ROUTES[normalized] : undefined;
  if (type !== undefined) return { kind: 'events', type };
  if (normalized === TELEMETRY_PATH) return { kind: 'telemetry' };
  if (normalized === SOURCE_CONFIG_PATH) return { kind: 'source_config' };
  const settings = SEGMENT_SETTINGS.exec(normalized);
  if (settings) {
    try {
      return { kind: 'segment_settings', writeKey: decodeURIComponent(settings[1]!) };
    } catch {
      return null;
    }
  }
  return null;
}

/** The method a route takes (`OPTIONS` preflights aside). */
export function methodOf(route: Route): 'GET' | 'POST' {
  return route.kind === 'source_config' || route.kind === 'segment_settings' ? 'GET' : 'POST';
}

/** Every collector route with its method, as the HTTP API must expose them (plus `OPTIONS` each). */
export function collectorRoutes(): Array<{ path: string; method: 'GET' | 'POST' }> {
  return [
    ...Object.keys(EVENT_ROUTES).map((path) => ({ path, method: 'POST' as const })),
    { path: TELEMETRY_PATH, method: 'POST' },
    { path: SOURCE_CONFIG_PATH, method: 'GET' },
    { path: SEGMENT_SETTINGS_ROUTE, method: 'GET' },
  ];
}
