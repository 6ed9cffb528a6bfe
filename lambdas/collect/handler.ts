import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { readEndpoint, readHashKey, readProjects, readStreamRef } from '../../lib/config.js';
import { writeKeyRing } from '../../lib/ingest/auth.js';
import { type CollectDeps, type CollectRequest, collect } from '../../lib/ingest/collect.js';
import type { Logger } from '../../lib/log.js';
import { KinesisStreamWriter } from '../../lib/stream/kinesis.js';
import { kinesisClient } from '../aws.js';
import { lambdaLogger } from '../logger.js';
import { withSecrets } from '../secrets.js';

export type CollectHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

function toRequest(event: APIGatewayProxyEventV2): CollectRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body = event.body ?? '';
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    headers,
    body: Buffer.from(body, event.isBase64Encoded ? 'base64' : 'utf8'),
    receivedAt: event.requestContext.timeEpoch,
  };
}

/** The collect handler over the given dependencies (the local server passes its own). */
export function createCollectHandler(deps: CollectDeps, logger: Logger): CollectHandler {
  return async (event) => {
    try {
      const { response, stats } = await collect(toRequest(event), deps);
      const level = response.status >= 500 ? 'error' : 'info';
      logger[level]('collect', { path: event.rawPath, status: response.status, ...stats });
      return { statusCode: response.status, headers: response.headers, body: JSON.stringify(response.body) };
    } catch (error) {
      logger.error('collect failed', { path: event.rawPath, error: (error as Error).message });
      return {
        statusCode: 500,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          error: { code: 'internal_error', message: 'the request could not be processed; retry later' },
        }),
      };
    }
  };
}

let fromEnv: Promise<CollectHandler> | undefined;

/** Lambda entry point: configuration (secrets included) and clients are read and made once per cold start. */
export const handler: CollectHandler = async (event) => {
  fromEnv ??= withSecrets(process.env).then((env) =>
    createCollectHandler(
      {
        writeKeys: writeKeyRing(readProjects(env)),
        hashKey: readHashKey(env),
        stream: new KinesisStreamWriter(kinesisClient(readEndpoint(env)), readStreamRef(env)),
      },
      lambdaLogger('collect'),
    ),
  );
  // A failed start (secret not readable yet) is retried by the next invocation, not cached.
  const ready = fromEnv.catch((error: unknown) => {
    fromEnv = undefined;
    throw error;
  });
  return (await ready)(event);
};
