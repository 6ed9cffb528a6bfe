import { type CfnStage, CorsHttpMethod, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES } from '../../lib/ingest/collect.js';

export interface IngestApiProps {
  collect: IFunction;
  /** Origins allowed from browsers; empty: no CORS headers at all. */
  allowedOrigins: string[];
  throttleRate: number;
  throttleBurst: number;
  logRetention: RetentionDays;
}

/**
 * The HTTP API: Segment's routes to the collect function, CORS limited to an allow-list, default
 * route throttling and JSON access logs. Authentication is the write key, checked in the function
 * (Segment's protocol), so the routes carry no API Gateway authorizer.
 */
export class IngestApi extends Construct {
  readonly api: HttpApi;

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'Tally: Segment-compatible collection API and the active-users API',
      ...(props.allowedOrigins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: props.allowedOrigins,
              allowMethods: [CorsHttpMethod.POST, CorsHttpMethod.GET],
              allowHeaders: ['content-type', 'authorization', 'content-encoding'],
            },
          }
        : {}),
    });
    const integration = new HttpLambdaIntegration('Collect', props.collect);
    for (const path of Object.keys(ROUTES))
      this.api.addRoutes({ path, methods: [HttpMethod.POST], integration });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    const stage = this.api.defaultStage?.node.defaultChild as CfnStage;
    stage.defaultRouteSettings = {
      throttlingRateLimit: props.throttleRate,
      throttlingBurstLimit: props.throttleBurst,
    };
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        route: '$context.routeKey',
        status: '$context.status',
        latency: '$context.integrationLatency',
        time: '$context.requestTime',
      }),
    };
  }

  /** Adds the active-users route (when a warehouse is configured). */
  addMetrics(metrics: IFunction): void {
    this.api.addRoutes({
      path: '/v1/projects/{project}/active-users',
      methods: [HttpMethod.GET],
      integration: new HttpLambdaIntegration('Metrics', metrics),
    });
  }
}
