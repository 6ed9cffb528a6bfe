import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { readEndpoint, readLakeBucket, readProjects } from '../../lib/config.js';
import { errorResponse } from '../../lib/http.js';
import { readKeyRing } from '../../lib/ingest/auth.js';
import { loggablePath } from '../../lib/ingest/routes.js';
import { S3ObjectStore } from '../../lib/lake/s3-store.js';
import type { Logger } from '../../lib/log.js';
import { activeUsersApi, type MetricsDeps } from '../../lib/warehouse/metrics-api.js';
import { lowerCaseHeaders, NOT_AN_HTTP_REQUEST, requestLineOf, toProxyResult } from '../api-gateway.js';
import { s3Client } from '../aws.js';
import { onColdStart } from '../cold-start.js';
import { dashboardFile, isDashboardPath } from '../dashboard.js';
import { lambdaLogger } from '../logger.js';
import { withSecrets } from '../secrets.js';
import { starRocksFromEnv } from '../starrocks.js';

export type MetricsHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The active-users API over the given warehouse (StarRocks on AWS, DuckDB locally). */
export function createMetricsHandler(deps: MetricsDeps, logger: Logger): MetricsHandler {
  return async (event) => {
    const line = requestLineOf(event);
    if (line === null) return toProxyResult(NOT_AN_HTTP_REQUEST);
    if (line.method === 'GET' && isDashboardPath(line.path)) return dashboardFile(line.path);
    try {
      const response = await activeUsersApi(
        {
          method: line.method,
          path: line.path,
          headers: lowerCaseHeaders(event),
          query: event.queryStringParameters ?? {},
          now: new Date(line.receivedAt),
        },
        deps,
      );
      // A line only for what went wrong; the path as it may be logged (a key a client put where
      // the project goes is not).
      if (response.status >= 400) {
        logger.warn('active-users', { path: loggablePath(line.path), status: response.status });
      }
      return toProxyResult(response);
    } catch (error) {
      logger.error('active-users failed', { path: loggablePath(line.path), error: (error as Error).message });
      return toProxyResult(
        errorResponse(503, 'warehouse_unavailable', 'the warehouse did not answer; retry later', {
          'retry-after': '5',
        }),
      );
    }
  };
}

const fromEnv = onColdStart(async () => {
  const env = await withSecrets(process.env);
  const projects = readProjects(env);
  return createMetricsHandler(
    {
      projects: new Set(projects.map((p) => p.project)),
      readKeys: readKeyRing(projects),
      warehouse: starRocksFromEnv(env),
      ...(env.TALLY_LAKE_BUCKET
        ? {
            store: new S3ObjectStore(s3Client(readEndpoint(env, 'S3')), readLakeBucket(env)),
            manifestCache: new Map(),
          }
        : {}),
    },
    lambdaLogger('metrics'),
  );
});

/** Lambda entry point: configuration (secrets included), the StarRocks pool and the logger are made once per cold start. */
export const handler: MetricsHandler = async (event) => (await fromEnv())(event);
