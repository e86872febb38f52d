import { Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * How cdk-nag writes a `Fn::GetAtt` inside a finding id (`<LogicalId.Attr>`), e.g. for
 * `AwsSolutions-IAM5[Resource::<ReportsBucket95FE29A2.Arn>/reports/*]`. Derived from the resource,
 * so an acknowledgement follows the construct when the tree is refactored.
 */
export function nagRef(resource: IConstruct, attribute = 'Arn'): string {
  const cfn = resource.node.defaultChild as CfnResource | undefined;
  if (!cfn) throw new Error(`${resource.node.path} has no CloudFormation resource to reference`);
  return `<${Stack.of(cfn).getLogicalId(cfn)}.${attribute}>`;
}

/** Acknowledges individual `AwsSolutions-IAM5` findings (`Action::…` / `Resource::…`) on a role or policy, each with its reason. */
export function acknowledgeWildcards(scope: IConstruct, findings: readonly (readonly [finding: string, reason: string])[]): void {
  for (const [finding, reason] of findings) Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
}
