import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { ConfigInput } from '../../lib/config';
import { addCutoverWatch, type CutoverWatchStacks } from '../../lib/cutover-watch-app';
import { outdir } from './outdir';

export { outdir };

/** A synth-only app (esbuild skipped) from a configuration object, as cdk.json would give it. */
export function synth(config: ConfigInput = {}, env: { CDK_DEFAULT_REGION?: string; CDK_DEFAULT_ACCOUNT?: string } = {}): CutoverWatchStacks & { app: App } {
  const app = new App({ outdir: outdir(), context: { 'aws:cdk:bundling-stacks': [], cutoverWatch: config } });
  return { app, ...addCutoverWatch(app, env) };
}

export function template(stack: Stack): Template {
  return Template.fromStack(stack);
}

/** Every resource of a type, as [logicalId, resource] pairs. */
export function resources(t: Template, type: string): [string, { Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string }][] {
  return Object.entries(t.findResources(type)) as [string, { Properties: Record<string, any> }][];
}

/** The logical id CloudFormation gives a construct's resource (never hard-coded in assertions). */
export function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  const cfn = construct.node.defaultChild as Parameters<Stack['getLogicalId']>[0];
  return Stack.of(cfn).getLogicalId(cfn);
}

/** The statements of every IAM policy attached to a role (by the role's logical id). */
export function roleStatements(t: Template, roleLogicalId: string): Record<string, any>[] {
  return resources(t, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties['Roles'] as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap(([, p]) => p.Properties['PolicyDocument']['Statement'] as Record<string, any>[]);
}

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The one resource of a type (fails the test if there is not exactly one). */
export function only(t: Template, type: string): [string, { Properties: Record<string, any>; DeletionPolicy?: string }] {
  const found = resources(t, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
}
