import { HmacSha256 } from './hmac-sha256.js';

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
  return macOf(key.secret).first63Of(project, '\0', id);
}

/**
 * Pseudonymizes one anonymousId, in a domain of its own: a userId and an anonymousId with the
 * same text are two people. (Rows written before this domain existed hashed anonymousIds like
 * userIds; erasure hashes both ways.)
 */
export function anonymousHash(key: HashKey, project: string, id: string): bigint {
  return macOf(key.secret).first63Of(project, '\0a\0', id);
}
