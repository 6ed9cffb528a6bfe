import {
  type Env,
  readCorsPolicy,
  readEndpoint,
  readHashKey,
  readProjects,
  readQuotaSettings,
} from '../../lib/config.js';
import { type CountryOf, countryReader, packagedCountryDb } from '../../lib/enrich/country.js';
import { writeKeyRing } from '../../lib/ingest/auth.js';
import type { CollectDeps } from '../../lib/ingest/collect.js';
import { ProjectQuotas, quotaLimits } from '../../lib/ingest/quota.js';
import { DynamoDbQuotaCounter } from '../../lib/ingest/quota-table.js';
import type { Logger } from '../../lib/log.js';
import type { StreamWriter } from '../../lib/stream/producer.js';
import { dynamoDbClient } from '../aws.js';

/** The projects' quotas, counted in the deploy's DynamoDB table (none without a table). */
function quotasOf(
  env: Env,
  projects: ReturnType<typeof readProjects>,
  logger: Logger,
): ProjectQuotas | undefined {
  const settings = readQuotaSettings(env);
  if (settings === null) return undefined;
  const limits = quotaLimits(projects, settings.fallback);
  if (limits.size === 0) return undefined;
  const counter = new DynamoDbQuotaCounter(dynamoDbClient(readEndpoint(env, 'DYNAMODB')), settings.table);
  return new ProjectQuotas(limits, counter, {
    onCounterError: (error) =>
      logger.warn('quota counter failed; the request is admitted', { error: (error as Error).message }),
  });
}

const readers = new Map<string, CountryOf>();

/**
 * Countries from `TALLY_COUNTRY_DB` (the deploy places the database beside the bundle), else from
 * its npm package; read once per process and path (the container rebuilds its dependencies when
 * it refreshes its secrets).
 */
export function countryOfEnv(env: Env): CountryOf {
  const path = env.TALLY_COUNTRY_DB || packagedCountryDb();
  let reader = readers.get(path);
  if (reader === undefined) {
    reader = countryReader(path);
    readers.set(path, reader);
  }
  return reader;
}

/**
 * What the collector needs, from the environment (secrets already resolved into it): the key
 * ring, the HMAC key, CORS, the quotas, over the given stream writer. The Lambda and the
 * container build it the same way; the container again when it refreshes its secrets.
 */
export function collectDepsFromEnv(env: Env, stream: StreamWriter, logger: Logger): CollectDeps {
  const projects = readProjects(env);
  const quotas = quotasOf(env, projects, logger);
  return {
    writeKeys: writeKeyRing(projects),
    hashKey: readHashKey(env),
    stream,
    cors: readCorsPolicy(env),
    countryOf: countryOfEnv(env),
    ...(quotas ? { quotas } : {}),
  };
}
