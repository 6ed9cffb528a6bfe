import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { PROJECT_ID_PATTERN } from './limits.js';

/**
 * A project and the SHA-256 of its keys (the keys themselves are never stored): the write key
 * sends events, the read key reads the metrics API.
 */
export interface ProjectKey {
  project: string;
  writeKeySha256: string;
  readKeySha256?: string;
  /** The project's quota (requests a second across every collector); absent: the deploy's default. */
  requestsPerSecond?: number;
  /** Counts the project's bots as active users (rule 0 of warehouse/people.ts); absent: false. */
  countBots?: boolean;
}

/** Checks a project's `countBots` setting, naming where it was found and the bad value. */
export function parseCountBots(value: unknown, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean')
    throw new ConfigError(
      where,
      `"countBots" must be true or false, got ${JSON.stringify(value).slice(0, 40)}`,
    );
  return value;
}

/** The projects whose setting `countBots` is true. */
export function botCountingProjects(projects: readonly ProjectKey[]): string[] {
  return projects.filter((p) => p.countBots === true).map((p) => p.project);
}

/** The SHA-256 (hex) under which a key is stored. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Finds the project a key belongs to, comparing hashes in constant time. */
export class KeyRing {
  private readonly entries: Array<{ project: string; hash: Buffer }>;

  constructor(keys: ReadonlyArray<{ project: string; sha256: string }>) {
    this.entries = keys.map(({ project, sha256 }) => {
      if (!PROJECT_ID_PATTERN.test(project)) {
        throw new ConfigError(
          'projects',
          `project id ${JSON.stringify(project)} does not match ${PROJECT_ID_PATTERN}`,
        );
      }
      if (!/^[0-9a-f]{64}$/.test(sha256)) {
        throw new ConfigError('projects', `a key hash of project ${project} is not 64 hex characters`);
      }
      return { project, hash: Buffer.from(sha256, 'hex') };
    });
  }

  /** The project of this key, or null. Every entry is compared, so timing says nothing. */
  projectOf(key: string): string | null {
    const candidate = createHash('sha256').update(key, 'utf8').digest();
    let found: string | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(candidate, entry.hash) && found === null) found = entry.project;
    }
    return found;
  }
}

/** The write keys of these projects. */
export function writeKeyRing(projects: readonly ProjectKey[]): KeyRing {
  return new KeyRing(projects.map((p) => ({ project: p.project, sha256: p.writeKeySha256 })));
}

/** The read keys of these projects (projects without one cannot be read through the API). */
export function readKeyRing(projects: readonly ProjectKey[]): KeyRing {
  return new KeyRing(
    projects.flatMap((p) => (p.readKeySha256 ? [{ project: p.project, sha256: p.readKeySha256 }] : [])),
  );
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
