import { wellFormed } from '../text.js';
import { BAD_PAYLOAD_BYTES } from './limits.js';

/** Top-level fields that may hold a raw identity or personal data. */
const IDENTITY_FIELDS = new Set(['userId', 'anonymousId', 'previousId', 'traits', 'writeKey']);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when `context` holds the IP address or traits, which are never kept. */
export function holdsIpOrTraits(context: Record<string, unknown>): boolean {
  return Object.hasOwn(context, 'ip') || Object.hasOwn(context, 'traits');
}

/**
 * `context` without the IP address and traits: the same object when it has neither, else a copy
 * made by object rest, which defines properties, so a `__proto__` key stays a plain key.
 */
export function stripContext(context: Record<string, unknown>): Record<string, unknown> {
  if (!holdsIpOrTraits(context)) return context;
  const { ip: _ip, traits: _traits, ...rest } = context;
  return rest;
}

/** Cuts a string to at most `maxBytes` of UTF-8, on a character boundary. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = Buffer.from(text).subarray(0, maxBytes).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut;
}

/**
 * The excerpt of a bad event that its bad row keeps: identities, traits and the IP replaced, a
 * `context` that is not an object (whatever it holds: an array of objects with an IP, a string)
 * replaced whole, then truncated and made well-formed. Enough to see what was wrong, never
 * enough to identify a person.
 */
export function redactedExcerpt(raw: unknown): string {
  let value = raw;
  if (isPlainObject(raw)) {
    value = Object.fromEntries(
      Object.entries(raw).map(([key, v]) => {
        if (IDENTITY_FIELDS.has(key)) return [key, '[redacted]'];
        if (key === 'context') return [key, isPlainObject(v) ? stripContext(v) : '[redacted]'];
        return [key, v];
      }),
    );
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = '[unserializable]';
  }
  return truncateUtf8(wellFormed(text), BAD_PAYLOAD_BYTES);
}
