import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { PROJECT_ID_PATTERN } from './limits.js';

/** A project and the SHA-256 of its write key (the key itself is never stored). */
export interface ProjectKey {
  project: string;
  writeKeySha256: string;
}

export function hashWriteKey(writeKey: string): string {
  return createHash('sha256').update(writeKey, 'utf8').digest('hex');
}

/** Finds the project a write key belongs to, comparing hashes in constant time. */
export class WriteKeys {
  private readonly entries: Array<{ project: string; hash: Buffer }>;

  constructor(keys: readonly ProjectKey[]) {
    this.entries = keys.map(({ project, writeKeySha256 }) => {
      if (!PROJECT_ID_PATTERN.test(project)) {
        throw new ConfigError(
          'projects',
          `project id ${JSON.stringify(project)} does not match ${PROJECT_ID_PATTERN}`,
        );
      }
      if (!/^[0-9a-f]{64}$/.test(writeKeySha256)) {
        throw new ConfigError('projects', `write key hash of project ${project} is not 64 hex characters`);
      }
      return { project, hash: Buffer.from(writeKeySha256, 'hex') };
    });
  }

  /** The project of this write key, or null. Every entry is compared, so timing says nothing. */
  projectOf(writeKey: string): string | null {
    const candidate = createHash('sha256').update(writeKey, 'utf8').digest();
    let found: string | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(candidate, entry.hash) && found === null) found = entry.project;
    }
    return found;
  }
}

/** The write key in an HTTP Basic header (Segment sends it as the username, password empty). */
export function writeKeyFromAuthorization(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  return user === '' ? null : user;
}
