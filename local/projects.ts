import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashWriteKey, type ProjectKey } from '../lib/ingest/auth.js';
import type { HashKey } from '../lib/ingest/pseudonymize.js';

/** What the local runtime keeps in its data dir: the server side holds only write-key hashes. */
export interface LocalSecrets {
  projects: ProjectKey[];
  hashKey: HashKey;
  /** The user's copy of each write key (file mode 0600), so `npm start` can print it again. */
  writeKeys: Record<string, string>;
  /** True when this call created the `default` project. */
  created: boolean;
}

interface ConfigFile {
  projects: ProjectKey[];
  hmacKey: string;
  hmacKeyVersion: number;
}

/** A write key in the shape Segment's are: 32 URL-safe characters. */
export function newWriteKey(): string {
  return randomBytes(24).toString('base64url');
}

/** Loads the local projects and HMAC key, creating project `default` and a key on first start. */
export async function loadOrCreateSecrets(dataDir: string): Promise<LocalSecrets> {
  const configPath = join(dataDir, 'config.json');
  const keysPath = join(dataDir, 'write-keys.json');
  try {
    const config = JSON.parse(await readFile(configPath, 'utf8')) as ConfigFile;
    const writeKeys = JSON.parse(await readFile(keysPath, 'utf8').catch(() => '{}')) as Record<
      string,
      string
    >;
    return {
      projects: config.projects,
      hashKey: { secret: Buffer.from(config.hmacKey, 'base64'), version: config.hmacKeyVersion },
      writeKeys,
      created: false,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const writeKey = newWriteKey();
  const config: ConfigFile = {
    projects: [{ project: 'default', writeKeySha256: hashWriteKey(writeKey) }],
    hmacKey: randomBytes(32).toString('base64'),
    hmacKeyVersion: 1,
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(keysPath, JSON.stringify({ default: writeKey }, null, 2), { mode: 0o600 });
  await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  return {
    projects: config.projects,
    hashKey: { secret: Buffer.from(config.hmacKey, 'base64'), version: 1 },
    writeKeys: { default: writeKey },
    created: true,
  };
}
