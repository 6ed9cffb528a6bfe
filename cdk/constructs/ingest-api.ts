import { type CfnStage, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { collectorRoutes } from '../../lib/ingest/routes.js';

export interface IngestApiProps {
  collect: LambdaFunction;
  /** Browser origins allowed on the collection routes; empty: any origin (write keys are public in a page). */
  allowedOrigins: string[];
  throttleRate: number;
  throttleBurst: number;
  logRetention: RetentionDays;
}

/**
 * The HTTP API: every route the Segment and RudderStack SDKs use, and an `OPTIONS` route beside
 * each, to the collect function; default route throttling and JSON access logs. CORS is answered
 * by the collect function, not by the API's CORS setting: that setting would apply to every route
 * and open the read-key route to any origin too. Authentication is the write key, checked in the
 * function (Segment's protocol), so the routes carry no API Gateway authorizer.
 */
export class IngestApi extends Construct {
  readonly api: HttpApi;

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'Tally: Segment-compatible collection API and the active-users API',
    });
    props.collect.addEnvironment('TALLY_ALLOWED_ORIGINS', props.allowedOrigins.join(',') || '*');
    const integration = new HttpLambdaIntegration('Collect', props.collect);
    for (const { path, method } of collectorRoutes()) {
      this.api.addRoutes({ path, methods: [HttpMethod[method], HttpMethod.OPTIONS], integration });
    }
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

  /**
   * Adds the read-key routes and the dashboard page that reads them, on the same origin (so the
   * page needs no CORS), when a warehouse is configured.
   */
  addMetrics(metrics: IFunction): void {
    const integration = new HttpLambdaIntegration('Metrics', metrics);
    for (const path of [
      '/v1/projects/{project}/active-users',
      '/v1/projects/{project}/health',
      '/dashboard',
      '/dashboard/{file}',
    ]) {
      this.api.addRoutes({ path, methods: [HttpMethod.GET], integration });
    }
  }
}
