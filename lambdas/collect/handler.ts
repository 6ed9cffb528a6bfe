import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  type Env,
  readCorsPolicy,
  readEndpoint,
  readHashKey,
  readProjects,
  readQuotaSettings,
  readStreamRef,
} from '../../lib/config.js';
import { errorResponse } from '../../lib/http.js';
import { writeKeyRing } from '../../lib/ingest/auth.js';
import { type CollectDeps, type CollectRequest, collect } from '../../lib/ingest/collect.js';
import { ANY_ORIGIN, corsHeaders } from '../../lib/ingest/cors.js';
import { ProjectQuotas, quotaLimits } from '../../lib/ingest/quota.js';
import { DynamoDbQuotaCounter } from '../../lib/ingest/quota-table.js';
import { loggablePath } from '../../lib/ingest/routes.js';
import type { Logger } from '../../lib/log.js';
import { type CollectCount, collectCount } from '../../lib/metrics.js';
import { KinesisStreamWriter } from '../../lib/stream/kinesis.js';
import {
  lowerCaseHeaders,
  NOT_AN_HTTP_REQUEST,
  type RequestLine,
  requestLineOf,
  toProxyResult,
} from '../api-gateway.js';
import { dynamoDbClient, kinesisClient } from '../aws.js';
import { onColdStart } from '../cold-start.js';
import { lambdaLogger } from '../logger.js';
import { LambdaMetrics } from '../metrics-emf.js';
import { withSecrets } from '../secrets.js';

export type CollectHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

function toRequest(event: APIGatewayProxyEventV2, line: RequestLine): CollectRequest {
  const body = event.body ?? '';
  return {
    method: line.method,
    path: line.path,
    headers: lowerCaseHeaders(event),
    query: event.queryStringParameters ?? {},
    body: Buffer.from(body, event.isBase64Encoded ? 'base64' : 'utf8'),
    receivedAt: line.receivedAt,
  };
}

/** The collect handler over the given dependencies (the local server passes its own). */
export function createCollectHandler(
  deps: CollectDeps,
  logger: Logger,
  count: (c: CollectCount) => void = () => {},
): CollectHandler {
  return async (event) => {
    const line = requestLineOf(event);
    if (line === null) return toProxyResult(NOT_AN_HTTP_REQUEST);
    const request = toRequest(event, line);
    try {
      const { response, stats } = await collect(request, deps);
      const level = response.status >= 500 ? 'error' : 'info';
      logger[level]('collect', { path: loggablePath(line.path), status: response.status, ...stats });
      count(collectCount(stats, response));
      return toProxyResult(response);
    } catch (error) {
      logger.error('collect failed', { path: loggablePath(line.path), error: (error as Error).message });
      count({ project: null, accepted: 0, rejected: 0, status: 500, code: 'internal_error' });
      const cors = corsHeaders(request.headers.origin, deps.cors ?? ANY_ORIGIN);
      return toProxyResult(
        errorResponse(500, 'internal_error', 'the request could not be processed; retry later', cors),
      );
    }
  };
}

const metrics = new LambdaMetrics('collect');

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
  const counter = new DynamoDbQuotaCounter(dynamoDbClient(readEndpoint(env)), settings.table);
  return new ProjectQuotas(limits, counter, {
    onCounterError: (error) =>
      logger.warn('quota counter failed; the request is admitted', { error: (error as Error).message }),
  });
}

const fromEnv = onColdStart(async () => {
  const env = await withSecrets(process.env);
  const logger = lambdaLogger('collect');
  const projects = readProjects(env);
  const quotas = quotasOf(env, projects, logger);
  return createCollectHandler(
    {
      writeKeys: writeKeyRing(projects),
      hashKey: readHashKey(env),
      stream: new KinesisStreamWriter(kinesisClient(readEndpoint(env)), readStreamRef(env)),
      cors: readCorsPolicy(env),
      ...(quotas ? { quotas } : {}),
    },
    logger,
    (c) => metrics.collected(c),
  );
});

/** Lambda entry point: configuration (secrets included) and clients are read and made once per cold start. */
export const handler: CollectHandler = async (event) => (await fromEnv())(event);
