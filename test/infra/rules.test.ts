import type { Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NODE_ROLE_PATTERNS } from '../../functions/core/node-roles';
import { IRSA_PATTERN, rulePatterns } from '../../functions/core/rule-patterns';
import { CLOUDTRAIL_RULE_STATE } from '../../lib/constructs/cloudtrail-rules';
import { toCdkEventPattern } from '../../lib/event-pattern';
import { logicalId, resources, synth, template } from './app';

const nodeRoleArns = ['arn:aws:iam::111122223333:role/prod-nodes'];
const nodeRolePatterns = ['KarpenterNodeRole*', 'team-a-nodes-*'];

describe('CloudTrail rules', () => {
  // GIVEN a home stack with configured node roles
  const { home } = synth({ nodeRoleArns, nodeRolePatterns });
  const t = template(home);
  const rules = resources(t, 'AWS::Events::Rule');

  it('let read-only CloudTrail management events through on every rule', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const [, rule] of rules) expect(rule.Properties['State']).toBe(CLOUDTRAIL_RULE_STATE);
    expect(CLOUDTRAIL_RULE_STATE).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
  });

  it('deploy exactly the patterns the local router evaluates, on the default bus and on the central bus', () => {
    const core = Object.values(rulePatterns({ nodeRoleArns, nodeRolePatterns }));
    const busName = (r: (typeof rules)[number][1]) => (r.Properties['EventBusName'] ? 'central' : 'default');
    for (const bus of ['default', 'central']) {
      const deployed = rules.filter(([, r]) => busName(r) === bus).map(([, r]) => r.Properties['EventPattern']);
      expect(deployed).toHaveLength(core.length);
      expect(deployed).toEqual(expect.arrayContaining(core));
    }
  });

  it('build the node-role rule from the configured ARNs and globs', () => {
    const arns = rules.map(([, r]) => r.Properties['EventPattern']?.detail?.userIdentity?.sessionContext?.sessionIssuer?.arn).find(Boolean);
    expect(arns).toEqual([
      'arn:aws:iam::111122223333:role/prod-nodes',
      { wildcard: 'arn:aws*:iam::*:role/*KarpenterNodeRole*' },
      { wildcard: 'arn:aws*:iam::*:role/*team-a-nodes-*' },
    ]);
  });

  it('put the central-bus rules on the central bus', () => {
    const central = rules.filter(([, r]) => r.Properties['EventBusName']);
    for (const [, rule] of central) expect(rule.Properties['EventBusName']).toEqual({ Ref: logicalId(home.centralBus!.bus) });
  });

  it('deliver to the ingest queue with a target DLQ and bounded retries', () => {
    for (const [, rule] of rules) {
      expect(rule.Properties['Targets']).toEqual([
        expect.objectContaining({
          Arn: { 'Fn::GetAtt': [logicalId(home.buffer!.queue), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(home.buffer!.deliveryDeadLetterQueue), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
        }),
      ]);
    }
  });

  it('deploy the default node role globs when none are configured', () => {
    const { home: defaults } = synth();
    const arns = resources(template(defaults), 'AWS::Events::Rule')
      .map(([, r]) => r.Properties['EventPattern']?.detail?.userIdentity?.sessionContext?.sessionIssuer?.arn)
      .find(Boolean);
    expect(arns).toHaveLength(DEFAULT_NODE_ROLE_PATTERNS.length);
  });

  it('fail if the node role ARNs outgrow EventBridge\'s pattern or Lambda\'s environment, pointing at nodeRolePatterns', () => {
    const many = Array.from({ length: 80 }, (_, i) => `arn:aws:iam::111122223333:role/node-role-number-${i}`);
    expect(() => synth({ nodeRoleArns: many })).toThrow(/nodeRolePatterns/);
  });
});

describe('node role globs of the rule and of the ingest policy', () => {
  it('warn at synth when they differ, and not by default', () => {
    const warnings = (stack: Stack) => Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('nodeRoleFallthrough\\.nodeRolePatterns'));
    expect(warnings(synth().home)).toEqual([]);
    expect(warnings(synth({ nodeRolePatterns: ['team-a-nodes-*'] }).home)).toHaveLength(1);
  });
});

describe('toCdkEventPattern', () => {
  it('renames detail-type and passes values through untouched', () => {
    const cdk = toCdkEventPattern(IRSA_PATTERN) as Record<string, unknown>;
    expect(Object.keys(cdk).sort()).toEqual(['detail', 'detailType', 'source']);
    expect(cdk['detail']).toBe(IRSA_PATTERN['detail']);
    expect(cdk['detailType']).toBe(IRSA_PATTERN['detail-type']);
  });

  it('fail on a top-level key aws-events cannot express', () => {
    expect(() => toCdkEventPattern({ $or: [{ source: ['aws.sts'] }] })).toThrow(/"\$or" has no aws-events equivalent/);
  });
});
