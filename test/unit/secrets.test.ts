import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { withSecrets } from '../../lambdas/secrets.js';
import { readDefaultQuota, readHashKey, readProjects, readQuotaSettings } from '../../lib/config.js';
import { botCountingProjects } from '../../lib/ingest/auth.js';
import { countedRows } from '../../lib/warehouse/people.js';

function fakeClient(secrets: Record<string, string>): SecretsManagerClient {
  return {
    async send(command: { input: { SecretId: string } }) {
      const SecretString = secrets[command.input.SecretId];
      if (SecretString === undefined)
        throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
      return { SecretString };
    },
  } as unknown as SecretsManagerClient;
}

describe('withSecrets', () => {
  const client = fakeClient({
    hmac: JSON.stringify({ hmacKey: 'A'.repeat(64), hmacKeyVersion: 2 }),
    projects: JSON.stringify({ projects: [{ project: 'shop', writeKeySha256: 'a'.repeat(64) }] }),
    starrocks: JSON.stringify({ username: 'tally', password: 'p' }),
  });

  it('turns the secrets into the variables lib/config validates', async () => {
    const env = await withSecrets(
      {
        TALLY_HMAC_SECRET_ARN: 'hmac',
        TALLY_PROJECTS_SECRET_ARN: 'projects',
        TALLY_STARROCKS_SECRET_ARN: 'starrocks',
      },
      client,
    );
    expect(readHashKey(env)).toEqual({ secret: Buffer.from('A'.repeat(64), 'base64'), version: 2 });
    expect(readProjects(env)).toEqual([{ project: 'shop', writeKeySha256: 'a'.repeat(64) }]);
    expect([env.TALLY_STARROCKS_USER, env.TALLY_STARROCKS_PASSWORD]).toEqual(['tally', 'p']);
  });

  it('keeps variables that are set directly', async () => {
    const env = await withSecrets({ TALLY_HMAC_SECRET_ARN: 'hmac', TALLY_HMAC_KEY: 'direct' }, client);
    expect(env.TALLY_HMAC_KEY).toBe('direct');
  });

  it('names the variable when a secret is not JSON', async () => {
    await expect(
      withSecrets({ TALLY_PROJECTS_SECRET_ARN: 'bad' }, fakeClient({ bad: 'nope' })),
    ).rejects.toThrow(/TALLY_PROJECTS_SECRET_ARN: the secret is not a JSON object/);
  });
});

describe('quota settings from the environment', () => {
  const entry = { project: 'shop', writeKeySha256: 'a'.repeat(64) };

  it("read a project's quota from its entry, refusing what is not a positive integer", () => {
    const env = (requestsPerSecond: unknown) => ({
      TALLY_PROJECTS: JSON.stringify([{ ...entry, requestsPerSecond }]),
    });
    expect(readProjects(env(150))).toEqual([{ ...entry, requestsPerSecond: 150 }]);
    expect(() => readProjects(env('150'))).toThrow(
      'TALLY_PROJECTS entry 0: "requestsPerSecond" must be an integer from 1 to 1000000, got "150"',
    );
  });

  it("read a project's countBots setting, refusing what is not true or false, and turn it into rule 0", () => {
    const env = (countBots: unknown) => ({ TALLY_PROJECTS: JSON.stringify([{ ...entry, countBots }]) });
    const projects = readProjects(env(true));
    expect(projects).toEqual([{ ...entry, countBots: true }]);
    expect(botCountingProjects([...projects, { ...entry, project: 'blog' }])).toEqual(['shop']);
    expect(() => readProjects(env('yes'))).toThrow(
      'TALLY_PROJECTS entry 0: "countBots" must be true or false, got "yes"',
    );
    expect(countedRows([])).toBe('NOT coalesce(bot, false)');
    expect(countedRows(['shop', 'blog', 'shop'])).toBe(
      "(NOT coalesce(bot, false) OR project IN ('blog', 'shop'))",
    );
    expect(() => countedRows(["x') OR true --"])).toThrow(/countBots names an invalid project/);
  });

  it('read the table and the default quota, and no quotas without a table', () => {
    expect(readQuotaSettings({})).toBeNull();
    expect(readQuotaSettings({ TALLY_QUOTA_TABLE: 'q' })).toEqual({ table: 'q', fallback: null });
    expect(readQuotaSettings({ TALLY_QUOTA_TABLE: 'q', TALLY_PROJECT_REQUESTS_PER_SECOND: '80' })).toEqual({
      table: 'q',
      fallback: 80,
    });
    expect(() => readDefaultQuota({ TALLY_PROJECT_REQUESTS_PER_SECOND: '-3' })).toThrow(
      'TALLY_PROJECT_REQUESTS_PER_SECOND: must be an integer from 1 to 1000000, got "-3"',
    );
  });
});
