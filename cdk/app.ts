import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSettings } from './config.js';
import { HouseRules } from './house-rules.js';
import { TallyStack } from './tally-stack.js';

/** `cdk synth` / `cdk deploy`: one stack, settings from context (see the README). */
const app = new App();
new TallyStack(app, 'Tally', {
  settings: readSettings(app.node),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Tally: event pipeline that counts active users',
});
Aspects.of(app).add(new HouseRules());
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
