/** An HTTP response as the handlers return it, whatever carries it (API Gateway, local server). */
export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The error shape of every Tally API: `{"error": {"code", "message"}}`. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): ApiResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: { error: { code, message } },
  };
}

export function jsonResponse(body: unknown, status = 200): ApiResponse {
  return { status, headers: { 'content-type': 'application/json' }, body };
}
