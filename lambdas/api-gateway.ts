import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type ApiResponse, errorResponse } from '../lib/http.js';

/** The request's headers with lower-cased names (what `lib/` expects, whatever the client sent). */
export function lowerCaseHeaders(event: APIGatewayProxyEventV2): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  return headers;
}

/** An API answer as API Gateway's HTTP API (payload 2.0) takes it. */
export function toProxyResult(response: ApiResponse): APIGatewayProxyStructuredResultV2 {
  const body = response.body === null || response.body === undefined ? '' : JSON.stringify(response.body);
  return { statusCode: response.status, headers: response.headers, body };
}

/** The parts of an API Gateway v2 event every handler needs, read defensively. */
export interface RequestLine {
  method: string;
  path: string;
  /** When API Gateway received the request, epoch ms (now, when the event does not say). */
  receivedAt: number;
}

/**
 * The method, path and receive time of an event, or null when it has no method or path (not an
 * HTTP API v2 event: the handler answers 400). A missing or malformed `timeEpoch` falls back to
 * the clock, so events are never stamped with an impossible time.
 */
export function requestLineOf(event: APIGatewayProxyEventV2): RequestLine | null {
  const context = event.requestContext as Partial<APIGatewayProxyEventV2['requestContext']> | undefined;
  const method = context?.http?.method;
  const path = event.rawPath ?? context?.http?.path;
  if (typeof method !== 'string' || typeof path !== 'string') return null;
  // API Gateway sends a body as text (base64 when binary), or none.
  if (event.body !== undefined && event.body !== null && typeof event.body !== 'string') return null;
  const epoch = context?.timeEpoch;
  const receivedAt =
    typeof epoch === 'number' && Number.isSafeInteger(epoch) && epoch > 0 ? epoch : Date.now();
  return { method, path, receivedAt };
}

/** The answer to an event that is not an HTTP API v2 request. */
export const NOT_AN_HTTP_REQUEST = errorResponse(
  400,
  'invalid_request',
  'the event is not an API Gateway HTTP API (payload 2.0) request: no method or path, or a body that is not text',
);
