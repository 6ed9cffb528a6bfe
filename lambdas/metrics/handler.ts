import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { readProjects } from '../../lib/config.js';
import { readKeyRing } from '../../lib/ingest/auth.js';
import type { Logger } from '../../lib/log.js';
import { activeUsersApi, type MetricsDeps } from '../../lib/warehouse/metrics-api.js';
import { lambdaLogger } from '../logger.js';
import { withSecrets } from '../secrets.js';
import { starRocksFromEnv } from '../starrocks.js';

export type MetricsHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The active-users API over the given warehouse (StarRocks on AWS, DuckDB locally). */
export function createMetricsHandler(deps: MetricsDeps, logger: Logger): MetricsHandler {
  return async (event) => {
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
    try {
      const response = await activeUsersApi(
        {
          method: event.requestContext.http.method,
          path: event.rawPath,
          headers,
          query: event.queryStringParameters ?? {},
          now: new Date(event.requestContext.timeEpoch),
        },
        deps,
      );
      logger.info('active-users', { path: event.rawPath, status: response.status });
      return { statusCode: response.status, headers: response.headers, body: JSON.stringify(response.body) };
    } catch (error) {
      logger.error('active-users failed', { path: event.rawPath, error: (error as Error).message });
      return {
        statusCode: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '5' },
        body: JSON.stringify({
          error: { code: 'warehouse_unavailable', message: 'the warehouse did not answer; retry later' },
        }),
      };
    }
  };
}

let fromEnv: Promise<MetricsHandler> | undefined;

/** Lambda entry point: configuration (secrets included), the StarRocks pool and the logger are made once per cold start. */
export const handler: MetricsHandler = async (event) => {
  fromEnv ??= withSecrets(process.env).then((env) => {
    const projects = readProjects(env);
    return createMetricsHandler(
      {
        projects: new Set(projects.map((p) => p.project)),
        readKeys: readKeyRing(projects),
        warehouse: starRocksFromEnv(env),
      },
      lambdaLogger('metrics'),
    );
  });
  // A failed start (secret not readable yet) is retried by the next invocation, not cached.
  const ready = fromEnv.catch((error: unknown) => {
    fromEnv = undefined;
    throw error;
  });
  return (await ready)(event);
};
