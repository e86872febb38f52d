import { AccessDeniedException, AWSOrganizationsNotInUseException, ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfigProfiles, resolveAccounts, ROLE_SESSION_NAME, type AccountCredentials } from '../../functions/adapters/aws-accounts';
import { AccountsError, AwsFatalError } from '../../functions/adapters/aws-calls';

const sts = mockClient(STSClient);
const organizations = mockClient(OrganizationsClient);
afterEach(() => {
  sts.reset();
  organizations.reset();
  vi.unstubAllEnvs();
});
afterAll(() => {
  sts.restore();
  organizations.restore();
});

// Shared config and credentials files in a temp folder, as AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE name them.
let dir: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-accounts-'));
  await writeFile(
    path.join(dir, 'config'),
    [
      '# the audit team\'s profiles',
      '[default]',
      'region = us-east-1',
      '',
      '[profile prod]',
      'region = eu-west-1',
      'output = json',
      '',
      '[profile staging]',
      '; no region: AWS_REGION, else --region',
      's3 =',
      '  max_concurrent_requests = 4',
      '',
      '[sso-session corp]',
      'region = ap-south-1',
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(dir, 'credentials'),
    [
      '[default]',
      'aws_access_key_id = AKIADEFAULT',
      'aws_secret_access_key = secret0',
      '[prod]',
      'aws_access_key_id = AKIAPROD',
      'aws_secret_access_key = secret1',
      '[staging]',
      'aws_access_key_id = AKIASTAGING',
      'aws_secret_access_key = secret2',
      '',
    ].join('\n'),
  );
  env = { AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'), AWS_REGION: 'us-west-2' };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** fromIni reads the file locations from the process's environment when it resolves. */
function stubFiles(): void {
  vi.stubEnv('AWS_CONFIG_FILE', env['AWS_CONFIG_FILE']);
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', env['AWS_SHARED_CREDENTIALS_FILE']);
}

async function keyOf(set: AccountCredentials): Promise<string> {
  const c = set.credentials;
  const identity = typeof c === 'function' ? await c() : c;
  return identity!.accessKeyId;
}

describe('parseConfigProfiles', () => {
  it('reads [default] and [profile NAME] settings and skips other sections, comments and sub-settings', () => {
    const profiles = parseConfigProfiles('[default]\nregion=us-east-1\n[profile a]\n  region = nested\nregion = eu-central-1 \n[sso-session x]\nregion = ap-south-1\n[services y]\nregion = sa-east-1\n');
    expect(Object.fromEntries(profiles)).toEqual({ default: { region: 'us-east-1' }, a: { region: 'eu-central-1' } });
  });
});

describe('resolveAccounts: profiles', () => {
  it("gives each profile its own region (else AWS_REGION), its account from GetCallerIdentity and the profile's own keys", async () => {
    stubFiles();
    const callers = { AKIAPROD: '111122223333', AKIASTAGING: '444455556666' } as Record<string, string>;
    sts.on(GetCallerIdentityCommand).callsFake(async (_input, getClient) => {
      const credentials = await (getClient() as STSClient).config.credentials();
      return { Account: callers[credentials.accessKeyId] };
    });

    const resolved = await resolveAccounts({ source: { kind: 'profiles', profiles: ['prod', 'staging', 'prod'] }, regions: [], env });

    expect(resolved.problems).toEqual([]);
    expect(resolved.sets.map((s) => ({ label: s.label, account: s.account, profile: s.profile, regions: s.regions }))).toEqual([
      { label: 'profile prod (111122223333)', account: '111122223333', profile: 'prod', regions: ['eu-west-1'] },
      { label: 'profile staging (444455556666)', account: '444455556666', profile: 'staging', regions: ['us-west-2'] },
    ]);
    expect(await Promise.all(resolved.sets.map(keyOf))).toEqual(['AKIAPROD', 'AKIASTAGING']);
    // GetCallerIdentity is asked in the profile's region
    expect(await Promise.all(sts.commandCalls(GetCallerIdentityCommand).map((c) => (c.thisValue as STSClient).config.region()))).toEqual(['eu-west-1', 'us-west-2']);
    resolved.close();
  });

  it('--region overrides every profile\'s region', async () => {
    stubFiles();
    sts.on(GetCallerIdentityCommand).resolves({ Account: '111122223333' });
    const resolved = await resolveAccounts({ source: { kind: 'profiles', profiles: ['prod'] }, regions: ['ap-southeast-2', 'us-east-1'], env });
    expect(resolved.sets[0]!.regions).toEqual(['ap-southeast-2', 'us-east-1']);
  });

  it('a profile that does not exist is a problem line; the others are read', async () => {
    stubFiles();
    sts.on(GetCallerIdentityCommand).resolves({ Account: '111122223333' });

    const resolved = await resolveAccounts({ source: { kind: 'profiles', profiles: ['nope', 'prod'] }, regions: [], env });

    expect(resolved.sets.map((s) => s.label)).toEqual(['profile prod (111122223333)']);
    expect(resolved.problems).toHaveLength(1);
    expect(resolved.problems[0]).toMatchObject({ label: 'profile nope', operation: 'sts:GetCallerIdentity' });
    expect(resolved.problems[0]!.reason).toMatch(/^its credentials cannot be loaded: .*nope/);
  });

  it('a profile without a region, with no AWS_REGION and no --region, is a usage error naming the profile and the file', async () => {
    stubFiles();
    const noRegion = { ...env, AWS_REGION: undefined };
    await expect(resolveAccounts({ source: { kind: 'profiles', profiles: ['staging'] }, regions: [], env: noRegion })).rejects.toThrow(
      new AccountsError(`no region for profile staging: pass --region (e.g. --region us-east-1), or set region in [profile staging] of ${env['AWS_CONFIG_FILE']} or AWS_REGION`),
    );
    expect(sts.calls()).toHaveLength(0);
  });

  it('the default credentials: --region, else AWS_REGION, else the AWS_PROFILE profile\'s region', async () => {
    const fromFlag = await resolveAccounts({ source: { kind: 'default' }, regions: ['eu-north-1'], env });
    const fromEnv = await resolveAccounts({ source: { kind: 'default' }, regions: [], env });
    const fromProfile = await resolveAccounts({ source: { kind: 'default' }, regions: [], env: { ...env, AWS_REGION: undefined, AWS_PROFILE: 'prod' } });
    expect([fromFlag, fromEnv, fromProfile].map((r) => r.sets.map((s) => [s.label, s.credentials, s.regions]))).toEqual([
      [['default credentials', undefined, ['eu-north-1']]],
      [['default credentials', undefined, ['us-west-2']]],
      [['default credentials', undefined, ['eu-west-1']]],
    ]);
    await expect(resolveAccounts({ source: { kind: 'default' }, regions: [], env: { AWS_CONFIG_FILE: path.join(dir, 'none') } })).rejects.toThrow(
      'no region: pass --region (e.g. --region us-east-1) or set AWS_REGION',
    );
    await expect(resolveAccounts({ source: { kind: 'default' }, regions: ['US-EAST-1'], env })).rejects.toThrow('"US-EAST-1" is not an AWS region name');
  });
});

describe('resolveAccounts: a role in each account', () => {
  const template = 'arn:aws:iam::{account}:role/cutover-watch-read';

  it('assumes the role (session cutover-watch) in each account; an account that denies it is one line naming sts:AssumeRole', async () => {
    sts.on(AssumeRoleCommand).callsFake(async (input: { RoleArn: string }) => {
      if (input.RoleArn.includes('444455556666')) {
        throw Object.assign(new Error('User: arn:aws:sts::999999999999:assumed-role/audit/me is not authorized to perform: sts:AssumeRole'), {
          name: 'AccessDenied',
          $metadata: { httpStatusCode: 403 },
        });
      }
      const account = input.RoleArn.split(':')[4];
      return { Credentials: { AccessKeyId: `ASIA${account}`, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) } };
    });

    const resolved = await resolveAccounts({
      source: { kind: 'roles', roleArnTemplate: template, accounts: ['111122223333', '444455556666', '777788889999'] },
      regions: ['us-east-1', 'eu-west-1'],
      env,
    });

    expect(resolved.sets.map((s) => [s.label, s.account, s.roleArn, s.regions])).toEqual([
      ['account 111122223333', '111122223333', 'arn:aws:iam::111122223333:role/cutover-watch-read', ['us-east-1', 'eu-west-1']],
      ['account 777788889999', '777788889999', 'arn:aws:iam::777788889999:role/cutover-watch-read', ['us-east-1', 'eu-west-1']],
    ]);
    expect(await Promise.all(resolved.sets.map(keyOf))).toEqual(['ASIA111122223333', 'ASIA777788889999']);
    expect(resolved.problems).toEqual([
      {
        label: 'account 444455556666',
        operation: 'sts:AssumeRole',
        reason:
          'missing permission sts:AssumeRole on arn:aws:iam::444455556666:role/cutover-watch-read (AccessDenied: the role does not exist, its trust policy does not name the caller, or the caller may not assume it)',
      },
    ]);
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleSessionName)).toEqual([ROLE_SESSION_NAME, ROLE_SESSION_NAME, ROLE_SESSION_NAME]);
    resolved.close();
  });

  it('renews a session shortly before it expires, and not before', async () => {
    let issued = 0;
    sts.on(AssumeRoleCommand).callsFake(async () => {
      issued += 1;
      // the first session is about to expire (within the 5-minute margin); the second lasts an hour
      const expiration = new Date(Date.now() + (issued === 1 ? 60_000 : 3_600_000));
      return { Credentials: { AccessKeyId: `ASIA${issued}`, SecretAccessKey: 's', SessionToken: 't', Expiration: expiration } };
    });
    const resolved = await resolveAccounts({ source: { kind: 'roles', roleArnTemplate: template, accounts: ['111122223333'] }, regions: ['us-east-1'], env });
    expect(await keyOf(resolved.sets[0]!)).toBe('ASIA2');
    expect(await keyOf(resolved.sets[0]!)).toBe('ASIA2');
    expect(issued).toBe(2);
    resolved.close();
  });

  it('--organization: every ACTIVE account of every ListAccounts page (State, else the retired Status)', async () => {
    organizations
      .on(ListAccountsCommand, { NextToken: undefined })
      .resolves({
        Accounts: [
          { Id: '111122223333', State: 'ACTIVE' },
          { Id: '222233334444', State: 'SUSPENDED' },
        ],
        NextToken: 'page-2',
      })
      .on(ListAccountsCommand, { NextToken: 'page-2' })
      .resolves({
        Accounts: [
          { Id: '333344445555', Status: 'ACTIVE' },
          { Id: '444455556666', State: 'PENDING_CLOSURE', Status: 'ACTIVE' },
          { Id: '555566667777', State: 'CLOSED' },
        ],
      });
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) } });

    const resolved = await resolveAccounts({ source: { kind: 'roles', roleArnTemplate: template, accounts: 'organization' }, regions: ['us-east-1'], env });

    expect(resolved.sets.map((s) => s.account)).toEqual(['111122223333', '333344445555']);
    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(2);
    resolved.close();
  });

  it.each([
    [new AccessDeniedException({ message: 'You don\'t have permissions to access this resource.', $metadata: { httpStatusCode: 400 } }), /^cannot list the organization's accounts: missing permission organizations:ListAccounts \(AccessDeniedException: .*\); run from the management account or a delegated administrator$/],
    [new AWSOrganizationsNotInUseException({ message: 'Your account is not a member of an organization.', $metadata: { httpStatusCode: 400 } }), /^cannot list the organization's accounts: AWSOrganizationsNotInUseException: .*; the credentials' account is not in an organization$/],
  ])('--organization that cannot list the accounts stops with one line (%s)', async (error, message) => {
    organizations.on(ListAccountsCommand).rejects(error);
    const run = resolveAccounts({ source: { kind: 'roles', roleArnTemplate: template, accounts: 'organization' }, regions: ['us-east-1'], env });
    await expect(run).rejects.toBeInstanceOf(AwsFatalError);
    await expect(run).rejects.toThrow(message);
    expect(sts.calls()).toHaveLength(0);
  });

  it('expired source credentials stop the run (no account can be reached), not one line per account', async () => {
    sts.on(AssumeRoleCommand).rejects(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }));
    await expect(
      resolveAccounts({ source: { kind: 'roles', roleArnTemplate: template, accounts: ['111122223333', '444455556666'] }, regions: ['us-east-1'], env }),
    ).rejects.toThrow(/^the AWS credentials have expired \(ExpiredTokenException\)/);
  });

  it('a --profile with --role-arn is the source: its keys assume the role, its region is read', async () => {
    stubFiles();
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) } });
    const resolved = await resolveAccounts({
      source: { kind: 'roles', roleArnTemplate: template, accounts: ['111122223333'], sourceProfile: 'prod' },
      regions: [],
      env,
    });
    expect(resolved.sets[0]!.regions).toEqual(['eu-west-1']);
    const client = sts.commandCalls(AssumeRoleCommand)[0]!.thisValue as STSClient;
    expect((await client.config.credentials()).accessKeyId).toBe('AKIAPROD');
    resolved.close();
  });
});
