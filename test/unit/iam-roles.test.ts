import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  ServiceFailureException,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseRoleArn, syncRoles } from '../../functions/adapters/iam-roles';
import { attachedDocuments, emptyInventory, mergeInventory, parseInventoryDocument, type Inventory } from '../../functions/core/inventory';

const iam = mockClient(IAMClient);
afterEach(() => iam.reset());
afterAll(() => iam.restore());

const FIXTURES = path.join(__dirname, '../fixtures/iam');
const fixture = (name: string) => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
const SYNC_ROLE = 'arn:aws:iam::111122223333:role/payments-prod-ledger-ledger-sync';
const READER = 'arn:aws:iam::111122223333:role/payments-prod-shared-s3-reader';
const QUEUE_POLICY = 'arn:aws:iam::111122223333:policy/ledger-queue-by-service-account';
/** The IAM API returns policy documents URL-encoded (the CLI decodes them before printing). */
const encoded = (doc: unknown) => encodeURIComponent(JSON.stringify(doc));

/** The IAM API over the fixture roles, in the API's shapes: Dates, URL-encoded documents, two-item pages. */
function serve(): string[] {
  const log: string[] = [];
  const roles = [fixture('get-role-payments-prod-ledger-ledger-sync.json').Role, fixture('get-role-payments-prod-shared-s3-reader.json').Role];
  iam.on(GetRoleCommand).callsFake(async ({ RoleName }: { RoleName: string }) => {
    log.push(`GetRole ${RoleName}`);
    const r = roles.find((x) => x.RoleName === RoleName);
    if (!r) throw new NoSuchEntityException({ message: `The role with name ${RoleName} cannot be found.`, $metadata: {} });
    return { Role: { ...r, CreateDate: new Date(r.CreateDate), AssumeRolePolicyDocument: encoded(r.AssumeRolePolicyDocument), RoleLastUsed: undefined } };
  });
  iam.on(ListRolePoliciesCommand).callsFake(async ({ RoleName, Marker }: { RoleName: string; Marker?: string }) => {
    log.push(`ListRolePolicies ${RoleName} ${Marker ?? '-'}`);
    if (RoleName !== 'payments-prod-ledger-ledger-sync') return { PolicyNames: [], IsTruncated: false };
    return Marker ? { PolicyNames: ['second'], IsTruncated: false } : { PolicyNames: ['ledger-bucket-by-namespace'], IsTruncated: true, Marker: 'm1' };
  });
  iam.on(GetRolePolicyCommand).callsFake(async ({ RoleName, PolicyName }: { RoleName: string; PolicyName: string }) => {
    log.push(`GetRolePolicy ${RoleName} ${PolicyName}`);
    const doc = PolicyName === 'second' ? { Version: '2012-10-17', Statement: [] } : fixture('get-role-policy-payments-prod-ledger-ledger-sync.json').PolicyDocument;
    return { RoleName, PolicyName, PolicyDocument: encoded(doc) };
  });
  iam.on(ListAttachedRolePoliciesCommand).callsFake(async ({ RoleName }: { RoleName: string }) => {
    log.push(`ListAttachedRolePolicies ${RoleName}`);
    const mine = RoleName === 'payments-prod-ledger-ledger-sync' ? fixture('list-attached-role-policies--payments-prod-ledger-ledger-sync.json').AttachedPolicies : [];
    return { AttachedPolicies: [...mine, { PolicyName: 'AmazonS3ReadOnlyAccess', PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' }], IsTruncated: false };
  });
  iam.on(GetPolicyCommand).callsFake(async ({ PolicyArn }: { PolicyArn: string }) => {
    log.push(`GetPolicy ${PolicyArn}`);
    return { Policy: { Arn: PolicyArn, PolicyName: 'ledger-queue-by-service-account', DefaultVersionId: 'v3' } };
  });
  iam.on(GetPolicyVersionCommand).callsFake(async ({ PolicyArn, VersionId }: { PolicyArn: string; VersionId: string }) => {
    log.push(`GetPolicyVersion ${PolicyArn} ${VersionId}`);
    const v = fixture('get-policy-version--ledger-queue-by-service-account.json').PolicyVersion;
    return { PolicyVersion: { ...v, CreateDate: new Date(v.CreateDate), Document: encoded(v.Document) } };
  });
  return log;
}

const noSleep = async () => undefined;
const client = () => new IAMClient({ region: 'us-east-1' });

/** What `inventory import` makes of the same roles printed by the AWS CLI. */
function imported(): Inventory {
  let inv = emptyInventory();
  for (const f of [
    'get-role-payments-prod-ledger-ledger-sync.json',
    'get-role-policy-payments-prod-ledger-ledger-sync.json',
    'list-attached-role-policies--payments-prod-ledger-ledger-sync.json',
    'get-policy-version--ledger-queue-by-service-account.json',
  ]) {
    const r = parseInventoryDocument(fixture(f), { fileName: f });
    if (!r.ok) throw new Error(r.reason);
    inv = mergeInventory(inv, r.inventory);
  }
  return inv;
}

describe('syncRoles', () => {
  it('reads trust, inline (paginated) and customer managed policies, decoding the API\'s URL-encoded documents into what import reads', async () => {
    const log = serve();
    const result = await syncRoles({ roleArns: [SYNC_ROLE, READER, SYNC_ROLE], clientFor: client, sleep: noSleep });
    expect(result.problems).toEqual([]);
    expect(result.roles).toBe(2);
    const role = result.inventory.roles!.find((r) => r.arn === SYNC_ROLE)!;
    const cli = imported().roles![0]!;
    expect(role.trustPolicy).toEqual(cli.trustPolicy);
    expect(role.inlinePolicies).toEqual([...cli.inlinePolicies!, { name: 'second', document: { Version: '2012-10-17', Statement: [] } }]);
    expect(attachedDocuments(result.inventory, role)).toEqual([
      { ...attachedDocuments(imported(), cli)[0]!, arn: QUEUE_POLICY },
      { name: 'AmazonS3ReadOnlyAccess', arn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess', document: null },
    ]);
    expect(result.inventory.roles!.find((r) => r.arn === READER)!.inlinePolicies).toEqual([]);
    // Each role once; AWS managed policies never read.
    expect(log.filter((l) => l.startsWith('GetRole ')).sort()).toEqual(['GetRole payments-prod-ledger-ledger-sync', 'GetRole payments-prod-shared-s3-reader']);
    expect(log.filter((l) => l.startsWith('GetPolicy'))).toEqual([`GetPolicy ${QUEUE_POLICY}`, `GetPolicyVersion ${QUEUE_POLICY} v3`]);
  });

  it('reports a role of another account (GetRole answers by name), one it may not read, and one that does not exist, and reads the rest', async () => {
    serve();
    iam.on(ListRolePoliciesCommand, { RoleName: 'payments-prod-shared-s3-reader' }).rejects(
      // IAM models no AccessDenied exception: the SDK raises a plain error named after the code.
      Object.assign(new Error('not authorized to perform: iam:ListRolePolicies'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }),
    );
    const result = await syncRoles({
      roleArns: ['arn:aws:iam::444455556666:role/payments-prod-ledger-ledger-sync', READER, 'arn:aws:iam::111122223333:role/gone', 'not-an-arn'],
      clientFor: client,
      sleep: noSleep,
    });
    expect(result.roles).toBe(1);
    expect(result.problems).toEqual([
      { region: 'iam', cluster: 'gone', operation: 'GetRole', reason: 'no role gone in account 111122223333: deleted, or the ARN is wrong' },
      { region: 'iam', cluster: 'payments-prod-shared-s3-reader', operation: 'ListRolePolicies', reason: 'missing permission iam:ListRolePolicies (AccessDenied: not authorized to perform: iam:ListRolePolicies)' },
      {
        region: 'iam',
        cluster: 'payments-prod-ledger-ledger-sync',
        operation: 'GetRole',
        reason: `the credentials read ${SYNC_ROLE}, not arn:aws:iam::444455556666:role/payments-prod-ledger-ledger-sync: read account 444455556666 with its own credentials`,
      },
      { region: 'iam', cluster: 'not-an-arn', operation: 'GetRole', reason: 'not an IAM role ARN' },
    ]);
    // The role whose inline policies could not be listed is kept with its trust policy, its inline policies unknown.
    expect(result.inventory.roles!.map((r) => [r.name, r.inlinePolicies])).toEqual([['payments-prod-shared-s3-reader', null]]);
  });

  it('retries a throttled or failing call a bounded number of times', async () => {
    serve();
    let failures = 2;
    iam.on(GetRoleCommand).callsFake(async () => {
      if (failures-- > 0) throw Object.assign(new ServiceFailureException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } }), { name: 'Throttling' });
      return { Role: { ...fixture('get-role-payments-prod-shared-s3-reader.json').Role, CreateDate: new Date() } };
    });
    const result = await syncRoles({ roleArns: [READER], clientFor: client, sleep: noSleep, throttleRetries: 3 });
    expect(result).toMatchObject({ roles: 1, problems: [] });
  });

  it('parses role ARNs with paths, in every partition', () => {
    expect(parseRoleArn('arn:aws:iam::111122223333:role/service-role/eks/my.role')).toEqual({ partition: 'aws', account: '111122223333', name: 'my.role' });
    expect(parseRoleArn('arn:aws-cn:iam::111122223333:role/x')).toEqual({ partition: 'aws-cn', account: '111122223333', name: 'x' });
    expect(parseRoleArn('arn:aws:iam::111122223333:user/x')).toBeNull();
  });
});
