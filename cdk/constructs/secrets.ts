import { RemovalPolicy } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

/**
 * The pipeline's secrets, never in the template: the HMAC key (generated at deploy, 64
 * alphanumeric characters = 48 bytes of base64) and the projects' key hashes (you add projects
 * with `aws secretsmanager put-secret-value`; see docs/deploy.md). Lambdas read both at cold start.
 */
export class PipelineSecrets extends Construct {
  readonly hmac: ISecret;
  readonly projects: ISecret;

  /**
   * `hmacSecretArn`, `projectsSecretArn`: use those secrets (say, the ones a destroyed stack
   * kept) instead of new ones.
   */
  constructor(
    scope: Construct,
    id: string,
    props: { hmacSecretArn?: string; projectsSecretArn?: string } = {},
  ) {
    super(scope, id);
    const created: Secret[] = [];
    this.hmac = props.hmacSecretArn
      ? Secret.fromSecretCompleteArn(this, 'HmacKey', props.hmacSecretArn)
      : new Secret(this, 'HmacKey', {
          description: 'Tally: HMAC key that pseudonymizes user ids ({"hmacKey", "hmacKeyVersion"})',
          generateSecretString: {
            secretStringTemplate: JSON.stringify({ hmacKeyVersion: 1 }),
            generateStringKey: 'hmacKey',
            passwordLength: 64,
            excludePunctuation: true,
            includeSpace: false,
          },
          removalPolicy: RemovalPolicy.RETAIN,
        });
    if (this.hmac instanceof Secret) created.push(this.hmac);
    this.projects = props.projectsSecretArn
      ? Secret.fromSecretCompleteArn(this, 'Projects', props.projectsSecretArn)
      : new Secret(this, 'Projects', {
          description: 'Tally: projects and the SHA-256 of their write and read keys ({"projects": [...]})',
          generateSecretString: {
            secretStringTemplate: JSON.stringify({ projects: [] }),
            generateStringKey: 'unused',
            passwordLength: 16,
          },
          removalPolicy: RemovalPolicy.RETAIN,
        });
    if (this.projects instanceof Secret) created.push(this.projects);
    if (created.length > 0) NagSuppressions.addResourceSuppressions(created, PipelineSecrets.NO_ROTATION);
  }

  private static readonly NO_ROTATION = [
    {
      id: 'AwsSolutions-SMG4',
      reason:
        'Not rotated automatically: a new HMAC key changes every user hash (rotation is a documented step with a new key version), and project keys are issued by the operator.',
    },
  ];

  /** Lets a function read both secrets and tells it where they are. */
  bind(fn: IGrantable & { addEnvironment(key: string, value: string): unknown }): void {
    this.hmac.grantRead(fn);
    fn.addEnvironment('TALLY_HMAC_SECRET_ARN', this.hmac.secretArn);
    this.bindProjects(fn);
  }

  /** Lets a function read the projects' key hashes only. */
  bindProjects(fn: IGrantable & { addEnvironment(key: string, value: string): unknown }): void {
    this.projects.grantRead(fn);
    fn.addEnvironment('TALLY_PROJECTS_SECRET_ARN', this.projects.secretArn);
  }
}
