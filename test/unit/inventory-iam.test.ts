import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregate, mergeItems, type EvidenceItem } from '../../functions/core/evidence';
import { attachedDocuments, emptyInventory, mergeInventories, mergeInventory, parseInventoryDocument, policyDocument, subjectOfFileName, type Inventory } from '../../functions/core/inventory';
import { assessReadiness } from '../../functions/core/readiness';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { identityEvent } from '../support/events';

const irsaEvent = (fields: Partial<IdentityEvent>): IdentityEvent =>
  identityEvent('irsa', {
    action: 'sts:AssumeRoleWithWebIdentity',
    oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/5C5F5E5D4B3A29180716F5E4D3C2B1A0',
    namespace: 'orders',
    serviceAccount: 'orders-worker',
    roleArn: 'arn:aws:iam::111122223333:role/payments-prod-orders-orders-worker',
    ...fields,
  });

const FIXTURES = path.join(__dirname, '../fixtures/iam');
const fixture = (name: string): unknown => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
const ARN = 'arn:aws:iam::111122223333:role/payments-prod-ledger-ledger-sync';

function parse(doc: unknown, fileName?: string): Inventory {
  const result = parseInventoryDocument(doc, { fileName });
  if (!result.ok) throw new Error(result.reason);
  return result.inventory;
}

describe('inventory import of IAM and add-on output', () => {
  it('reads aws iam get-role: the trust policy as the CLI prints it (decoded JSON)', () => {
    const inv = parse(fixture('get-role-payments-prod-ledger-ledger-sync.json'));
    expect(inv.roles).toEqual([
      {
        arn: ARN,
        name: 'payments-prod-ledger-ledger-sync',
        trustPolicy: { Version: '2012-10-17', Statement: [{ Sid: 'AllowEksAuthToAssumeRoleForPodIdentity', Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }] },
        inlinePolicies: null,
        attachedPolicies: null,
      },
    ]);
  });

  it('reads the IAM API\'s URL-encoded trust policy (GetRole through an SDK) the same', () => {
    const cli = fixture('get-role-payments-prod-ledger-ledger-sync.json') as { Role: Record<string, unknown> };
    const encoded = encodeURIComponent(JSON.stringify(cli.Role['AssumeRolePolicyDocument']));
    expect(encoded).toMatch(/^%7B%22Version%22/);
    const api = parse({ Role: { ...cli.Role, AssumeRolePolicyDocument: encoded } });
    expect(api).toEqual(parse(cli));
    expect(policyDocument('not json')).toBe('the policy document is not JSON, nor URL-encoded JSON');
    expect(policyDocument(7)).toBe('a policy document must be a JSON object or a (URL-encoded) JSON string');
  });

  it('joins get-role-policy, list-attached-role-policies and get-policy-version to the role, whatever the order', () => {
    const files = [
      'get-policy-version--ledger-queue-by-service-account.json',
      'list-attached-role-policies--payments-prod-ledger-ledger-sync.json',
      'get-role-policy-payments-prod-ledger-ledger-sync.json',
      'get-role-payments-prod-ledger-ledger-sync.json',
    ];
    for (const order of [files, [...files].reverse()]) {
      const inv = order.reduce((acc, f) => mergeInventory(acc, parse(fixture(f), f)), emptyInventory());
      expect(inv.roles).toHaveLength(1);
      const role = inv.roles![0]!;
      expect(role.arn).toBe(ARN);
      expect(role.trustPolicy).not.toBeNull();
      expect(role.inlinePolicies!.map((p) => p.name)).toEqual(['ledger-bucket-by-namespace']);
      expect(attachedDocuments(inv, role)).toEqual([
        { name: 'ledger-queue-by-service-account', arn: 'arn:aws:iam::111122223333:policy/ledger-queue-by-service-account', document: expect.objectContaining({ Version: '2012-10-17' }) },
      ]);
    }
  });

  it('refuses output that does not name its role or policy unless the file name does', () => {
    expect(parseInventoryDocument(fixture('list-attached-role-policies--payments-prod-ledger-ledger-sync.json'), { fileName: 'attached.json' })).toEqual({
      ok: false,
      reason: 'aws iam list-attached-role-policies output does not name its role: name the file after it, e.g. list-attached-role-policies--ROLE.json',
    });
    expect(parseInventoryDocument(fixture('get-policy-version--ledger-queue-by-service-account.json'))).toMatchObject({ ok: false, reason: expect.stringContaining('get-policy-version--POLICY-NAME.json') });
    expect(subjectOfFileName('iam/list-attached-role-policies--payments--api.json')).toBe('api');
    expect(subjectOfFileName('C:\\iam\\get-policy-version--s3-read.JSON')).toBe('s3-read');
    expect(subjectOfFileName('get-role.json')).toBeNull();
  });

  it('reads aws iam get-account-authorization-details: roles with inline and attached policies, and the default versions', () => {
    const doc = {
      RoleDetailList: [
        {
          Path: '/',
          RoleName: 'payments-prod-ledger-ledger-sync',
          RoleId: 'AROAYJ2TVJ5KZ2GP6JVMG',
          Arn: ARN,
          CreateDate: '2024-03-11T09:14:52+00:00',
          AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [] },
          InstanceProfileList: [],
          RolePolicyList: [{ PolicyName: 'inline', PolicyDocument: { Version: '2012-10-17', Statement: [] } }],
          AttachedManagedPolicies: [{ PolicyName: 'queue', PolicyArn: 'arn:aws:iam::111122223333:policy/queue' }],
          Tags: [],
          RoleLastUsed: {},
        },
      ],
      Policies: [
        {
          PolicyName: 'queue',
          PolicyId: 'ANPAYJ2TVJ5KQ3EXAMPLE',
          Arn: 'arn:aws:iam::111122223333:policy/queue',
          DefaultVersionId: 'v2',
          PolicyVersionList: [
            { Document: { Version: '2012-10-17', Statement: [{ Sid: 'old' }] }, VersionId: 'v1', IsDefaultVersion: false },
            { Document: { Version: '2012-10-17', Statement: [{ Sid: 'current' }] }, VersionId: 'v2', IsDefaultVersion: true },
          ],
        },
      ],
    };
    const inv = parse(doc);
    expect(inv.roles![0]!.inlinePolicies).toEqual([{ name: 'inline', document: { Version: '2012-10-17', Statement: [] } }]);
    expect(attachedDocuments(inv, inv.roles![0]!)[0]!.document).toEqual({ Version: '2012-10-17', Statement: [{ Sid: 'current' }] });
  });

  it('reads aws eks describe-addon, the cluster from the add-on ARN', () => {
    expect(parse(fixture('describe-addon-search-prod-degraded.json')).addons).toEqual([
      {
        cluster: 'search-prod',
        clusterArn: 'arn:aws:eks:us-west-2:111122223333:cluster/search-prod',
        addonName: 'eks-pod-identity-agent',
        status: 'DEGRADED',
        addonVersion: 'v1.3.2-eksbuild.2',
        issues: ["InsufficientNumberOfReplicas: The add-on is unhealthy because it doesn't have the desired number of replicas."],
      },
    ]);
  });

  it('keeps what a sync listed about add-ons when a later describe-cluster says nothing of them', () => {
    const cluster = { name: 'payments-prod', arn: 'arn:aws:eks:us-east-1:111122223333:cluster/payments-prod', region: 'us-east-1', account: '111122223333', oidcIssuer: null };
    const merged = mergeInventory({ ...emptyInventory(), clusters: [{ ...cluster, addonsListed: ['vpc-cni'] }] }, { ...emptyInventory(), clusters: [cluster] });
    expect(merged.clusters[0]!.addonsListed).toEqual(['vpc-cni']);
    // Inventories stored before the preflight have none of the new lists.
    expect(mergeInventory(emptyInventory(), emptyInventory())).toEqual({ clusters: [], associations: [], nodegroups: [] });
  });
});

describe('the SDKs of a service account, from its IRSA user agents', () => {
  it('are a bounded set on the service-account item, carried into readiness', () => {
    const events = [
      irsaEvent({ eventId: 'e1', userAgent: 'aws-sdk-go/1.44.122 (go1.19.3; linux; amd64)' }),
      irsaEvent({ eventId: 'e2', userAgent: 'aws-sdk-go/1.44.122 (go1.20.1; linux; amd64)' }),
      irsaEvent({ eventId: 'e3', userAgent: 'Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10 lang/python#3.11.9 Botocore/1.34.69' }),
      irsaEvent({ eventId: 'e4', userAgent: null }),
    ];
    const store = new Map<string, EvidenceItem>();
    for (const { item } of aggregate(events)) store.set(`${item.pk}|${item.sk}`, mergeItems(store.get(`${item.pk}|${item.sk}`), item));
    const sa = [...store.values()].find((i) => i.type === 'sa')!;
    expect(sa['irsaSdks']).toEqual(['boto3/1.34.69', 'go-v1/1.44.122']);
    const readiness = assessReadiness({ items: [...store.values()], inventory: emptyInventory(), coverage: [] }, { asOf: new Date(Date.parse(events[0]!.eventTime) + 3_600_000) });
    expect(readiness.namespaces[0]!.detail[0]!.sdks).toEqual(['boto3/1.34.69', 'go-v1/1.44.122']);
  });

  it('add nothing to an item whose events carry no user agent', () => {
    const [sa] = aggregate([irsaEvent({ eventId: 'e1', userAgent: null })]).map((d) => d.item).filter((i) => i.type === 'sa');
    expect(sa).not.toHaveProperty('irsaSdks');
  });
});

describe('mergeInventories', () => {
  it('gives what merging the parts one by one gives, whichever order a role and its partial documents come in', () => {
    const names = [
      'list-attached-role-policies--payments-prod-ledger-ledger-sync.json',
      'get-role-policy-payments-prod-ledger-ledger-sync.json',
      'get-role-payments-prod-ledger-ledger-sync.json',
      'get-role-payments-prod-shared-s3-reader.json',
      'get-policy-version--ledger-queue-by-service-account.json',
      'describe-addon-payments-prod.json',
      'describe-addon-search-prod-degraded.json',
    ];
    for (const order of [names, [...names].reverse()]) {
      const parts = order.map((name) => parse(fixture(name), name));
      const oneByOne = parts.reduce((inv, part) => mergeInventory(inv, part), emptyInventory());
      expect(mergeInventories(parts)).toEqual(oneByOne);
      expect(mergeInventories(parts).roles).toHaveLength(2);
    }
  });
});
