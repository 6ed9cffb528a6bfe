import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Aspects, Validations } from 'aws-cdk-lib';
import { Annotations, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { readSettings } from '../../cdk/config.js';
import { HouseRules } from '../../cdk/house-rules.js';
import { guardValidator } from '../../cdk/nag.js';
import { TallyStack } from '../../cdk/tally-stack.js';

/** The feature flags and settings of cdk.json, which the CDK CLI gives the real app. */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

/** Context that wires a StarRocks endpoint (so the warehouse jobs exist). */
export const WITH_STARROCKS = {
  'tally:starrocksHost': 'starrocks.internal',
  'tally:starrocksSecretArn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:starrocks-AbCdEf',
};

/**
 * Synthesizes the stack offline with cdk-nag. Bundling is skipped (the `aws:cdk:bundling-stacks`
 * context) unless `bundle` is set: esbuild takes seconds per function. The cloud assembly is
 * written to `outdir` and kept there; without one it goes to a temporary directory removed once
 * the template is read (so `assembly`'s files are gone).
 */
export function synth(
  context: Record<string, unknown> = {},
  options: {
    bundle?: boolean;
    outdir?: string;
    guard?: boolean;
    /** No account or region, as `npm run synth` offline without credentials. */
    agnostic?: boolean;
    extend?: (stack: TallyStack) => void;
  } = {},
) {
  const outdir = options.outdir ?? mkdtempSync(join(tmpdir(), 'tally-synth-'));
  try {
    const app = new App({
      outdir,
      context: {
        ...CDK_JSON_CONTEXT,
        ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
        ...context,
      },
    });
    const stack = new TallyStack(app, 'Tally', {
      settings: readSettings(app.node),
      ...(options.agnostic ? {} : { env: { account: '123456789012', region: 'eu-west-1' } }),
    });
    options.extend?.(stack);
    // cfn-guard runs a binary per synthesis: only where a test asks for it.
    if (options.guard) Validations.of(app).addPlugins(guardValidator());
    Aspects.of(app).add(new HouseRules());
    Aspects.of(app).add(new AwsSolutionsChecks());
    Aspects.of(app).add(new ServerlessChecks());
    const assembly = app.synth();
    return {
      app,
      stack,
      assembly,
      template: Template.fromStack(stack),
      annotations: Annotations.fromStack(stack),
    };
  } finally {
    if (options.outdir === undefined) rmSync(outdir, { recursive: true, force: true });
  }
}
