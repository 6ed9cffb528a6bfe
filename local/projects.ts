import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../lib/errors.js';
import { hashKey, type ProjectKey, parseCountBots } from '../lib/ingest/auth.js';
import { PROJECT_ID_PATTERN } from '../lib/ingest/limits.js';
import type { HashKey } from '../lib/ingest/pseudonymize.js';
import { parseRequestsPerSecond } from '../lib/ingest/quota.js';

/** What the local runtime keeps in its data dir: the server side holds only key hashes. */
export interface LocalSecrets {
  projects: ProjectKey[];
  hashKey: HashKey;
  /** Keys used before the current one (`previousKeys` in config.json): erasure hashes with them too. */
  previousHashKeys: HashKey[];
  /** The user's copy of each write key (file mode 0600), so `npm start` can print it again. */
  writeKeys: Record<string, string>;
  /** The user's copy of each read key (file mode 0600), for the metrics API. */
  readKeys: Record<string, string>;
  /** True when this call created the `default` project. */
  created: boolean;
}

interface ConfigFile {
  projects: ProjectKey[];
  hmacKey: string;
  hmacKeyVersion: number;
  previousKeys?: Array<{ hmacKey: string; hmacKeyVersion: number }>;
}

/** A key in the shape Segment's write keys are: 32 URL-safe characters. */
export function newKey(): string {
  return randomBytes(24).toString('base64url');
}

async function readJson<T>(path: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  }
}

async function writePrivate(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}

/**
 * Loads the local projects and HMAC key, creating project `default` with its keys on first
 * start, and a read key for any project that has none yet (data dirs made before read keys).
 */
export async function loadOrCreateSecrets(dataDir: string): Promise<LocalSecrets> {
  const configPath = join(dataDir, 'config.json');
  const writeKeysPath = join(dataDir, 'write-keys.json');
  const readKeysPath = join(dataDir, 'read-keys.json');
  await mkdir(dataDir, { recursive: true });
  let config = await readJson<ConfigFile | null>(configPath, null);
  const writeKeys = await readJson<Record<string, string>>(writeKeysPath, {});
  const readKeys = await readJson<Record<string, string>>(readKeysPath, {});
  const created = config === null;
  if (config === null) {
    const writeKey = newKey();
    writeKeys.default = writeKey;
    config = {
      projects: [{ project: 'default', writeKeySha256: hashKey(writeKey) }],
      hmacKey: randomBytes(32).toString('base64'),
      hmacKeyVersion: 1,
    };
    await writePrivate(writeKeysPath, writeKeys);
  }
  for (const p of config.projects) {
    parseRequestsPerSecond(p.requestsPerSecond, `${configPath}, project ${JSON.stringify(p.project)}`);
    parseCountBots(p.countBots, `${configPath}, project ${JSON.stringify(p.project)}`);
  }
  const withoutReadKey = config.projects.filter((p) => !p.readKeySha256);
  for (const p of withoutReadKey) {
    const readKey = newKey();
    readKeys[p.project] = readKey;
    p.readKeySha256 = hashKey(readKey);
  }
  if (withoutReadKey.length > 0) await writePrivate(readKeysPath, readKeys);
  if (created || withoutReadKey.length > 0) await writePrivate(configPath, config);
  return {
    projects: config.projects,
    hashKey: { secret: Buffer.from(config.hmacKey, 'base64'), version: config.hmacKeyVersion },
    previousHashKeys: (config.previousKeys ?? []).map((k) => ({
      secret: Buffer.from(k.hmacKey, 'base64'),
      version: k.hmacKeyVersion,
    })),
    writeKeys,
    readKeys,
    created,
  };
}

/** Creates a project with new keys in the data dir; the caller gets the keys once. */
export async function addProject(
  dataDir: string,
  secrets: LocalSecrets,
  project: string,
): Promise<{ writeKey: string; readKey: string }> {
  if (!PROJECT_ID_PATTERN.test(project)) {
    throw new ConfigError(
      'project',
      `${JSON.stringify(project).slice(0, 70)} does not match ${PROJECT_ID_PATTERN}`,
    );
  }
  if (secrets.projects.some((p) => p.project === project)) {
    throw new ConfigError('project', `project ${project} exists already`);
  }
  const writeKey = newKey();
  const readKey = newKey();
  secrets.projects.push({ project, writeKeySha256: hashKey(writeKey), readKeySha256: hashKey(readKey) });
  secrets.writeKeys[project] = writeKey;
  secrets.readKeys[project] = readKey;
  const configPath = join(dataDir, 'config.json');
  const config = await readJson<ConfigFile>(configPath, { projects: [], hmacKey: '', hmacKeyVersion: 1 });
  config.projects = secrets.projects;
  await writePrivate(join(dataDir, 'write-keys.json'), secrets.writeKeys);
  await writePrivate(join(dataDir, 'read-keys.json'), secrets.readKeys);
  await writePrivate(configPath, config);
  return { writeKey, readKey };
}
