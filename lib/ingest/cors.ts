import { type ApiResponse, errorResponse } from '../http.js';

/**
 * Which browser origins may call the collection routes. Write keys are public in a web page, so
 * the default is any origin (as Segment's and RudderStack's own APIs answer); an allow-list
 * limits it to the sites that embed the SDK.
 */
export type CorsPolicy = { anyOrigin: true } | { anyOrigin: false; origins: ReadonlySet<string> };

export const ANY_ORIGIN: CorsPolicy = { anyOrigin: true };

/** Browsers keep a preflight this long (Chromium caps it at 2 h, Firefox at 24 h). */
export const PREFLIGHT_MAX_AGE_SECONDS = 86_400;

/**
 * Headers the SDKs send, as they spell them: Segment's `Authorization` and `X-Retry-Count`,
 * RudderStack's `AnonymousId`, `SentAt` and `Rsa-Retry-*`. A preflight is answered with the
 * headers it asks for when each is a plain header name (the collector ignores headers it does not
 * know, and an SDK that adds one in a later version keeps working); these are always listed.
 */
export const SDK_HEADERS = [
  'authorization',
  'content-type',
  'content-encoding',
  'anonymousid',
  'sentat',
  'x-retry-count',
  'rsa-recovered',
  'rsa-retry-attempt',
  'rsa-retry-reason',
  'rsa-since-first-attempt',
  'rsa-since-last-attempt',
];

/** `Retry-After` is not a CORS-safelisted response header: without this, no SDK could read it. */
const EXPOSED_HEADERS = 'retry-after';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/;

/** Reads an allow-list: `*` (or nothing) for any origin, else comma-separated `scheme://host[:port]`. */
export function parseCorsPolicy(value: string | undefined): CorsPolicy {
  const entries = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0 || entries.includes('*')) return ANY_ORIGIN;
  for (const origin of entries) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new Error(`${JSON.stringify(origin).slice(0, 80)} is not an origin (scheme://host[:port])`);
    }
  }
  return { anyOrigin: false, origins: new Set(entries.map((o) => o.toLowerCase())) };
}

/** True when a request from this `Origin` header may use the collection routes. */
export function originAllowed(origin: string | undefined, policy: CorsPolicy): boolean {
  if (origin === undefined || policy.anyOrigin) return true;
  return policy.origins.has(origin.toLowerCase());
}

/**
 * The CORS headers of every answer of the collection routes (errors included, so an SDK can read
 * a 400 and stop instead of retrying a network error forever). The origin is echoed rather than
 * `*` so an SDK configured with `credentials: 'include'` works too; Tally sets no cookies.
 */
export function corsHeaders(origin: string | undefined, policy: CorsPolicy): Record<string, string> {
  if (origin === undefined || !originAllowed(origin, policy)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': EXPOSED_HEADERS,
    vary: 'origin',
  };
}

/** The answer to an `OPTIONS` preflight of a collection route. */
export function preflight(
  headers: Record<string, string | undefined>,
  methods: string,
  policy: CorsPolicy,
): ApiResponse {
  const origin = headers.origin;
  if (!originAllowed(origin, policy)) {
    return errorResponse(
      403,
      'origin_not_allowed',
      `origin ${JSON.stringify(origin).slice(0, 100)} may not send events to this project's collector`,
    );
  }
  const asked = (headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => HEADER_NAME.test(h));
  const allowed = [...new Set([...SDK_HEADERS, ...asked])].slice(0, 64);
  return {
    status: 204,
    headers: {
      ...corsHeaders(origin, policy),
      'access-control-allow-methods': methods,
      'access-control-allow-headers': allowed.join(', '),
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
      vary: 'origin, access-control-request-headers',
    },
    body: null,
  };
}
