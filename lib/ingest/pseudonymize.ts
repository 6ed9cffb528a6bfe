import type { LakeEvent } from '../events.js';
import { HmacSha256 } from './hmac-sha256.js';
import { HmacBatch, type LanesKernel, lanesKernel } from './sha256-lanes.js';

/** What precedes an id after its project: userIds and anonymousIds hash in domains of their own. */
const USER_DOMAIN = '\0';
const ANONYMOUS_DOMAIN = '\0a\0';

/** The HMAC secret in use and its version, recorded on every row as `key_version`. */
export interface HashKey {
  version: number;
  secret: Buffer;
}

/**
 * HMAC-SHA256 of `message`, first 8 bytes big-endian with the top bit cleared: a non-negative
 * 63-bit integer that Parquet INT64, DuckDB BIGINT and StarRocks `to_bitmap` all take unchanged.
 */
export function hmac63(secret: Buffer, message: string): bigint {
  return macOf(secret).first63Of('', '', message);
}

/** One precomputed HMAC key per secret (a process holds one or two: the current and the previous). */
const macs = new WeakMap<Buffer, HmacSha256>();

function macOf(secret: Buffer): HmacSha256 {
  let mac = macs.get(secret);
  if (!mac) {
    mac = new HmacSha256(secret);
    macs.set(secret, mac);
  }
  return mac;
}

/** Pseudonymizes one userId of one project; the same id in two projects hashes differently. */
export function identityHash(key: HashKey, project: string, id: string): bigint {
  return macOf(key.secret).first63Of(project, USER_DOMAIN, id);
}

/**
 * Pseudonymizes one anonymousId, in a domain of its own: a userId and an anonymousId with the
 * same text are two people. (Rows written before this domain existed hashed anonymousIds like
 * userIds; erasure hashes both ways.)
 */
export function anonymousHash(key: HashKey, project: string, id: string): bigint {
  return macOf(key.secret).first63Of(project, ANONYMOUS_DOMAIN, id);
}

/** The row members that hold pseudonyms. */
export type HashField = 'userHash' | 'anonymousHash' | 'previousUserHash' | 'previousAnonymousHash';

/**
 * The pseudonyms of one request's rows, hashed four at a time (`sha256-lanes.ts`) and set on the
 * rows by `finish()`, before which they are null. An id equal to the previous one of its domain
 * is hashed once: a browser SDK's batch carries the same ids in every event.
 */
export class Pseudonyms {
  private readonly batch: HmacBatch;
  private readonly rows: LakeEvent[] = [];
  private readonly fields: HashField[] = [];
  private readonly slots: number[] = [];
  /** Per domain, the last id asked for and its slot (-1: none yet). */
  private readonly lastUser = { id: '', slot: -1, domain: USER_DOMAIN };
  private readonly lastAnonymous = { id: '', slot: -1, domain: ANONYMOUS_DOMAIN };

  constructor(
    key: HashKey,
    private readonly project: string,
    kernel: LanesKernel | null = lanesKernel(),
  ) {
    this.batch = new HmacBatch(macOf(key.secret), kernel);
  }

  /** Sets `row[field]` to the pseudonym of `id` (in the anonymous domain for the anonymous fields) by `finish()`. */
  set(row: LakeEvent, field: HashField, id: string): void {
    const last = field === 'userHash' || field === 'previousUserHash' ? this.lastUser : this.lastAnonymous;
    if (last.slot < 0 || last.id !== id) {
      last.id = id;
      last.slot = this.batch.add(this.project, last.domain, id);
    }
    this.rows.push(row);
    this.fields.push(field);
    this.slots.push(last.slot);
  }

  /** Hashes what is waiting and sets every pseudonym asked for. */
  finish(): void {
    this.batch.finish();
    const { rows, fields, slots } = this;
    const results = this.batch.results;
    for (let i = 0; i < rows.length; i++) rows[i]![fields[i]!] = results[slots[i]!]!;
    rows.length = 0;
    fields.length = 0;
    slots.length = 0;
  }
}
