import type { Template } from 'aws-cdk-lib/assertions';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { HttpHandler } from '../../local/server.js';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

interface CorsConfiguration {
  AllowOrigins?: string[];
  AllowHeaders?: string[];
  AllowMethods?: string[];
  MaxAge?: number;
}

/** The logical id a `Fn::GetAtt` / `Ref` / `Fn::Join` value points at (the first one found). */
function referencedId(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (Array.isArray(v['Fn::GetAtt'])) return String(v['Fn::GetAtt'][0]);
  if (typeof v.Ref === 'string') return v.Ref;
  for (const child of Object.values(v).flat()) {
    const id = referencedId(child);
    if (id !== null) return id;
  }
  return null;
}

/** The routes of the template's HTTP API: route key -> the logical id of the function it invokes. */
export function routesOf(template: Template): Map<string, string> {
  const resources = template.toJSON().Resources as Resources;
  const routes = new Map<string, string>();
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::ApiGatewayV2::Route') continue;
    const integrationId = referencedId(r.Properties.Target);
    const integration = integrationId ? resources[integrationId] : undefined;
    const functionId = integration ? referencedId(integration.Properties.IntegrationUri) : null;
    if (functionId === null) throw new Error(`route ${String(r.Properties.RouteKey)} invokes no function`);
    routes.set(String(r.Properties.RouteKey), functionId);
  }
  return routes;
}

/** The environment variables the template gives the function whose logical id starts with `prefix`. */
export function environmentOf(template: Template, prefix: string): Record<string, string> {
  const resources = template.toJSON().Resources as Resources;
  const [, fn] =
    Object.entries(resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix),
    ) ?? [];
  if (!fn) throw new Error(`no function ${prefix} in the template`);
  return ((fn.Properties.Environment as { Variables?: Record<string, string> })?.Variables ?? {}) as Record<
    string,
    string
  >;
}

/**
 * API Gateway's matching of a route key (`GET /v1/projects/{project}/settings`) to a request: a
 * parameter takes one non-empty segment, a greedy one (`{tail+}`) one or more characters, slashes
 * included (so `/sourceConfig/{tail+}` does not match `/sourceConfig/`); `$default` is tried last.
 */
function routeMatches(routeKey: string, method: string, path: string): boolean {
  const [routeMethod, routePath = ''] = routeKey.split(' ');
  if (routeMethod !== method && routeMethod !== 'ANY') return false;
  const pattern = routePath
    .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
    .replace(/\{[^}]+\\\+\}/g, '.+')
    .replace(/\{[^}]+\}/g, '[^/]+');
  return new RegExp(`^${pattern}$`).test(path);
}

function json(statusCode: number, body: unknown, headers: Record<string, string> = {}) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * An HTTP API as the synthesized template declares it, in front of local handlers: a request
 * reaches a function only through a route of the template (else API Gateway's own 404), and when
 * the API has a CORS configuration, API Gateway answers preflights itself and sets the CORS
 * headers of every answer (its documented behaviour), whatever the function says.
 */
export function httpApiStandIn(template: Template, handlers: Record<string, HttpHandler>): HttpHandler {
  const routes = routesOf(template);
  const api = Object.values(template.toJSON().Resources as Resources).find(
    (r) => r.Type === 'AWS::ApiGatewayV2::Api',
  );
  const cors = api?.Properties.CorsConfiguration as CorsConfiguration | undefined;
  const handlerOf = (functionId: string): HttpHandler => {
    const prefix = Object.keys(handlers).find((p) => functionId.startsWith(p));
    if (!prefix) throw new Error(`no local handler for function ${functionId}`);
    return handlers[prefix]!;
  };
  return async (event: APIGatewayProxyEventV2) => {
    const method = event.requestContext.http.method;
    const origin = event.headers.origin;
    const originOk =
      cors !== undefined &&
      origin !== undefined &&
      (cors.AllowOrigins ?? []).some((o) => o === '*' || o.toLowerCase() === origin.toLowerCase());
    if (cors && method === 'OPTIONS' && event.headers['access-control-request-method']) {
      if (!originOk) return { statusCode: 204, body: '' };
      return {
        statusCode: 204,
        headers: {
          'access-control-allow-origin': origin!,
          'access-control-allow-methods': (cors.AllowMethods ?? []).join(','),
          'access-control-allow-headers': (cors.AllowHeaders ?? []).join(','),
          ...(cors.MaxAge ? { 'access-control-max-age': String(cors.MaxAge) } : {}),
        },
        body: '',
      };
    }
    const functionId =
      [...routes].find(([key]) => routeMatches(key, method, event.rawPath))?.[1] ?? routes.get('$default');
    if (functionId === undefined) return json(404, { message: 'Not Found' });
    const result = await handlerOf(functionId)({ ...event, routeKey: `${method} ${event.rawPath}` });
    if (!cors) return result;
    const headers = Object.fromEntries(
      Object.entries(result.headers ?? {}).filter(
        ([name]) => !name.toLowerCase().startsWith('access-control-'),
      ),
    );
    if (originOk) headers['access-control-allow-origin'] = origin!;
    return { ...result, headers };
  };
}
