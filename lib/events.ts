import type { Enriched } from './enrich/context.js';

/** The Segment call types Tally accepts. */
export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * A normalized, pseudonymized event: what travels the stream and becomes one lake row.
 * Times are epoch milliseconds (UTC). No raw user id, trait or IP address is in here.
 */
export interface LakeEvent {
  project: string;
  eventId: string;
  type: EventType;
  /** Track event name, or page/screen name; null for the other types. */
  event: string | null;
  userHash: bigint | null;
  anonymousHash: bigint | null;
  /**
   * An alias' previousId, pseudonymized as a userId and as an anonymousId (it may have been
   * either). Absent or null on other events.
   */
  previousUserHash?: bigint | null;
  previousAnonymousHash?: bigint | null;
  eventTime: number;
  receivedAt: number;
  /** JSON text. */
  properties: string | null;
  /** JSON text, with `ip` and `traits` removed. */
  context: string | null;
  keyVersion: number;
  /** Comma-separated markers of corrections made at collection (e.g. `future_clamped`). */
  flags: string | null;
  /** Where the event came from as the SDK says it (RudderStack's `channel`: web, server, mobile...). */
  channel: string | null;
  /**
   * The country (ISO 3166-1 alpha-2) of the address the event came from, found at collection;
   * the address is not kept. Absent or null when unknown.
   */
  country?: string | null;
  /**
   * What the lake writer derived from the context (`enrich/context.ts`), as the lake's columns
   * hold it; absent on events not enriched yet (and on rows of files written before).
   */
  enriched?: Enriched;
}

/** A country as events carry it: ISO 3166-1 alpha-2, two capital letters. */
export const COUNTRY_CODE = /^[A-Z]{2}$/;

/** Where a bad row was found. */
export type BadRowStage = 'collect' | 'lake';

/** Something that could not become a lake row, kept with the reason (nothing is silently dropped). */
export interface BadRow {
  project: string | null;
  stage: BadRowStage;
  /** Stable reason code, e.g. `missing_identity`, `size`, `undecodable_record`. */
  reason: string;
  message: string;
  receivedAt: number;
  eventId: string | null;
  /** A truncated, redacted excerpt of the input: never a raw user id, trait or IP. */
  payload: string | null;
  /**
   * The pseudonyms of the event's userId and anonymousId when they could be read, as on lake
   * rows: what lets an erasure find a person's bad rows too.
   */
  userHash: bigint | null;
  anonymousHash: bigint | null;
}

export const DAY_MS = 86_400_000;
const dayNames = new Map<number, string>();

/** The UTC date (`YYYY-MM-DD`) of an epoch-millisecond time (memoized per day: it runs per row). */
export function utcDate(epochMs: number): string {
  const day = Math.floor(epochMs / DAY_MS);
  let name = dayNames.get(day);
  if (name === undefined) {
    name = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dayNames.size > 100_000) dayNames.clear();
    dayNames.set(day, name);
  }
  return name;
}

/**
 * True when two copies of an event are one copy: received at the same time, with the same event
 * time and ids (a redelivered record, a retried PutRecords). The lake writer keeps such copies
 * once; the others are counted once per day by construction (warehouse/people.ts, rule 1).
 */
export function sameCopy(a: LakeEvent, b: LakeEvent): boolean {
  return (
    a.receivedAt === b.receivedAt &&
    a.eventTime === b.eventTime &&
    a.userHash === b.userHash &&
    a.anonymousHash === b.anonymousHash
  );
}
