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
// No account: the template names it through CloudFormation (AWS::AccountId), so it deploys to
// whichever account the credentials pick. No region either, except for the container tier, whose
// load balancer's access-log policy names the region's Elastic Load Balancing account: there the
// region the CLI resolved (profile, AWS_REGION) is used.
const region = settings.containers ? process.env.CDK_DEFAULT_REGION : undefined;
new TallyStack(app, stackName(settings), {
  settings,
  description: 'Tally: event pipeline that counts active users',
  ...(region ? { env: { region } } : {}),
});
Aspects.of(app).add(new HouseRules());
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
Aspects.of(app).add(new ServerlessChecks({ verbose: true }));
