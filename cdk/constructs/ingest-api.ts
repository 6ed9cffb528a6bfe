import { RemovalPolicy } from 'aws-cdk-lib';
import { type CfnStage, HttpApi, HttpMethod, HttpRoute, HttpRouteKey } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { collectorRoutes, READ_ROUTES } from '../../lib/ingest/routes.js';

/**
 * The API's access-log line, lean (a line a request is paid by the byte at volume). No path: a
 * write key may be in it (analytics.js' settings route). The source IP is kept for the log
 * retention only, to tell a flood from a release; CloudWatch stamps each line with its time.
 */
export const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  route: '$context.routeKey',
  status: '$context.status',
  error: '$context.error.responseType',
  latency: '$context.integrationLatency',
  ip: '$context.identity.sourceIp',
};

export interface IngestApiProps {
  collect: LambdaFunction;
  /** Browser origins allowed on the collection routes; empty: any origin (write keys are public in a page). */
  allowedOrigins: string[];
  throttleRate: number;
  throttleBurst: number;
  /** Each read route's own budget (active users, health, dashboard). */
  readThrottleRate: number;
  readThrottleBurst: number;
  logRetention: RetentionDays;
}

/**
 * The HTTP API: every route the Segment and RudderStack SDKs use, and an `OPTIONS` route beside
 * each, to the collect function; route throttling (the collection routes share the default, each
 * read route has its own budget) and JSON access logs. CORS is answered
 * by the collect function, not by the API's CORS setting: that setting would apply to every route
 * and open the read-key route to any origin too. Authentication is the write key, checked in the
 * function (Segment's protocol), so the routes carry no API Gateway authorizer.
 */
export class IngestApi extends Construct {
  readonly api: HttpApi;
  private readonly stage: CfnStage;
  /** CloudFormation's own keys: `RouteSettings` is free JSON, which CDK passes on as written. */
  private readonly readThrottle: { ThrottlingRateLimit: number; ThrottlingBurstLimit: number };

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'Tally: Segment-compatible collection API and the active-users API',
    });
    props.collect.addEnvironment('TALLY_ALLOWED_ORIGINS', props.allowedOrigins.join(',') || '*');
    // One permission for the whole API, not one per route: 40 route-scoped permissions came
    // within a few routes of the 20 KB limit of the function's resource policy.
    const integration = new HttpLambdaIntegration('Collect', props.collect, {
      scopePermissionToRoute: false,
    });
    for (const { path, method } of collectorRoutes()) {
      this.api.addRoutes({ path, methods: [HttpMethod[method], HttpMethod.OPTIONS], integration });
    }
    // rudder-sdk-js 1.x asks for `/sourceConfig/?...`: an HTTP API route cannot end with a slash,
    // and a greedy parameter (`/sourceConfig/{tail+}`) needs at least one character after it. The
    // API's `$default` route takes every request no other route matches to the collector, which
    // ignores trailing slashes and answers any other path `404 not_found` with CORS headers.
    new HttpRoute(this, 'Default', { httpApi: this.api, routeKey: HttpRouteKey.DEFAULT, integration });
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = this.api.defaultStage?.node.defaultChild as CfnStage;
    // The collection routes share the default; each read route gets its own below.
    this.stage.defaultRouteSettings = {
      throttlingRateLimit: props.throttleRate,
      throttlingBurstLimit: props.throttleBurst,
    };
    this.readThrottle = {
      ThrottlingRateLimit: props.readThrottleRate,
      ThrottlingBurstLimit: props.readThrottleBurst,
    };
    this.stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify(ACCESS_LOG_FORMAT),
    };
  }

  /**
   * Adds the read-key routes and the dashboard page that reads them, on the same origin (so the
   * page needs no CORS), when a warehouse is configured.
   */
  addMetrics(metrics: IFunction): void {
    const integration = new HttpLambdaIntegration('Metrics', metrics, { scopePermissionToRoute: false });
    const settings: Record<string, typeof this.readThrottle> = {};
    for (const path of READ_ROUTES) {
      for (const route of this.api.addRoutes({ path, methods: [HttpMethod.GET], integration })) {
        // API Gateway refuses route settings that name a route it does not have yet ("Unable
        // to find Route by key"), and CloudFormation creates the stage and routes in parallel.
        this.stage.node.addDependency(route);
      }
      settings[`GET ${path}`] = this.readThrottle;
    }
    // Their own budget: a flood on the collection routes never leaves these unanswered.
    this.stage.routeSettings = settings;
  }
}
