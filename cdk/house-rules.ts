import { Annotations, type IAspect } from 'aws-cdk-lib';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { PIPELINE_RUNTIME } from './constructs/pipeline-function.js';

/**
 * Every Lambda of the app must be a PipelineFunction's shape: the house runtime on arm64 with
 * a tracing mode. A function made any other way is a synth error naming it.
 */
export class HouseRules implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof CfnFunction)) return;
    const problems: string[] = [];
    if (node.runtime !== PIPELINE_RUNTIME.name)
      problems.push(`runtime ${node.runtime} (expected ${PIPELINE_RUNTIME.name})`);
    if (JSON.stringify(node.architectures) !== JSON.stringify(['arm64'])) problems.push('not arm64');
    // Active, or PassThrough chosen on purpose (the collect function at volume).
    const tracing = node.tracingConfig as { mode?: string } | undefined;
    if (tracing?.mode !== 'Active' && tracing?.mode !== 'PassThrough') problems.push('no tracing mode');
    if (problems.length > 0) {
      Annotations.of(node).addError(
        `Tally-House: use PipelineFunction for every Lambda (${problems.join(', ')})`,
      );
    }
  }
}
