import { App, Aspects, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { readSettings, stackName } from './config.js';
import { HouseRules } from './house-rules.js';
import { guardValidator } from './nag.js';
import { TallyStack } from './tally-stack.js';

/** `cdk synth` / `cdk deploy`: one stack, settings from context (see docs/deploy.md). */
const app = new App();
// AWS Control Tower's proactive rules (cfn-guard) on the synthesized template: a finding not
// acknowledged with its reason (cdk/nag.ts) stops synthesis.
Validations.of(app).addPlugins(guardValidator());
const settings = readSettings(app.node);
// No env: the template names its account and region through CloudFormation (AWS::AccountId,
// AWS::Region), so it deploys to whichever account and region the credentials pick, unchanged.
new TallyStack(app, stackName(settings), {
  settings,
  description: 'Tally: event pipeline that counts active users',
});
Aspects.of(app).add(new HouseRules());
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
Aspects.of(app).add(new ServerlessChecks({ verbose: true }));
