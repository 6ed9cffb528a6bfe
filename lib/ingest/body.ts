import { gunzipSync } from 'node:zlib';
import { TallyError } from '../errors.js';
import { type CompactEvent, parseCompact } from './compact.js';
import { findInexactNumbers, type InexactNumbers } from './exact-numbers.js';
import { type EventLayout, scanBody } from './layout.js';
import { MAX_REQUEST_BYTES } from './limits.js';

/** A request refused as a whole: carries the HTTP status and a stable code. */
export class RequestError extends TallyError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

/**
 * Media types whose bodies are read as JSON. `text/plain` is what `sendBeacon` and analytics.js
 * send (no preflight); `application/x-www-form-urlencoded` is how rudder-sdk-node labels its gzip
 * JSON; no content type at all is what `sendBeacon` sends for a Blob without a type.
 */
const ACCEPTED_MEDIA_TYPES = new Set([
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  '',
]);

/** The first two bytes of every gzip stream (RFC 1952); no JSON text starts with them. */
function isGzip(body: Buffer): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
}

/** A request body read as JSON, with its text and where its events sit in it. */
export interface ParsedBody {
  value: unknown;
  text: string;
  /** The body's bytes (inflated when it came compressed): `text` is their UTF-8 decoding. */
  bytes: Buffer;
  inexact: InexactNumbers | null;
  /** Each event's layout in `text` (`layout.ts`), by batch index; null when the scan could not tell. */
  layouts: (EventLayout | null)[] | null;
  /** The events as the compact parser read them (`compact.ts`), by batch index; null when it did not. */
  compact: CompactEvent[] | null;
}

/**
 * Turns a request body into JSON: checks the media type, inflates gzip with the decompressed
 * size capped (a gzip bomb stops at the cap), and enforces the 500 KB request limit before any
 * event is looked at. A body is inflated when it says `Content-Encoding: gzip`, or when it starts
 * with gzip's magic bytes whatever it is labelled (a JSON body never does). `batch`: the body is
 * a `{ batch: [...] }` envelope rather than one event. Compact JSON (what SDKs send) is read by
 * `compact.ts`; any other text by `JSON.parse` and `layout.ts`.
 */
export function parseBody(
  headers: Record<string, string | undefined>,
  body: Buffer,
  batch = false,
): ParsedBody {
  const contentType = headers['content-type'];
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!ACCEPTED_MEDIA_TYPES.has(mediaType)) {
    throw new RequestError(
      415,
      'unsupported_media_type',
      `content-type must be application/json, text/plain or application/x-www-form-urlencoded holding JSON, got ${JSON.stringify(contentType ?? '(none)').slice(0, 80)}`,
    );
  }
  const declared = (headers['content-encoding'] ?? '').trim().toLowerCase();
  const encoding = declared === '' && isGzip(body) ? 'gzip' : declared;
  if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip') {
    throw new RequestError(
      415,
      'unsupported_encoding',
      `content-encoding must be gzip or none, got ${JSON.stringify(encoding).slice(0, 40)}`,
    );
  }
  if (body.length > MAX_REQUEST_BYTES) {
    throw new RequestError(
      413,
      'request_too_large',
      `the body is ${body.length} bytes, over the limit of ${MAX_REQUEST_BYTES}`,
    );
  }
  let raw = body;
  if (encoding === 'gzip') {
    try {
      raw = gunzipSync(body, { maxOutputLength: MAX_REQUEST_BYTES });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new RequestError(
          413,
          'request_too_large',
          `the body inflates to more than ${MAX_REQUEST_BYTES} bytes`,
        );
      }
      throw new RequestError(400, 'invalid_gzip', `the body is not valid gzip: ${(error as Error).message}`);
    }
  }
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new RequestError(400, 'invalid_json', 'the body is empty');
  const compact = parseCompact(text, batch);
  if (compact !== null)
    return { value: compact.value, text, bytes: raw, inexact: null, layouts: null, compact: compact.events };
  try {
    const value: unknown = JSON.parse(text);
    const layout = scanBody(text, batch);
    if (layout === null)
      return { value, text, bytes: raw, inexact: findInexactNumbers(text), layouts: null, compact: null };
    return { value, text, bytes: raw, inexact: layout.inexact, layouts: layout.events, compact: null };
  } catch (error) {
    const form = mediaType === 'application/x-www-form-urlencoded' ? ' (form bodies must hold JSON)' : '';
    throw new RequestError(
      400,
      'invalid_json',
      `the body is not valid JSON${form}: ${(error as Error).message.slice(0, 120)}`,
    );
  }
}
