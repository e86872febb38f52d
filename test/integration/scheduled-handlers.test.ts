import {
  DescribeClusterCommand,
  DescribePodIdentityAssociationCommand,
  EKSClient,
  ListAddonsCommand,
  ListClustersCommand,
  ListNodegroupsCommand,
  ListPodIdentityAssociationsCommand,
} from '@aws-sdk/client-eks';
import { GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoEvidenceStore } from '../../functions/adapters/dynamo-evidence-store';
import { defaultPolicy } from '../../functions/core/policy';
import { analyzePaths } from '../../functions/adapters/ingest-pipeline';
import { readInventoryFiles } from '../../functions/local/cli/commands/inventory';
import { startEmbeddedStore, type EmbeddedStore } from '../../functions/local/embedded-store';
import { generateSampleFleet, writeSampleFleet } from '../../functions/local/sample-fleet';
import { handlerEnvironment } from '../support/handler-environment';

// The two scheduled handlers, on a real DynamoDB API (dynalite) with S3, SNS and EKS faked at the client.
let dir: string;
let embedded: EmbeddedStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cw-scheduled-'));
  embedded = await startEmbeddedStore(path.join(dir, 'store'), { openToAnyClient: true });
  handlerEnvironment(embedded.endpoint);
}, 60_000);
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

describe('report handler (weekly)', () => {
  it('writes HTML, CSV and JSON to the bucket and e-mails the text with where the HTML is', async () => {
    // GIVEN the sample fleet's last three days in a table (the handler's wiring needs no more), and
    // chart.js beside the bundle as the construct copies it. In what this test reads, their report
    // is the last week's: the same 22 rows and verdicts (no window this short shows a soak), 14
    // stragglers with the same next steps, an e-mail of the same size; a week cost twice the CPU to
    // generate, write and analyze. The table is filled as its only writer: batches of 25 instead
    // of a conditional write per item and event, half the CPU, and the same items
    // (test/integration/write-path.test.ts); the handler only reads them.
    const store = new DynamoEvidenceStore({ client: embedded.client, tableName: 'reports', singleWriter: true });
    await store.ensureTable();
    const written = await writeSampleFleet(path.join(dir, 'fleet'), generateSampleFleet({ seed: 42, end: new Date(), days: 3 }));
    const files = (await readdir(written.inventoryDir)).map((f) => path.join(written.inventoryDir, f));
    await store.saveInventory(await readInventoryFiles(files));
    await analyzePaths({ paths: [written.logDir], store, policy: defaultPolicy(), now: () => new Date() });
    const taskRoot = path.join(dir, 'task');
    await mkdir(taskRoot);
    const chartJs = path.join(path.dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');
    await copyFile(chartJs, path.join(taskRoot, 'chart.umd.js'));
    Object.assign(process.env, { TABLE_NAME: 'reports', REPORT_BUCKET: 'cw-reports', TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:cw', SOAK_DAYS: '14', LAMBDA_TASK_ROOT: taskRoot });
    const s3 = mockClient(S3Client);
    const sns = mockClient(SNSClient);
    s3.on(PutObjectCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    vi.resetModules();
    const { handler } = await import('../../functions/handlers/report');

    // WHEN
    const { key } = await handler();

    // THEN
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key!.split('.').pop()).sort()).toEqual(['csv', 'html', 'json']);
    expect(puts.every((p) => p.Bucket === 'cw-reports' && p.Key!.startsWith('reports/'))).toBe(true);
    const html = String(puts.find((p) => p.Key === key)!.Body);
    expect(html).toContain('<canvas');
    expect(html).not.toMatch(/<script[^>]+src=/);
    const message = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(Buffer.byteLength(message.Message!)).toBeLessThan(256 * 1024);
    expect(message.Message).toContain('legacy-batch');
    expect(message.Message).toContain(encodeURIComponent(key));
    expect(message.Subject).toMatch(/^cutover-watch weekly report \d{4}-\d{2}-\d{2}$/);
    // the scheduled job saves its summary: the next week's report compares with it
    expect(await store.queryMeta('REPORT', 'SUMMARY#')).toHaveLength(1);
    // no owners in the stack's policy: no owner column, no section per owner
    const json = (k: string) => JSON.parse(String(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input).find((p) => p.Key === k.replace(/html$/, 'json'))!.Body)) as { namespaces: Row[]; stragglers: Row[]; byOwner?: unknown };
    type Row = { namespace: string; owner?: unknown };
    const plain = json(key);
    expect(plain.namespaces.some((r) => r.namespace === 'etl-nightly')).toBe(true);
    expect(plain.stragglers.length).toBeGreaterThan(0);
    expect(plain).not.toHaveProperty('byOwner');
    expect([...plain.namespaces, ...plain.stragglers].every((r) => r.owner === undefined)).toBe(true);

    // WHEN the stack's policy file names owners (the construct passes it as POLICY)
    process.env['POLICY'] = JSON.stringify({ owners: [{ namespaces: ['etl-*'], team: 'batch-jobs', email: 'batch@example.com' }, { namespaces: ['*'], team: 'platform' }] });
    s3.resetHistory();
    sns.resetHistory();
    vi.resetModules();
    try {
      const owned = await (await import('../../functions/handlers/report')).handler();

      // THEN every row names its owner, each owner has its section, and the e-mail says who has what to do
      const report = json(owned.key);
      expect(report.namespaces.find((r) => r.namespace === 'etl-nightly')!.owner).toEqual({ team: 'batch-jobs', email: 'batch@example.com' });
      expect([...report.namespaces, ...report.stragglers].every((r) => r.owner !== undefined && r.owner !== null)).toBe(true);
      expect(report.byOwner).toEqual(expect.arrayContaining([expect.objectContaining({ owner: expect.objectContaining({ team: 'batch-jobs' }) })]));
      const text = sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!;
      expect(text).toContain('BY OWNER');
      expect(text).toContain('batch-jobs');
    } finally {
      delete process.env['POLICY'];
      s3.restore();
      sns.restore();
    }
  }, 60_000);
});

describe('inventory handler (scheduled)', () => {
  it('syncs every configured region into the table', async () => {
    const store = new DynamoEvidenceStore({ client: embedded.client, tableName: 'inventory' });
    await store.ensureTable();
    Object.assign(process.env, { TABLE_NAME: 'inventory', EKS_REGIONS: 'us-east-1,eu-west-1' });
    const eks = mockClient(EKSClient);
    eks.on(ListClustersCommand).callsFake(async (_input, getClient) => ({ clusters: (await getClient().config.region()) === 'us-east-1' ? ['payments-prod'] : [] }));
    eks.on(DescribeClusterCommand).resolves({
      cluster: {
        name: 'payments-prod',
        arn: 'arn:aws:eks:us-east-1:111122223333:cluster/payments-prod',
        identity: { oidc: { issuer: 'https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF' } },
      },
    });
    const association = {
      clusterName: 'payments-prod',
      namespace: 'orders',
      serviceAccount: 'orders-api',
      associationId: 'a-orders0000000000',
      associationArn: 'arn:aws:eks:us-east-1:111122223333:podidentityassociation/payments-prod/a-orders0000000000',
      roleArn: 'arn:aws:iam::111122223333:role/orders-api',
    };
    eks.on(ListPodIdentityAssociationsCommand).resolves({ associations: [association] });
    eks.on(DescribePodIdentityAssociationCommand).resolves({ association });
    eks.on(ListNodegroupsCommand).resolves({ nodegroups: [] });
    eks.on(ListAddonsCommand).resolves({ addons: ['vpc-cni'] });
    // The preflight's IAM reads: the association's role (its trust policy as the API returns it, URL-encoded).
    const iam = mockClient(IAMClient);
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }] };
    iam.on(GetRoleCommand).resolves({ Role: { RoleName: 'orders-api', Arn: association.roleArn, Path: '/', RoleId: 'AROAEXAMPLE0000000000', CreateDate: new Date('2025-01-01T00:00:00Z'), AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(trust)) } });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    vi.resetModules();
    const { handler } = await import('../../functions/handlers/inventory');

    const result = await handler();

    expect(result).toEqual({ clusters: 1, problems: 0, accounts: 1, accountsNotRead: 0 });
    const stored = await store.loadInventory();
    expect(stored.clusters).toEqual([
      {
        name: 'payments-prod',
        arn: 'arn:aws:eks:us-east-1:111122223333:cluster/payments-prod',
        region: 'us-east-1',
        account: '111122223333',
        oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF',
        addonsListed: ['vpc-cni'],
      },
    ]);
    expect(stored.roles).toEqual([{ arn: association.roleArn, name: 'orders-api', trustPolicy: trust, inlinePolicies: [], attachedPolicies: [] }]);
    iam.restore();
    eks.restore();
  });

  it('reads every member account through its read role, and logs the one whose role it may not assume', async () => {
    const store = new DynamoEvidenceStore({ client: embedded.client, tableName: 'inventory-members' });
    await store.ensureTable();
    Object.assign(process.env, {
      TABLE_NAME: 'inventory-members',
      EKS_REGIONS: 'us-east-1',
      MEMBER_ACCOUNTS: '444455556666,777788889999',
      MEMBER_READ_ROLE_ARN: 'arn:aws:iam::{account}:role/cutover-watch-read',
    });
    const sts = mockClient(STSClient);
    sts.on(AssumeRoleCommand).callsFake(async (input: { RoleArn: string }) => {
      const account = input.RoleArn.split(':')[4]!;
      if (account === '777788889999') throw Object.assign(new Error('not authorized to perform: sts:AssumeRole'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      return { Credentials: { AccessKeyId: `ASIA${account}`, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) } };
    });
    // each account's EKS answers with its own cluster: the account is told by the caller's keys
    const eks = mockClient(EKSClient);
    const accountOf = async (client: unknown) => {
      const key = (await (client as EKSClient).config.credentials()).accessKeyId;
      return key.startsWith('ASIA') ? key.slice(4) : '111122223333';
    };
    eks.on(ListClustersCommand).callsFake(async (_input, getClient) => ({ clusters: [`cluster-${(await accountOf(getClient())).slice(0, 4)}`] }));
    eks.on(DescribeClusterCommand).callsFake(async (input: { name: string }, getClient) => {
      const account = await accountOf(getClient());
      return { cluster: { name: input.name, arn: `arn:aws:eks:us-east-1:${account}:cluster/${input.name}`, identity: { oidc: { issuer: `https://oidc.eks.us-east-1.amazonaws.com/id/${account}` } } } };
    });
    eks.on(ListPodIdentityAssociationsCommand).resolves({ associations: [] });
    eks.on(ListNodegroupsCommand).resolves({ nodegroups: [] });
    eks.on(ListAddonsCommand).resolves({ addons: [] });
    const warnings = vi.mocked(console.warn);
    warnings.mockClear();
    vi.resetModules();
    const { handler } = await import('../../functions/handlers/inventory');

    try {
      const result = await handler();

      expect(result).toEqual({ clusters: 2, problems: 0, accounts: 2, accountsNotRead: 1 });
      expect((await store.loadInventory()).clusters.map((c) => c.account).sort()).toEqual(['111122223333', '444455556666']);
      expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleSessionName)).toEqual(['cutover-watch', 'cutover-watch']);
      const logged = warnings.mock.calls.map((c) => String(c[0])).join('\n');
      expect(logged).toContain('account not read');
      expect(logged).toContain('missing permission sts:AssumeRole on arn:aws:iam::777788889999:role/cutover-watch-read');
    } finally {
      eks.restore();
      sts.restore();
      delete process.env['MEMBER_ACCOUNTS'];
      delete process.env['MEMBER_READ_ROLE_ARN'];
    }
  });
});
