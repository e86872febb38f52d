/**
 * `inventory sync` and `backfill` over several accounts, in process: STS at the client boundary
 * (aws-sdk-client-mock), one fake EKS or CloudTrail client per account, the embedded store on disk.
 */
import { CloudTrailClient, LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { AccessDeniedException, DescribeClusterCommand, EKSClient, ListAddonsCommand, ListClustersCommand, ListNodegroupsCommand, ListPodIdentityAssociationsCommand } from '@aws-sdk/client-eks';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccountCredentials } from '../../functions/adapters/aws-accounts';
import { BACKFILL_PK, RateLimiter, type BackfillCheckpoint } from '../../functions/adapters/cloudtrail-backfill';
import { backfillCommand, resumeCommand } from '../../functions/local/cli/commands/backfill';
import { inventorySyncCommand } from '../../functions/local/cli/commands/inventory-sync';
import { execute } from '../../functions/local/cli/main';
import { withStore } from '../../functions/local/cli/store-options';
import { recordingIo } from '../support/recording-io';

const END = new Date('2026-11-20T00:00:00Z');
const ROLE = 'arn:aws:iam::{account}:role/cutover-watch-read';
const [A, B, C] = ['111122223333', '444455556666', '777788889999'] as const;

const sts = mockClient(STSClient);
afterEach(() => sts.reset());
afterAll(() => sts.restore());

/** AssumeRole succeeds except in the accounts listed, where the role's trust policy refuses. */
function assumeRole(denied: readonly string[]): void {
  sts.on(AssumeRoleCommand).callsFake(async (input: { RoleArn: string }) => {
    const account = input.RoleArn.split(':')[4]!;
    if (denied.includes(account)) {
      throw Object.assign(new Error(`User: arn:aws:sts::${A}:assumed-role/audit/me is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });
    }
    return { Credentials: { AccessKeyId: `ASIA${account}`, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) } };
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-accounts-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});


// ---------------------------------------------------------------------------------------------
// inventory sync

/** One EKS client per account: a cluster named after the account, or ListClusters denied. */
function eksFor(deniedListClusters: readonly string[]) {
  const asked: string[] = [];
  const clientFor = (region: string, account?: AccountCredentials) => {
    const id = account?.account ?? 'default';
    asked.push(`${id} ${region}`);
    const client = new EKSClient({ region });
    const fake = mockClient(client);
    if (deniedListClusters.includes(id)) {
      fake.on(ListClustersCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform: eks:ListClusters', $metadata: { httpStatusCode: 403 } }));
      return client;
    }
    const name = `payments-${id.slice(0, 4)}`;
    fake.on(ListClustersCommand).resolves({ clusters: [name] });
    fake.on(DescribeClusterCommand).resolves({
      cluster: {
        name,
        arn: `arn:aws:eks:${region}:${id}:cluster/${name}`,
        identity: { oidc: { issuer: `https://oidc.eks.${region}.amazonaws.com/id/${id}00000000000000000000AA` } },
        createdAt: new Date('2026-01-01T00:00:00Z'),
      },
    });
    fake.on(ListPodIdentityAssociationsCommand).resolves({ associations: [] });
    fake.on(ListNodegroupsCommand).resolves({ nodegroups: [] });
    fake.on(ListAddonsCommand).resolves({ addons: [] });
    return client;
  };
  return { clientFor, asked };
}

async function sync(argv: string[], clientFor: ReturnType<typeof eksFor>['clientFor']) {
  const { io, out, err } = recordingIo(dir, () => END);
  let code = 0;
  const program = new Command('cutover-watch');
  inventorySyncCommand(program.command('inventory'), io, (c) => (code = Math.max(code, c)), { clientFor, env: { AWS_REGION: 'us-east-1' } });
  code = await execute(program, ['inventory', 'sync', ...argv], io, () => code);
  return { code, out: out.join('\n'), err: err.join('\n'), io };
}

describe('inventory sync over several accounts', () => {
  it('reads every account it can reach, names the missing permission of each one it cannot, stores the rest, exit 1', async () => {
    assumeRole([B]);
    const eks = eksFor([C]);

    const run = await sync(['--role-arn', ROLE, '--accounts', `${A},${B}`, '--accounts', C, '--region', 'us-east-1', '--region', 'eu-west-1', '--store', 'sync-accounts'], eks.clientFor);

    expect(run.code).toBe(1);
    expect(run.out).toMatch(/^synced 2 clusters, 0 associations, 0 node groups from 2 accounts, us-east-1, eu-west-1 into sync-accounts\n/);
    expect(run.err.split('\n')).toEqual([
      '2 problems:',
      `  account ${C} us-east-1: ListClusters: missing permission eks:ListClusters (AccessDeniedException: not authorized to perform: eks:ListClusters)`,
      `  account ${C} eu-west-1: ListClusters: missing permission eks:ListClusters (AccessDeniedException: not authorized to perform: eks:ListClusters)`,
      `account ${B}: not read: missing permission sts:AssumeRole on arn:aws:iam::${B}:role/cutover-watch-read (AccessDenied: the role does not exist, its trust policy does not name the caller, or the caller may not assume it)`,
      `read 2 of 3 accounts (account ${A}, account ${C}); not read: account ${B}`,
    ]);
    // the denied account's clients were never made
    expect(eks.asked.sort()).toEqual([`${A} eu-west-1`, `${A} us-east-1`, `${C} eu-west-1`, `${C} us-east-1`]);
    const stored = await withStore({ store: 'sync-accounts' }, run.io, async ({ store }) => store.loadInventory());
    expect(stored.clusters.map((c) => c.arn).sort()).toEqual([`arn:aws:eks:eu-west-1:${A}:cluster/payments-1111`, `arn:aws:eks:us-east-1:${A}:cluster/payments-1111`]);
  });

  it('--json names the accounts read and not read', async () => {
    assumeRole([B]);
    const run = await sync(['--role-arn', ROLE, '--accounts', `${A},${B}`, '--region', 'us-east-1', '--store', 'sync-json', '--json'], eksFor([]).clientFor);
    expect(run.code).toBe(1);
    const doc = JSON.parse(run.out) as { accounts: { read: string[]; notRead: { label: string; operation: string }[] }; clusters: number };
    expect(doc.clusters).toBe(1);
    expect(doc.accounts.read).toEqual([`account ${A}`]);
    expect(doc.accounts.notRead).toMatchObject([{ label: `account ${B}`, operation: 'sts:AssumeRole' }]);
  });

  it('no account reachable: nothing stored, exit 2', async () => {
    assumeRole([A, B]);
    const run = await sync(['--role-arn', ROLE, '--accounts', `${A},${B}`, '--region', 'us-east-1', '--store', 'sync-none'], eksFor([]).clientFor);
    expect(run.code).toBe(2);
    expect(run.err.split('\n').slice(-2)).toEqual([`read 0 of 2 accounts; not read: account ${A}, account ${B}`, 'no account could be read: nothing stored']);
    await expect(access(path.join(dir, 'sync-none'))).rejects.toThrow(/ENOENT/);
  });

  it.each([
    [['--accounts', A], "cutover-watch: --accounts needs --role-arn: the role to assume in each account (e.g. --role-arn 'arn:aws:iam::{account}:role/cutover-watch-read')"],
    [['--organization'], "cutover-watch: --organization needs --role-arn: the role to assume in each account (e.g. --role-arn 'arn:aws:iam::{account}:role/cutover-watch-read')"],
    [['--role-arn', ROLE], 'cutover-watch: --role-arn needs --accounts A,B or --organization: the accounts to assume it in'],
    [['--role-arn', ROLE, '--accounts', A, '--organization'], 'cutover-watch: --accounts and --organization: pass one (the accounts named, or every account of the organization)'],
    [['--role-arn', ROLE, '--accounts', A, '--profile', 'a', '--profile', 'b'], 'cutover-watch: --role-arn takes at most one --profile (the credentials that assume the role), got 2'],
    [['--role-arn', 'arn:aws:iam::111122223333:role/x', '--accounts', A], /^cutover-watch inventory sync: option '--role-arn <arn>' argument .* is invalid\. expected an IAM role ARN with \{account\} for the account id/],
    [['--role-arn', ROLE, '--accounts', '1234'], /^cutover-watch inventory sync: option '--accounts <ids>' argument '1234' is invalid\. expected 12-digit AWS account ids, comma-separated, got "1234"/],
  ])('refuses %j with exit 2 and one line, before any call', async (args, line) => {
    const run = await sync([...args, '--store', 'never'], eksFor([]).clientFor);
    expect(run.code).toBe(2);
    if (typeof line === 'string') expect(run.err).toBe(line);
    else expect(run.err).toMatch(line);
    expect(sts.calls()).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------
// backfill

/** One Pod Identity assume in account A's us-east-1, a day before the end: what account A's CloudTrail holds. */
function podIdentityEvent(account: string): Event {
  const record = {
    eventVersion: '1.11',
    userIdentity: { type: 'AWSService', invokedBy: 'pods.eks.amazonaws.com' },
    eventTime: '2026-11-19T12:00:00Z',
    eventSource: 'sts.amazonaws.com',
    eventName: 'AssumeRole',
    awsRegion: 'us-east-1',
    sourceIPAddress: 'pods.eks.amazonaws.com',
    userAgent: 'pods.eks.amazonaws.com',
    requestParameters: {
      roleArn: `arn:aws:iam::${account}:role/checkout-api`,
      roleSessionName: 'eks-payments-checkout-api-0000',
      tags: [
        { key: 'eks-cluster-arn', value: `arn:aws:eks:us-east-1:${account}:cluster/payments` },
        { key: 'eks-cluster-name', value: 'payments' },
        { key: 'kubernetes-namespace', value: 'checkout' },
        { key: 'kubernetes-service-account', value: 'checkout-api' },
        { key: 'kubernetes-pod-name', value: 'checkout-api-0' },
        { key: 'kubernetes-pod-uid', value: '00000000-0000-0000-0000-000000000001' },
      ],
      transitiveTagKeys: ['eks-cluster-arn', 'eks-cluster-name', 'kubernetes-namespace', 'kubernetes-service-account', 'kubernetes-pod-name', 'kubernetes-pod-uid'],
    },
    responseElements: null,
    eventID: `0000000${account.slice(0, 1)}-aaaa-bbbb-cccc-000000000001`,
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: account,
    eventCategory: 'Management',
  };
  return { EventId: record.eventID, EventName: 'AssumeRole', EventTime: new Date(record.eventTime), EventSource: record.eventSource, CloudTrailEvent: JSON.stringify(record) };
}

function cloudTrailFor(deniedLookup: readonly string[]) {
  return (region: string, account?: AccountCredentials) => {
    const id = account?.account ?? 'default';
    const client = new CloudTrailClient({ region });
    const fake = mockClient(client);
    if (deniedLookup.includes(id)) {
      fake.on(LookupEventsCommand).rejects(Object.assign(new Error('User is not authorized to perform: cloudtrail:LookupEvents'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
      return client;
    }
    fake.on(LookupEventsCommand).callsFake(async (input: { LookupAttributes: { AttributeValue: string }[]; StartTime: Date; EndTime: Date }) => {
      const event = podIdentityEvent(id);
      const inWindow = input.LookupAttributes[0]!.AttributeValue === 'AssumeRole' && region === 'us-east-1' && input.StartTime <= event.EventTime! && event.EventTime! <= input.EndTime;
      return { Events: inWindow && input.StartTime.getTime() < END.getTime() - 3_600_000 ? [event] : [] };
    });
    return client;
  };
}

async function backfill(argv: string[], clientFor: ReturnType<typeof cloudTrailFor>) {
  const { io, out, err } = recordingIo(dir, () => END);
  let code = 0;
  const program = new Command('cutover-watch');
  backfillCommand(program, io, (c) => (code = Math.max(code, c)), {
    clientFor,
    limiterFor: () => new RateLimiter({ perSecond: 1e9, burst: 1e9 }),
    env: { AWS_REGION: 'us-east-1' },
    onInterrupt: () => () => undefined,
  });
  code = await execute(program, ['backfill', ...argv], io, () => code);
  return { code, out: out.join('\n'), err: err.join('\n'), io };
}

describe('backfill over several accounts', () => {
  it('backfills each account it can read with its own checkpoints, one line for the one it cannot, exit 1', { timeout: 60_000 }, async () => {
    assumeRole([]);
    const argv = ['--days', '2', '--role-arn', ROLE, '--accounts', `${A},${B},${C}`, '--region', 'us-east-1', '--store', 'backfill-accounts', '--no-alerts'];

    const run = await backfill(argv, cloudTrailFor([B]));

    expect(run.code).toBe(1);
    expect(run.out).toMatch(new RegExp(`^backfilled 2 days of CloudTrail event history from account ${A}, 1 region: `));
    expect(run.out).toMatch(new RegExp(`\\nbackfilled 2 days of CloudTrail event history from account ${C}, 1 region: `));
    expect(run.err.split('\n')).toEqual([
      `account ${B}: not read: us-east-1: missing permission cloudtrail:LookupEvents (AccessDeniedException: User is not authorized to perform: cloudtrail:LookupEvents)`,
      `read 2 of 3 accounts (account ${A}, account ${C}); not read: account ${B}`,
    ]);
    const checkpoints = await withStore({ store: 'backfill-accounts' }, run.io, async ({ store }) => (await store.queryMeta(BACKFILL_PK)) as unknown as BackfillCheckpoint[]);
    expect([...new Set(checkpoints.map((c) => c.sk.split('#')[0]))].sort()).toEqual([`${A}/us-east-1`, `${C}/us-east-1`]);
    expect(checkpoints.every((c) => c.done)).toBe(true);
    expect(checkpoints.filter((c) => c.eventName === 'AssumeRole').map((c) => c.records)).toEqual([1, 1]);

    // Again: each account's window is found done; the same region of the other account does not count for it.
    const again = await backfill(argv, cloudTrailFor([]));
    expect(again.code).toBe(0);
    expect(again.out).toContain(`from account ${A}, 1 region: 0 LookupEvents pages, 0 records`);
    expect(again.out).toContain(`from account ${C}, 1 region: 0 LookupEvents pages, 0 records`);
    expect(again.out).toMatch(new RegExp(`from account ${B}, 1 region: \\d+ LookupEvents pages, 1 record `));
  });

  it('every account unreadable: nothing stored, exit 2', async () => {
    assumeRole([]);
    const run = await backfill(['--days', '2', '--role-arn', ROLE, '--accounts', `${A},${B}`, '--region', 'us-east-1', '--store', 'backfill-none'], cloudTrailFor([A, B]));
    expect(run.code).toBe(2);
    expect(run.err.split('\n').slice(-2)).toEqual([`read 0 of 2 accounts; not read: account ${A}, account ${B}`, 'cutover-watch: no account could be read: nothing stored']);
    await expect(access(path.join(dir, 'backfill-none'))).rejects.toThrow(/ENOENT/);
  });

  it('the command that resumes a stopped run carries the account options, quoted for a shell', () => {
    expect(resumeCommand({ days: '30', roleArn: ROLE, organization: true, store: 'org-store' }, 30, ['us-east-1'])).toBe(
      "cutover-watch backfill --days 30 --region us-east-1 --role-arn 'arn:aws:iam::{account}:role/cutover-watch-read' --organization --store org-store",
    );
    expect(resumeCommand({ days: '7', profile: ['prod', 'staging'] }, 7, [])).toBe('cutover-watch backfill --days 7 --profile prod --profile staging');
    expect(resumeCommand({ days: '7', roleArn: ROLE, accounts: [A, B] }, 7, ['eu-west-1'])).toBe(
      `cutover-watch backfill --days 7 --region eu-west-1 --role-arn 'arn:aws:iam::{account}:role/cutover-watch-read' --accounts ${A},${B}`,
    );
  });
});
