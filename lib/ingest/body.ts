import { gunzipSync } from 'node:zlib';
import { TallyError } from '../errors.js';
import { MAX_REQUEST_BYTES } from './limits.js';

/** A request refused as a whole: carries the HTTP status and a stable code. */
export class RequestError extends TallyError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}

const ACCEPTED_MEDIA_TYPES = new Set(['application/json', 'text/plain']);

/**
 * Turns a request body into JSON: checks the media type (`text/plain` is what `sendBeacon`
 * sends), inflates gzip with the decompressed size capped (a gzip bomb stops at the cap), and
 * enforces the 500 KB request limit before any event is looked at.
 */
export function parseBody(headers: Record<string, string | undefined>, body: Buffer): unknown {
  const contentType = headers['content-type'];
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!ACCEPTED_MEDIA_TYPES.has(mediaType)) {
    throw new RequestError(
      415,
      'unsupported_media_type',
      `content-type must be application/json or text/plain, got ${JSON.stringify(contentType ?? '(none)').slice(0, 80)}`,
    );
  }
  const encoding = (headers['content-encoding'] ?? '').trim().toLowerCase();
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
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RequestError(
      400,
      'invalid_json',
      `the body is not valid JSON: ${(error as Error).message.slice(0, 120)}`,
    );
  }
}
