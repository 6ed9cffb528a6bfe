/** Segment's documented limit for one event, serialized. */
export const MAX_EVENT_BYTES = 32 * 1024;
/** Segment's documented limit for one request body, after decompression. */
export const MAX_REQUEST_BYTES = 500 * 1024;
/** Longest accepted `messageId`. */
export const MAX_MESSAGE_ID_LENGTH = 100;
/** Timestamps further ahead of the receive time than this are clamped to it. */
export const MAX_FUTURE_SKEW_MS = 23 * 60 * 60 * 1000;
/** Nesting deeper than this in one event is refused (stringify would recurse that deep). */
export const MAX_EVENT_DEPTH = 64;
/** Longest `userId` / `anonymousId` accepted. */
export const MAX_ID_LENGTH = 1024;
/** Longest `channel` kept. */
export const MAX_CHANNEL_LENGTH = 64;
/** Longest event name kept. */
export const MAX_EVENT_NAME_LENGTH = 512;
/** How much of a bad event's (redacted) payload is kept in its bad row. */
export const BAD_PAYLOAD_BYTES = 1024;
/** Project ids are safe in S3 keys and SQL alike. */
export const PROJECT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
