import { describe, expect, it } from 'vitest';
import { rulePatterns } from '../../functions/core/rule-patterns';
import { CENTRAL_BUS_NAME } from '../../lib/constructs/central-bus';
import { CLOUDTRAIL_RULE_STATE } from '../../lib/constructs/cloudtrail-rules';
import { asList, logicalId, only, resources, roleStatements, synth, template } from './app';

const home = { homeRegion: 'eu-west-1', homeAccount: '111122223333' } as const;

function busPolicyStatements(t: ReturnType<typeof template>): Record<string, any>[] {
  return resources(t, 'AWS::Events::EventBusPolicy').map(([, p]) => p.Properties['Statement'] as Record<string, any>);
}

describe('central bus', () => {
  it('admits PutEvents from the configured collector accounts only', () => {
    const { home: stack } = synth({ ...home, collectorAccounts: ['444455556666', '777788889999'] });
    const t = template(stack);
    t.hasResourceProperties('AWS::Events::EventBus', { Name: CENTRAL_BUS_NAME });
    const statements = busPolicyStatements(t);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'events:PutEvents' });
    expect(statements[0]!['Resource']).toEqual({ 'Fn::GetAtt': [logicalId(stack.centralBus!.bus), 'Arn'] });
    const principals = JSON.stringify(statements[0]!['Principal']);
    expect(principals).toContain(':iam::444455556666:root');
    expect(principals).toContain(':iam::777788889999:root');
    expect(statements[0]!['Condition']).toBeUndefined();
  });

  it('admits PutEvents from the organization by aws:PrincipalOrgID', () => {
    const { home: stack } = synth({ ...home, organizationId: 'o-a1b2c3d4e5' });
    const statements = busPolicyStatements(template(stack));
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: '*',
        Action: 'events:PutEvents',
        Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
      }),
    ]);
  });

  it('admits no other account when none is configured', () => {
    const { home: stack } = synth(home);
    expect(busPolicyStatements(template(stack))).toEqual([]);
  });
});

describe('collector stacks', () => {
  // GIVEN a home in eu-west-1 with another region and another account
  const { collectors } = synth({ ...home, collectorRegions: ['eu-central-1'], collectorAccounts: ['444455556666'], nodeRolePatterns: ['*nodes*'] });

  it('run in every other region of the home account and every region of each collector account', () => {
    expect(collectors.map((c) => `${c.account}/${c.region}`).sort()).toEqual(
      ['111122223333/eu-central-1', '111122223333/us-east-1', '444455556666/eu-west-1', '444455556666/eu-central-1', '444455556666/us-east-1'].sort(),
    );
  });

  it('deploy the core patterns on the default bus with the CloudTrail management-events state', () => {
    const core = Object.values(rulePatterns({ nodeRoleArns: [], nodeRolePatterns: ['*nodes*'] }));
    for (const collector of collectors) {
      const rules = resources(template(collector), 'AWS::Events::Rule');
      expect(rules.map(([, r]) => r.Properties['EventPattern'])).toEqual(expect.arrayContaining(core));
      expect(rules).toHaveLength(core.length);
      for (const [, r] of rules) {
        expect(r.Properties['State']).toBe(CLOUDTRAIL_RULE_STATE);
        expect(r.Properties['EventBusName']).toBeUndefined();
      }
    }
  });

  it('target the central bus in the home account and region, through a role, with a delivery DLQ', () => {
    for (const collector of collectors) {
      const t = template(collector);
      const busArn = collector.resolve(collector.centralBusArn);
      expect(JSON.stringify(busArn)).toContain(`:events:eu-west-1:111122223333:event-bus/${CENTRAL_BUS_NAME}`);
      for (const [, rule] of resources(t, 'AWS::Events::Rule')) {
        const [target] = rule.Properties['Targets'] as Record<string, any>[];
        expect(target!['Arn']).toEqual(busArn);
        expect(target!['RoleArn']).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
        expect(target!['DeadLetterConfig']).toEqual({ Arn: { 'Fn::GetAtt': [logicalId(collector.deliveryDeadLetterQueue), 'Arn'] } });
      }
      const [roleId] = only(t, 'AWS::IAM::Role');
      const statements = roleStatements(t, roleId);
      expect(statements).toEqual([expect.objectContaining({ Action: 'events:PutEvents', Resource: busArn })]);
      expect(asList(statements[0]!['Action'])).toEqual(['events:PutEvents']);
    }
  });
});
