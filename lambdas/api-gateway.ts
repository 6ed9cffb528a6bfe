import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ApiResponse } from '../lib/http.js';

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
