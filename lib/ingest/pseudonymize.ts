import { createHmac } from 'node:crypto';

/** The HMAC secret in use and its version, recorded on every row as `key_version`. */
export interface HashKey {
  version: number;
  secret: Buffer;
}

const TOP_BIT_CLEAR = 0x7fff_ffff_ffff_ffffn;

/**
 * HMAC-SHA256 of `message`, first 8 bytes big-endian with the top bit cleared: a non-negative
 * 63-bit integer that Parquet INT64, DuckDB BIGINT and StarRocks `to_bitmap` all take unchanged.
 */
export function hmac63(secret: Buffer, message: string): bigint {
  const digest = createHmac('sha256', secret).update(message, 'utf8').digest();
  return digest.readBigUInt64BE(0) & TOP_BIT_CLEAR;
}

/** Pseudonymizes one identifier of one project; the same id in two projects hashes differently. */
export function identityHash(key: HashKey, project: string, id: string): bigint {
  return hmac63(key.secret, `${project}\0${id}`);
}
