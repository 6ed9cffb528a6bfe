import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSettings } from '../../cdk/config.js';
import { HouseRules } from '../../cdk/house-rules.js';
import { TallyStack } from '../../cdk/tally-stack.js';

/** Context that wires a StarRocks endpoint (so the warehouse jobs exist). */
export const WITH_STARROCKS = {
  'tally:starrocksHost': 'starrocks.internal',
  'tally:starrocksSecretArn': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:starrocks-AbCdEf',
};

/**
 * Synthesizes the stack offline with cdk-nag. Bundling is skipped (the `aws:cdk:bundling-stacks`
 * context) unless `bundle` is set: esbuild takes seconds per function.
 */
export function synth(
  context: Record<string, unknown> = {},
  options: { bundle?: boolean; outdir?: string; extend?: (stack: TallyStack) => void } = {},
) {
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: { ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...context },
  });
  const stack = new TallyStack(app, 'Tally', {
    settings: readSettings(app.node),
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  options.extend?.(stack);
  Aspects.of(app).add(new HouseRules());
  Aspects.of(app).add(new AwsSolutionsChecks());
  const assembly = app.synth();
  return {
    app,
    stack,
    assembly,
    template: Template.fromStack(stack),
    annotations: Annotations.fromStack(stack),
  };
}
