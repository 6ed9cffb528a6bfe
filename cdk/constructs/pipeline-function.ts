import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { MALLOC_TUNABLES } from './malloc-tunables.js';

/** The repository root (this file is cdk/constructs/pipeline-function.ts). */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The runtime every Tally Lambda uses. */
export const PIPELINE_RUNTIME = Runtime.NODEJS_24_X;

export interface PipelineFunctionProps {
  /** Handler file under `lambdas/`, e.g. `collect/handler.ts`. */
  entry: string;
  /** Shown in logs and traces (the Powertools service name). */
  service: string;
  environment?: Record<string, string>;
  /** @default 1024 */
  memorySize?: number;
  /** @default 30 seconds */
  timeout?: Duration;
  logRetention: RetentionDays;
  /** How many instances may run at once. @default no reservation */
  reservedConcurrentExecutions?: number;
  /** Files copied beside the bundle (paths relative to the repository root). */
  copyFiles?: string[];
  /**
   * X-Ray: `active` samples at Lambda's fixed rate; `passthrough` traces only requests whose
   * caller asks (for the collect function, whose traffic would make active tracing costly).
   * @default active
   */
  tracing?: 'active' | 'passthrough';
  /** Runs the function in a VPC (the warehouse jobs, when StarRocks is private). */
  vpc?: IVpc;
  vpcSubnets?: SubnetSelection;
  securityGroups?: ISecurityGroup[];
}

/**
 * What the ES modules among the dependencies need from a CommonJS bundle: `import.meta.url` as
 * the bundle's own URL (esbuild leaves it undefined in CommonJS, and the Kafka client calls
 * `createRequire` with it when loaded), and the Kafka client's WASM inline, since its loader reads a
 * file beside its own module, which a bundle does not keep.
 */
export const BUNDLE_IMPORT_META_URL = 'importMetaUrl';
export const BUNDLE_BANNER = `const ${BUNDLE_IMPORT_META_URL} = require('node:url').pathToFileURL(__filename).href;`;
export const BUNDLE_ALIASES: Record<string, string> = {
  '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled',
};

/**
 * The house Lambda: Node.js 24 on arm64, X-Ray tracing, its own log group with retention,
 * bundled by the local esbuild (no Docker) into one CommonJS file with the AWS SDK inside (the
 * code pins its SDK versions), source maps on, and `copyFiles` placed beside the bundle (the
 * Parquet writer's WASM, which parquet-wasm reads from its own directory).
 */
export class PipelineFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const copies = props.copyFiles ?? [];
    super(scope, id, {
      entry: join(PROJECT_ROOT, 'lambdas', props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: PIPELINE_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: props.tracing === 'passthrough' ? Tracing.PASS_THROUGH : Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      logGroup,
      // Lambda's own START/END/REPORT lines only when something went wrong (a line each per
      // invocation otherwise); the functions' JSON lines pass by their level, the metric
      // documents (no level) as INFO.
      loggingFormat: LoggingFormat.JSON,
      systemLogLevelV2: SystemLogLevel.WARN,
      applicationLogLevelV2: ApplicationLogLevel.INFO,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.service,
        NODE_OPTIONS: '--enable-source-maps',
        GLIBC_TUNABLES: MALLOC_TUNABLES,
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.CJS,
        target: 'node24',
        minify: true,
        sourceMap: true,
        externalModules: [],
        define: { 'import.meta.url': BUNDLE_IMPORT_META_URL },
        banner: BUNDLE_BANNER,
        esbuildArgs: Object.fromEntries(
          Object.entries(BUNDLE_ALIASES).map(([from, to]) => [`--alias:${from}`, to]),
        ),
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) =>
            copies.map((file) => `cp "${join(inputDir, file)}" "${outputDir}/"`),
        },
      },
    });
  }
}
