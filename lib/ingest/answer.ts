import { type ApiResponse, errorResponse } from '../http.js';
import type { Logger } from '../log.js';
import { type CollectCount, collectCount } from '../metrics.js';
import { type CollectDeps, type CollectRequest, collect } from './collect.js';
import { ANY_ORIGIN, corsHeaders } from './cors.js';
import { loggablePath } from './routes.js';

/**
 * One collector request, whatever server carries it (the Lambda behind API Gateway, the
 * container behind a load balancer): the collector's answer, one count, and a log line (route
 * words only, no ids, keys or payloads) when it or some of its events were refused; an
 * unexpected failure is a logged 500 with CORS headers.
 */
export async function answerCollect(
  request: CollectRequest,
  deps: CollectDeps,
  logger: Logger,
  count: (c: CollectCount) => void,
): Promise<ApiResponse> {
  try {
    const { response, stats } = await collect(request, deps);
    // A line only for what went wrong: what went right is in the metric document (`count`),
    // and a line a request is most of the Lambda tier's log bill at volume.
    if (response.status >= 400 || stats.rejected > 0) {
      const level = response.status >= 500 ? 'error' : 'warn';
      logger[level]('collect', { path: loggablePath(request.path), status: response.status, ...stats });
    }
    count(collectCount(stats, response));
    return response;
  } catch (error) {
    logger.error('collect failed', { path: loggablePath(request.path), error: (error as Error).message });
    count({ project: null, accepted: 0, rejected: 0, status: 500, code: 'internal_error' });
    const cors = corsHeaders(request.headers.origin, deps.cors ?? ANY_ORIGIN);
    return errorResponse(500, 'internal_error', 'the request could not be processed; retry later', cors);
  }
}
