import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { answerCollect } from '../../lib/ingest/answer.js';
import type { CollectDeps, CollectRequest } from '../../lib/ingest/collect.js';
import type { Logger } from '../../lib/log.js';
import type { CollectCount } from '../../lib/metrics.js';
import {
  lowerCaseHeaders,
  NOT_AN_HTTP_REQUEST,
  type RequestLine,
  requestLineOf,
  toProxyResult,
} from '../api-gateway.js';
import { onColdStart } from '../cold-start.js';
import { lambdaLogger } from '../logger.js';
import { LambdaMetrics } from '../metrics-emf.js';
import { withSecrets } from '../secrets.js';
import { onStreamThrottled, streamWriterFromEnv } from '../stream.js';
import { collectDepsFromEnv } from './deps.js';

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
    sourceIp: event.requestContext?.http?.sourceIp,
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
    return toProxyResult(await answerCollect(toRequest(event, line), deps, logger, count));
  };
}

const metrics = new LambdaMetrics('collect');

const fromEnv = onColdStart(async () => {
  const env = await withSecrets(process.env);
  const logger = lambdaLogger('collect');
  const stream = streamWriterFromEnv(env);
  // Throttled produces of a request are written after its answer's metrics (a document each).
  let throttled = 0;
  onStreamThrottled(env, () => {
    throttled++;
  });
  return createCollectHandler(collectDepsFromEnv(env, stream, logger), logger, (c) => {
    metrics.collected(c);
    if (throttled > 0) metrics.throttled(throttled);
    throttled = 0;
  });
});

/** Lambda entry point: configuration (secrets included) and clients are read and made once per cold start. */
export const handler: CollectHandler = async (event) => (await fromEnv())(event);
