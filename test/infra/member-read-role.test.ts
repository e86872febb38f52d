import { describe, expect, it } from 'vitest';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { asList, logicalId, only, roleStatements, synth, template } from './app';

const HOME = '111122223333';
const MEMBERS = ['444455556666', '777788889999'];

/** Every action the read role is granted: what inventory sync (with its IAM role reads) and LookupEvents need, nothing more. */
const READ_ACTIONS = [
  'cloudtrail:LookupEvents',
  'eks:DescribeAddon',
  'eks:DescribeCluster',
  'eks:DescribeNodegroup',
  'eks:DescribePodIdentityAssociation',
  'eks:ListAddons',
  'eks:ListClusters',
  'eks:ListNodegroups',
  'eks:ListPodIdentityAssociations',
  'iam:GetPolicy',
  'iam:GetPolicyVersion',
  'iam:GetRole',
  'iam:GetRolePolicy',
  'iam:ListAttachedRolePolicies',
  'iam:ListRolePolicies',
];

describe('member read roles (config memberAccounts)', () => {
  // GIVEN a home account in eu-west-1 reading two members (and itself, listed by mistake)
  const stacks = synth({ homeRegion: 'eu-west-1', homeAccount: HOME, memberAccounts: [...MEMBERS, HOME] });

  it('makes one read role stack per member account, never for the home account', () => {
    expect(stacks.memberReadRoles.map((s) => [s.stackName, s.account, s.region])).toEqual(MEMBERS.map((a) => [`CutoverWatchMemberRead-${a}`, a, 'eu-west-1']));
  });

  it('a role only the home inventory job role may assume, by its ARN (not the whole home account)', () => {
    const [, role] = only(template(stacks.memberReadRoles[0]!), 'AWS::IAM::Role');
    expect(role.Properties['RoleName']).toBe('cutover-watch-read');
    expect(role.Properties['AssumeRolePolicyDocument']['Statement']).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${HOME}:root`]] } },
        Condition: { ArnEquals: { 'aws:PrincipalArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${HOME}:role/cutover-watch-inventory-eu-west-1`]] } } },
      },
    ]);
  });

  it('grants exactly the read actions, on its own account (the template names no member: one StackSet fits all)', () => {
    const t = template(stacks.memberReadRoles[0]!);
    const statements = roleStatements(t, logicalId(stacks.memberReadRoles[0]!.role));
    expect([...new Set(statements.flatMap((s) => asList(s['Action']) as string[]))].sort()).toEqual(READ_ACTIONS);
    expect(statements.every((s) => s['Effect'] === 'Allow')).toBe(true);
    const star = statements.filter((s) => asList(s['Resource']).includes('*'));
    expect(star.flatMap((s) => asList(s['Action']))).toEqual(['eks:ListClusters', 'cloudtrail:LookupEvents']);
    const json = JSON.stringify(t.toJSON());
    for (const member of MEMBERS) expect(json).not.toContain(member);
    expect(JSON.stringify(statements)).toContain(':eks:eu-west-1:');
    expect(JSON.stringify(statements)).toContain(':eks:us-east-1:');
    expect(JSON.stringify(statements)).not.toContain(':eks:*:');
  });

  it('reads in a member account what the home inventory job reads in its own: the same statements, and no AWS managed policy (listed, never read)', () => {
    const member = roleStatements(template(stacks.memberReadRoles[0]!), logicalId(stacks.memberReadRoles[0]!.role));
    const home = roleStatements(template(stacks.home), logicalId(stacks.home.jobs.inventory.role));
    // everything the member role grants beyond ListClusters and LookupEvents, the home role grants as is
    const reads = member.filter((s) => !asList(s['Resource']).includes('*'));
    expect(reads.map((s) => s['Sid'])).toEqual(['ReadClusters', 'ReadNodegroups', 'ReadPodIdentityAssociations', 'ReadAgentAddon', 'ReadRoles', 'ReadManagedPolicies']);
    expect(home.filter((s) => reads.some((r) => r['Sid'] === s['Sid']))).toEqual(reads);
    expect(JSON.stringify([...member, ...home])).not.toContain(':iam::aws:policy');
  });

  it('names the inventory job role so the members can trust it, and lets it assume exactly the members\' read roles', () => {
    const t = template(stacks.home);
    const inventoryRole = t.findResources('AWS::IAM::Role')[logicalId(stacks.home.jobs.inventory.role)]!;
    expect(inventoryRole['Properties']['RoleName']).toBe('cutover-watch-inventory-eu-west-1');
    const assume = roleStatements(t, logicalId(stacks.home.jobs.inventory.role)).filter((s) => asList(s['Action']).includes('sts:AssumeRole'));
    expect(assume).toHaveLength(1);
    expect(assume[0]!['Resource']).toEqual(MEMBERS.map((a) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${a}:role/cutover-watch-read`]] })));
    const env = t.findResources('AWS::Lambda::Function')[logicalId(stacks.home.jobs.inventory.function)]!['Properties']['Environment']['Variables'];
    expect(env['MEMBER_ACCOUNTS']).toBe(MEMBERS.join(','));
    expect(env['MEMBER_READ_ROLE_ARN']).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::{account}:role/cutover-watch-read']] });
    expect(t.findResources('AWS::Lambda::Function')[logicalId(stacks.home.jobs.inventory.function)]!['Properties']['Timeout']).toBe(900);
  });

  it('is cdk-nag clean (AwsSolutions, Serverless)', () => {
    const findings = stacks.memberReadRoles.flatMap((stack) =>
      [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) => pack.validateScope(stack).violations.map((v) => `${v.ruleName} @ ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)),
    );
    expect(findings).toEqual([]);
  });

  it('without members: no read role stack, no fixed role name, no AssumeRole, no member variables', () => {
    const plain = synth({ homeRegion: 'eu-west-1', homeAccount: HOME });
    expect(plain.memberReadRoles).toEqual([]);
    const t = template(plain.home);
    expect(t.findResources('AWS::IAM::Role')[logicalId(plain.home.jobs.inventory.role)]!['Properties']['RoleName']).toBeUndefined();
    expect(roleStatements(t, logicalId(plain.home.jobs.inventory.role)).flatMap((s) => asList(s['Action']))).not.toContain('sts:AssumeRole');
    const env = t.findResources('AWS::Lambda::Function')[logicalId(plain.home.jobs.inventory.function)]!['Properties']['Environment']['Variables'];
    expect(env).not.toHaveProperty('MEMBER_ACCOUNTS');
    expect(env).not.toHaveProperty('MEMBER_READ_ROLE_ARN');
  });
});
