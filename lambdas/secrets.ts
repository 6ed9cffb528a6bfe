import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Env } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';

/**
 * The configuration a Lambda reads from Secrets Manager at cold start, turned into the same
 * variables `lib/config.ts` validates, so keys never sit in the template or the environment:
 * - `TALLY_HMAC_SECRET_ARN`: `{"hmacKey": "<base64, >= 32 bytes>", "hmacKeyVersion": 1,
 *   "previousKeys": [{"hmacKey", "hmacKeyVersion"}]}` (older keys, optional: erasure uses them)
 * - `TALLY_PROJECTS_SECRET_ARN`: `{"projects": [{"project", "writeKeySha256", "readKeySha256", "requestsPerSecond"}]}`
 * - `TALLY_STARROCKS_SECRET_ARN`: `{"username", "password"}`
 * - `TALLY_KAFKA_SECRET_ARN`: `{"username", "password"}` (SASL/SCRAM to an existing Kafka cluster)
 * A variable set directly wins over its secret (local runs, tests).
 */
export async function withSecrets(
  env: Env,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<Env> {
  const out: Record<string, string | undefined> = { ...env };
  const read = async (variable: string): Promise<Record<string, unknown> | null> => {
    const arn = env[variable]?.trim();
    if (!arn) return null;
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    try {
      return JSON.parse(SecretString ?? '') as Record<string, unknown>;
    } catch {
      throw new ConfigError(variable, 'the secret is not a JSON object');
    }
  };
  const hmac = await read('TALLY_HMAC_SECRET_ARN');
  if (hmac) {
    out.TALLY_HMAC_KEY ??= String(hmac.hmacKey ?? '');
    out.TALLY_HMAC_KEY_VERSION ??= String(hmac.hmacKeyVersion ?? '1');
    if (Array.isArray(hmac.previousKeys)) out.TALLY_HMAC_PREVIOUS_KEYS ??= JSON.stringify(hmac.previousKeys);
  }
  const projects = await read('TALLY_PROJECTS_SECRET_ARN');
  if (projects) out.TALLY_PROJECTS ??= JSON.stringify(projects.projects ?? []);
  const starrocks = await read('TALLY_STARROCKS_SECRET_ARN');
  if (starrocks) {
    out.TALLY_STARROCKS_USER ??= String(starrocks.username ?? 'root');
    out.TALLY_STARROCKS_PASSWORD ??= String(starrocks.password ?? '');
  }
  const kafka = await read('TALLY_KAFKA_SECRET_ARN');
  if (kafka) {
    out.TALLY_KAFKA_USERNAME ??= String(kafka.username ?? '');
    out.TALLY_KAFKA_PASSWORD ??= String(kafka.password ?? '');
  }
  return out;
}
