/**
 * Contract tests for the normalizer on checked-in CloudTrail records.
 * Fixtures: test/fixtures/cloudtrail/*.json; where each shape comes from: SOURCES.md beside them.
 * Section numbers (§) refer to docs/cloudtrail.md; source keys ([WS-DD], [ARGO]…) to its source table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVENT_KINDS, OUTCOMES, RECURRING_EVENT_FIELDS, REJECT_REASONS } from '../../functions/core/identity-event';
import { StringPool } from '../../functions/core/string-pool';
import type { IdentityEvent, Normalized, Outcome } from '../../functions/core/identity-event';
import { issuerOf, normalizeRecord, outcomeOf } from '../../functions/core/normalize';
import { nodeRoleMatcher } from '../../functions/core/node-roles';
import { UNTOLD } from '../support/events';
import { prng } from '../support/prng';

const FIXTURES = fileURLToPath(new URL('../fixtures/cloudtrail/', import.meta.url));
const FIXTURE_FILES = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .sort();

type Json = null | boolean | number | string | Json[] | JsonObject;
type JsonObject = { [key: string]: Json };

function isJsonObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fixture(file: string): JsonObject {
  return JSON.parse(readFileSync(`${FIXTURES}${file}`, 'utf8')) as JsonObject;
}

/** Sets (or, with `undefined`, deletes) a dot-separated path in place; the parent must exist. */
function edit(record: JsonObject, dotted: string, value: Json | undefined): JsonObject {
  const keys = dotted.split('.');
  const last = keys.pop() ?? '';
  let parent: Json | undefined = record;
  for (const key of keys) parent = isJsonObject(parent) ? parent[key] : undefined;
  if (!isJsonObject(parent)) throw new Error(`fixture has no object at ${keys.join('.')}`);
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return record;
}

/** A fresh copy of a fixture with changes applied. */
function variant(file: string, ...changes: Array<[path: string, value: Json | undefined]>): JsonObject {
  const record = fixture(file);
  for (const [p, value] of changes) edit(record, p, value);
  return record;
}

const matcher = nodeRoleMatcher();
/** A fixed clock: the newest fixture is from 2025, so every fixture is inside the default window. */
const NOW = new Date('2026-11-20T00:00:00Z');
const OPTIONS = { now: NOW };
const normalize = (record: unknown): Normalized => normalizeRecord(record, matcher, OPTIONS);

function eventOf(result: Normalized): IdentityEvent {
  if (result.status !== 'event') throw new Error(`expected an event, got ${JSON.stringify(result)}`);
  return result.event;
}

const NOT_TOLD = { ...UNTOLD, errorCode: null } satisfies Partial<IdentityEvent>;

type Told = Pick<IdentityEvent, 'kind' | 'outcome' | 'eventId' | 'eventTime' | 'account' | 'region' | 'action' | 'sourceIp' | 'userAgent'>;

/** The complete expected event: every field not listed must be `null` (the record does not tell it). */
const event = (e: Told & Partial<IdentityEvent>): Normalized => ({ status: 'event', event: { ...NOT_TOLD, ...e } });

const UA_AGENT = 'aws-sdk-go-v2/1.21.2 os/linux lang/go#1.19.13 md/GOOS#linux md/GOARCH#amd64 api/eksauth#1.0.0-zeta.e49712bf27d5';
const UA_ARGO = 'aws-sdk-go/1.45.1 (go1.21.4; linux; amd64)';
const UA_CLI_S3 = '[aws-cli/2.15.34 Python/3.11.8 Linux/5.10.210-201.852.amzn2.x86_64 docker/x86_64.amzn.2 prompt/off command/s3.ls]';
const EKSCTL_NODE_ROLE = 'arn:aws:iam::113534181560:role/eksctl-eks-oidc-demo-nodegroup-ng--NodeInstanceRole-rL7RY47katu4';
const ARGO_ISSUER = 'oidc.eks.us-west-2.amazonaws.com/id/A8242F25BFBB8F98F5321B2AE63C8B5C';
const ARGO_ROLE = 'arn:aws:iam::100000000002:role/sm-pipelines-k8s-awf-aws-executor-plugin';

interface Case {
  file: string;
  /** The behaviour, then the source (docs/cloudtrail.md section, source key, SEEN/DOC/INFERRED). */
  title: string;
  expected: Normalized;
}

const CASES: Case[] = [
  // ---- §1a eks-auth:AssumeRoleForPodIdentity -----------------------------------------------
  {
    file: 'pod-identity-fetch-success.json',
    title: 'agent fetch: cluster from requestParameters, cluster ARN from recipientAccountId + awsRegion, node from the caller (§1a, SEEN [WS-DD])',
    expected: event({
      kind: 'pod-identity-fetch',
      outcome: 'success',
      eventId: 'e05b6d2e-4be6-45dd-8ad5-ba1e076002a5',
      eventTime: '2023-12-13T01:14:20Z',
      account: '111122223333',
      region: 'us-east-1',
      cluster: 'eksworkshop-eksctl',
      clusterArn: 'arn:aws:eks:us-east-1:111122223333:cluster/eksworkshop-eksctl',
      nodeInstanceId: 'i-064d652934ecf0bfc',
      nodeRoleArn: 'arn:aws:iam::111122223333:role/platform-eks-node-group-20231128085853957000000011',
      imdsVersion: '2.0',
      action: 'eks-auth:AssumeRoleForPodIdentity',
      sourceIp: '44.219.101.145',
      userAgent: UA_AGENT,
    }),
  },
  {
    file: 'pod-identity-fetch-access-denied.json',
    title: 'agent fetch refused: CloudTrail spelling AccessDenied is a denial; no role or namespace in the record (§1a AccessDenied, SEEN [WS-UC])',
    expected: event({
      kind: 'pod-identity-fetch',
      outcome: 'denied',
      eventId: 'd647586b-b713-46af-b7f9-512c7f5145dd',
      eventTime: '2024-01-30T07:52:08Z',
      account: '753273931759',
      region: 'us-west-2',
      cluster: 'eksworkshop-eksctl',
      clusterArn: 'arn:aws:eks:us-west-2:753273931759:cluster/eksworkshop-eksctl',
      nodeInstanceId: 'i-02930ce60274d87a7',
      nodeRoleArn: 'arn:aws:iam::753273931759:role/eks-bootstrap-template-ws-EKSNodegroupRole-E1potkq4Auqa',
      imdsVersion: '2.0',
      action: 'eks-auth:AssumeRoleForPodIdentity',
      errorCode: 'AccessDenied',
      sourceIp: '100.20.39.202',
      userAgent: UA_AGENT,
    }),
  },
  {
    file: 'pod-identity-fetch-aws-cli.json',
    title: 'manual fetch with the aws-cli user agent is still a fetch; the caller instance role is reported as given (§1a, SEEN [WS-DD])',
    expected: event({
      kind: 'pod-identity-fetch',
      outcome: 'success',
      eventId: 'eaef7c6d-f6d0-4a9a-8380-4547a9ac326e',
      eventTime: '2024-04-16T08:29:33Z',
      account: '823571991546',
      region: 'us-west-2',
      cluster: 'eksworkshop-eksctl',
      clusterArn: 'arn:aws:eks:us-west-2:823571991546:cluster/eksworkshop-eksctl',
      nodeInstanceId: 'i-07574d724fb843fda',
      nodeRoleArn: 'arn:aws:iam::823571991546:role/eks-security-workshop',
      imdsVersion: '2.0',
      action: 'eks-auth:AssumeRoleForPodIdentity',
      sourceIp: '34.222.6.96',
      userAgent:
        'aws-cli/2.15.38 Python/3.11.8 Linux/5.10.213-201.855.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/eks-auth.assume-role-for-pod-identity',
    }),
  },
  // ---- §1b companion sts:AssumeRole by pods.eks.amazonaws.com ------------------------------
  {
    file: 'pod-identity-assume-role-tags.json',
    title: 'companion AssumeRole: cluster, namespace, service account and pod from the six session tags (§1b, SEEN [WS-DD])',
    expected: event({
      kind: 'pod-identity',
      outcome: 'success',
      eventId: '7b7e4636-4713-3d04-b86a-cd6774cdbae9',
      eventTime: '2024-04-16T09:20:04Z',
      account: '823571991546',
      region: 'us-west-2',
      cluster: 'eksworkshop-eksctl',
      clusterArn: 'arn:aws:eks:us-west-2:823571991546:cluster/eksworkshop-eksctl',
      namespace: 'ns-a',
      serviceAccount: 'sa1',
      roleArn: 'arn:aws:iam::823571991546:role/eks-pod-s3-read-access-role',
      podName: 'app1',
      podUid: '0cda7f85-c1f9-4dee-b6e9-a0b50c8f3012',
      sessionTagsMissing: false,
      action: 'sts:AssumeRole',
      sourceIp: 'pods.eks.amazonaws.com',
      userAgent: 'pods.eks.amazonaws.com',
    }),
  },
  {
    file: 'pod-identity-assume-role-no-tags.json',
    title: 'companion AssumeRole without tags (disableSessionTags) is still Pod Identity, flagged sessionTagsMissing, pod fields null (§1b, INFERRED)',
    expected: event({
      kind: 'pod-identity',
      outcome: 'success',
      eventId: '0b6c1e0e-6f4a-3a51-9d7b-2e8f4c1a9b03',
      eventTime: '2024-04-16T09:41:12Z',
      account: '823571991546',
      region: 'us-west-2',
      roleArn: 'arn:aws:iam::823571991546:role/eks-pod-s3-read-access-role',
      sessionTagsMissing: true,
      action: 'sts:AssumeRole',
      sourceIp: 'pods.eks.amazonaws.com',
      userAgent: 'pods.eks.amazonaws.com',
    }),
  },
  {
    file: 'pod-identity-assume-role-placeholder-account.json',
    title: 'placeholder account ACCOUNT_ID is kept as-is, not rejected (§1b Dec-2023 sample, SEEN [WS-DD]; §6 item 12)',
    expected: event({
      kind: 'pod-identity',
      outcome: 'success',
      eventId: '55621424-173a-3b4e-a321-661c4206278c',
      eventTime: '2023-12-13T01:14:20Z',
      account: 'ACCOUNT_ID',
      region: 'us-east-1',
      cluster: 'eksworkshop-eksctl',
      clusterArn: 'arn:aws:eks:us-east-1:ACCOUNT_ID:cluster/eksworkshop-eksctl',
      namespace: 'ns-a',
      serviceAccount: 'sa1',
      roleArn: 'arn:aws:iam::ACCOUNT_ID:role/eks-pod-s3-read-access-role',
      podName: 'app1',
      podUid: '91eee131-74f3-49d4-8f7c-bcde305c120b',
      sessionTagsMissing: false,
      action: 'sts:AssumeRole',
      sourceIp: 'pods.eks.amazonaws.com',
      userAgent: 'pods.eks.amazonaws.com',
    }),
  },
  // ---- §2 IRSA ------------------------------------------------------------------------------
  {
    file: 'irsa-success.json',
    title: 'IRSA assume: issuer from identityProvider, namespace/SA from system:serviceaccount subject, no cluster (§2a, DOC [IAM-CT] + SEEN fields [ARGO])',
    expected: event({
      kind: 'irsa',
      outcome: 'success',
      eventId: '6f3e2d1c-0b9a-4e8f-9d7c-5b4a3f2e1d0c',
      eventTime: '2023-11-08T15:32:51Z',
      account: '100000000002',
      region: 'us-west-2',
      oidcIssuer: ARGO_ISSUER,
      namespace: 'argo',
      serviceAccount: 'awf-aws-executor-plugin',
      roleArn: ARGO_ROLE,
      action: 'sts:AssumeRoleWithWebIdentity',
      sourceIp: '44.238.229.20',
      userAgent: UA_ARGO,
    }),
  },
  {
    file: 'irsa-access-denied.json',
    title: 'IRSA AccessDenied "An unknown error occurred" stays attributable to namespace/SA (§2b, SEEN [ARGO])',
    expected: event({
      kind: 'irsa',
      outcome: 'denied',
      eventId: '899f0a00-4e04-4fab-bb35-0297ed266f62',
      eventTime: '2023-11-08T15:09:08Z',
      account: '100000000002',
      region: 'us-west-2',
      oidcIssuer: ARGO_ISSUER,
      namespace: 'argo',
      serviceAccount: 'awf-aws-executor-plugin',
      roleArn: ARGO_ROLE,
      action: 'sts:AssumeRoleWithWebIdentity',
      errorCode: 'AccessDenied',
      sourceIp: '44.238.229.20',
      userAgent: UA_ARGO,
    }),
  },
  {
    file: 'irsa-invalid-identity-token.json',
    title: 'IRSA InvalidIdentityToken is outcome invalid-token (§2c, guessed shape, INFERRED)',
    expected: event({
      kind: 'irsa',
      outcome: 'invalid-token',
      eventId: '4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d',
      eventTime: '2024-02-20T10:15:30Z',
      account: '111122223333',
      region: 'us-east-1',
      oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E',
      namespace: 'kube-system',
      serviceAccount: 'cluster-autoscaler',
      roleArn: 'arn:aws:iam::111122223333:role/cluster-autoscaler-irsa',
      action: 'sts:AssumeRoleWithWebIdentity',
      errorCode: 'InvalidIdentityToken',
      sourceIp: '3.91.12.34',
      userAgent: 'aws-sdk-go/1.44.122 (go1.19.3; linux; amd64)',
    }),
  },
  {
    file: 'irsa-global-endpoint-us-east-1.json',
    title: 'IRSA through the global STS endpoint: region is where it was recorded (us-east-1), issuer keeps the cluster region; RequestDetails tolerated (§2a, §4c, DOC [IAM-EP])',
    expected: event({
      kind: 'irsa',
      outcome: 'success',
      eventId: 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f',
      eventTime: '2025-05-06T14:02:17Z',
      account: '111122223333',
      region: 'us-east-1',
      oidcIssuer: 'oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE0B1E2A3D4C5F60718293A4B5C',
      namespace: 'payments',
      serviceAccount: 'orders-api',
      roleArn: 'arn:aws:iam::111122223333:role/payments-prod-orders-api',
      action: 'sts:AssumeRoleWithWebIdentity',
      sourceIp: '52.12.34.56',
      userAgent:
        'Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.215-203.850.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0',
    }),
  },
  {
    file: 'irsa-china-partition.json',
    title: 'IRSA in the China partition: arn:aws-cn provider and .amazonaws.com.cn issuer are EKS (§2a, INFERRED)',
    expected: event({
      kind: 'irsa',
      outcome: 'success',
      eventId: '8a9b0c1d-2e3f-4a5b-8c7d-9e0f1a2b3c4d',
      eventTime: '2024-06-03T02:45:10Z',
      account: '111122223333',
      region: 'cn-north-1',
      oidcIssuer: 'oidc.eks.cn-north-1.amazonaws.com.cn/id/EXAMPLE7A6B5C4D3E2F10987654321AB',
      namespace: 'ledger',
      serviceAccount: 'ledger-writer',
      roleArn: 'arn:aws-cn:iam::111122223333:role/ledger-writer-irsa',
      action: 'sts:AssumeRoleWithWebIdentity',
      sourceIp: '54.222.10.20',
      userAgent:
        'aws-sdk-java/2.25.10 Linux/5.10.217-205.860.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy',
    }),
  },
  // ---- non-EKS web identities (§5 "EKS OIDC issuers only") --------------------------------
  {
    file: 'web-identity-github-actions.json',
    title: 'GitHub Actions OIDC is skipped as non-EKS, not misfiled as IRSA (§5, INFERRED)',
    expected: { status: 'skipped', reason: 'non-eks-web-identity' },
  },
  {
    file: 'web-identity-cognito.json',
    title: 'Cognito (identityProvider is a bare issuer name) is skipped as non-EKS (DOC shape [CT-UI], INFERRED values)',
    expected: { status: 'skipped', reason: 'non-eks-web-identity' },
  },
  {
    file: 'web-identity-self-managed-kubernetes.json',
    title: 'self-managed Kubernetes issuer is skipped although the subject is system:serviceaccount:… (§5 note, INFERRED)',
    expected: { status: 'skipped', reason: 'non-eks-web-identity' },
  },
  // ---- §3 node role ---------------------------------------------------------------------------
  {
    file: 'node-role-s3-list-buckets-denied.json',
    title: 'pod falling through to the eksctl node role: s3:ListBuckets AccessDenied is a node-role event (§3, SEEN)',
    expected: event({
      kind: 'node-role',
      outcome: 'denied',
      eventId: 'c258b2d7-b07d-4017-bf98-107b45288cff',
      eventTime: '2024-03-30T00:29:59Z',
      account: '113534181560',
      region: 'us-east-2',
      nodeInstanceId: 'i-09330a7fbc141a62c',
      nodeRoleArn: EKSCTL_NODE_ROLE,
      imdsVersion: '2.0',
      action: 's3:ListBuckets',
      errorCode: 'AccessDenied',
      sourceIp: '3.144.201.55',
      userAgent: UA_CLI_S3,
    }),
  },
  {
    file: 'node-role-s3-list-buckets-imdsv1.json',
    title: 'node-role call with IMDSv1-delivered credentials reports imdsVersion 1.0 (§3, DOC [CT-UI])',
    expected: event({
      kind: 'node-role',
      outcome: 'denied',
      eventId: '3f1b0c9e-8d7a-4b6c-95e4-f3d2c1b0a987',
      eventTime: '2024-03-30T00:41:12Z',
      account: '113534181560',
      region: 'us-east-2',
      nodeInstanceId: 'i-09330a7fbc141a62c',
      nodeRoleArn: EKSCTL_NODE_ROLE,
      imdsVersion: '1.0',
      action: 's3:ListBuckets',
      errorCode: 'AccessDenied',
      sourceIp: '3.144.201.55',
      userAgent: UA_CLI_S3,
    }),
  },
  {
    file: 'node-role-ecr-get-authorization-token.json',
    title: 'image pull credentials (ecr:GetAuthorizationToken) are expected node traffic (§3 expected traffic, INFERRED from [EKS-UG])',
    expected: { status: 'skipped', reason: 'expected-node-traffic' },
  },
  {
    file: 'node-role-ec2-describe-instances.json',
    title: 'ec2:DescribeInstances by the node is expected node traffic (§3 expected traffic, INFERRED from [EKS-UG])',
    expected: { status: 'skipped', reason: 'expected-node-traffic' },
  },
  {
    file: 'node-role-sts-assume-role.json',
    title: 'sts:AssumeRole made with node-role instance credentials is node-role fallthrough, not out of scope (§0 "whatever the pod calls", INFERRED)',
    expected: event({
      kind: 'node-role',
      outcome: 'success',
      eventId: 'e9f8a7b6-c5d4-4e3f-a2b1-c0d9e8f7a6b5',
      eventTime: '2024-03-30T00:35:02Z',
      account: '113534181560',
      region: 'us-east-2',
      nodeInstanceId: 'i-09330a7fbc141a62c',
      nodeRoleArn: EKSCTL_NODE_ROLE,
      imdsVersion: '2.0',
      action: 'sts:AssumeRole',
      sourceIp: '3.144.201.55',
      userAgent:
        'Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0',
    }),
  },
  {
    file: 'assumed-role-non-node-session.json',
    title: 'assumed-role session with empty webIdFederationData, no ec2RoleDelivery, session not i-… is out of scope (§2a bullet, §6 item 10, DOC [IAM-EP])',
    expected: { status: 'skipped', reason: 'out-of-scope' },
  },
  // ---- unrelated ----------------------------------------------------------------------------
  {
    file: 'console-login.json',
    title: 'ConsoleLogin is out of scope (DOC shape [CT-UI])',
    expected: { status: 'skipped', reason: 'out-of-scope' },
  },
  {
    file: 'iam-user-assume-role.json',
    title: "an IAM user's AssumeRole is out of scope, not Pod Identity (DOC [IAM-CT])",
    expected: { status: 'skipped', reason: 'out-of-scope' },
  },
];

const ISO_UTC_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

describe('normalizeRecord on the checked-in fixtures (test/fixtures/cloudtrail/SOURCES.md)', () => {
  it('has one expectation per fixture file, and a fixture for every expectation', () => {
    expect(CASES.map((c) => c.file).sort()).toEqual(FIXTURE_FILES);
  });

  it.each(CASES)('$file: $title', ({ file, expected }) => {
    expect(normalize(fixture(file))).toStrictEqual(expected);
  });

  it('writes every eventTime as ISO 8601 UTC with a Z, equal to the instant CloudTrail recorded', () => {
    for (const file of FIXTURE_FILES) {
      const result = normalize(fixture(file));
      if (result.status !== 'event') continue;
      expect(result.event.eventTime, file).toMatch(ISO_UTC_SECONDS);
      expect(Date.parse(result.event.eventTime), file).toBe(Date.parse(String(fixture(file)['eventTime'])));
    }
  });
});

describe('StringPool (what analyze keeps of each event in its batch)', () => {
  it('gives every fixture event back equal, field for field, through a pool that fills and starts again', () => {
    const pool = new StringPool(3);
    const events = FIXTURE_FILES.map((file) => normalize(fixture(file))).flatMap((r) => (r.status === 'event' ? [r.event] : []));
    expect(events.length).toBeGreaterThan(5);
    for (const event of events) {
      const copy = structuredClone(event);
      expect(pool.share(event, RECURRING_EVENT_FIELDS)).toStrictEqual(copy);
    }
  });
});

describe('eventTime normalization (CloudTrail writes UTC with Z; other ISO forms are converted)', () => {
  const FILE = 'irsa-success.json';

  it('converts an offset timestamp to UTC', () => {
    expect(eventOf(normalize(variant(FILE, ['eventTime', '2023-11-08T17:32:51+02:00']))).eventTime).toBe('2023-11-08T15:32:51Z');
  });

  it('keeps milliseconds when the record has them', () => {
    expect(eventOf(normalize(variant(FILE, ['eventTime', '2023-11-08T15:32:51.250Z']))).eventTime).toBe('2023-11-08T15:32:51.250Z');
  });
});

describe('rejections: typed, with the field named, never thrown', () => {
  it.each([
    ['null', null],
    ['a string', '{"eventName":"AssumeRole"}'],
    ['an array', [fixture('irsa-success.json')]],
    ['a number', 42],
    ['undefined', undefined],
  ])('rejects %s as not-an-object with no field', (_label, input) => {
    const result = normalize(input);
    expect(result).toMatchObject({ status: 'rejected', reason: 'not-an-object', field: null });
  });

  it('names the JSON type it got in the detail', () => {
    expect(normalize([])).toMatchObject({ detail: expect.stringContaining('array') });
    expect(normalize(null)).toMatchObject({ detail: expect.stringContaining('null') });
  });

  it('rejects a record without eventName as missing-field eventName', () => {
    expect(normalize(variant('irsa-success.json', ['eventName', undefined]))).toMatchObject({
      status: 'rejected',
      reason: 'missing-field',
      field: 'eventName',
    });
  });

  it('rejects an empty eventName as missing-field eventName', () => {
    expect(normalize(variant('irsa-success.json', ['eventName', '']))).toMatchObject({
      status: 'rejected',
      reason: 'missing-field',
      field: 'eventName',
    });
  });

  it('rejects a record without eventSource as missing-field eventSource', () => {
    expect(normalize(variant('console-login.json', ['eventSource', undefined]))).toMatchObject({
      status: 'rejected',
      reason: 'missing-field',
      field: 'eventSource',
    });
  });

  it.each(['pod-identity-assume-role-tags.json', 'pod-identity-fetch-success.json', 'irsa-success.json', 'node-role-s3-list-buckets-denied.json'])(
    'rejects in-scope %s without eventID as missing-field eventID (the dedup key)',
    (file) => {
      expect(normalize(variant(file, ['eventID', undefined]))).toMatchObject({
        status: 'rejected',
        reason: 'missing-field',
        field: 'eventID',
      });
    },
  );

  it('does not require eventID on an out-of-scope record: it is skipped, not rejected', () => {
    expect(normalize(variant('console-login.json', ['eventID', undefined]))).toStrictEqual({ status: 'skipped', reason: 'out-of-scope' });
  });

  it('rejects eventName given as a number as wrong-type, naming eventName', () => {
    const result = normalize(variant('irsa-success.json', ['eventName', 17]));
    expect(result).toMatchObject({ status: 'rejected', reason: 'wrong-type', field: 'eventName' });
    expect(result).toMatchObject({ detail: expect.stringContaining('number') });
  });

  it('rejects a nested field of the wrong type with its dotted path (requestParameters.roleArn)', () => {
    expect(normalize(variant('irsa-success.json', ['requestParameters.roleArn', { arn: 'x' }]))).toMatchObject({
      status: 'rejected',
      reason: 'wrong-type',
      field: 'requestParameters.roleArn',
    });
  });

  it.each(['yesterday', '2024-13-45T99:99:99Z', 'Apr 16, 2024, 25:61:00 PM'])('rejects unparseable eventTime %j as bad-value eventTime', (time) => {
    const result = normalize(variant('pod-identity-assume-role-tags.json', ['eventTime', time]));
    expect(result).toMatchObject({ status: 'rejected', reason: 'bad-value', field: 'eventTime' });
    expect(result).toMatchObject({ detail: expect.stringContaining(JSON.stringify(time)) });
  });

  it('rejects a missing eventTime on an in-scope record as missing-field eventTime', () => {
    expect(normalize(variant('irsa-access-denied.json', ['eventTime', undefined]))).toMatchObject({
      status: 'rejected',
      reason: 'missing-field',
      field: 'eventTime',
    });
  });
});

describe('plausible times: a real calendar instant inside the window (default 2014-01-01 … now + 1 day)', () => {
  const FILE = 'irsa-success.json';
  const at = (time: string, options: Parameters<typeof normalizeRecord>[2] = OPTIONS) =>
    normalizeRecord(variant(FILE, ['eventTime', time]), matcher, options);

  it.each(['2024-02-30T10:00:00Z', '2023-02-29T10:00:00Z', '2024-04-31T00:00:00Z', '2024-00-10T00:00:00Z', '2024-04-16T24:00:00Z', '2024-04-16T10:60:00Z', '2024-04-16T10:00:60Z', '2024-04-16T10:00:00+15:00'])(
    'rejects %s as not a real instant, instead of rolling it over',
    (time) => {
      expect(at(time)).toMatchObject({ status: 'rejected', reason: 'bad-value', field: 'eventTime', detail: expect.stringContaining(time) });
    },
  );

  it('accepts Feb 29 of a leap year', () => {
    expect(eventOf(at('2024-02-29T10:00:00Z')).eventTime).toBe('2024-02-29T10:00:00Z');
  });

  it.each(['0000-01-01T00:00:00Z', '1999-12-31T23:59:59Z', '2013-12-31T23:59:59Z'])('rejects %s as before the window', (time) => {
    expect(at(time)).toMatchObject({ status: 'rejected', reason: 'implausible-time', field: 'eventTime', detail: expect.stringContaining('2014-01-01') });
  });

  it.each(['2099-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-11-21T00:00:01Z'])('rejects %s as after now + 1 day', (time) => {
    expect(at(time)).toMatchObject({ status: 'rejected', reason: 'implausible-time', field: 'eventTime' });
  });

  it('accepts the window edges: 2014-01-01T00:00:00Z and now + 1 day exactly', () => {
    expect(eventOf(at('2014-01-01T00:00:00Z')).eventTime).toBe('2014-01-01T00:00:00Z');
    expect(eventOf(at('2026-11-21T00:00:00Z')).eventTime).toBe('2026-11-21T00:00:00Z');
  });

  it('takes the upper bound from the caller\'s clock and the window from its options', () => {
    const early = { now: new Date('2023-11-08T00:00:00Z') };
    expect(at('2023-11-09T12:00:00Z', early)).toMatchObject({ status: 'rejected', reason: 'implausible-time' });
    const wide = { now: new Date('2023-11-08T00:00:00Z'), eventTimeWindow: { futureSlackMs: 7 * 86_400_000 } };
    expect(eventOf(at('2023-11-09T12:00:00Z', wide)).eventTime).toBe('2023-11-09T12:00:00Z');
    const narrow = { now: NOW, eventTimeWindow: { notBefore: new Date('2024-01-01T00:00:00Z') } };
    expect(at('2023-11-08T15:32:51Z', narrow)).toMatchObject({ status: 'rejected', reason: 'implausible-time' });
  });

  it("reads CloudTrail's own form (…Z) as it reads the same fields with +00:00: the same instant, or the same rejection", () => {
    // CloudTrail's form is read without the general parser: any 20 characters of its shape, real
    // dates or not, in the window or not, must get what the general parser gives the same fields
    const twoDigits = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const shaped = fc
      .tuple(fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')), twoDigits(19), twoDigits(39), twoDigits(29), twoDigits(69), twoDigits(69))
      .map(([y, mo, d, h, mi, s]) => `${y}-${mo}-${d}T${h}:${mi}:${s}`);
    // one character of a plausible time swapped for another ('201:' must not read as 2020)
    const swapped = fc
      .tuple(fc.constantFrom('2024-02-29T23:59:59', '2020-06-15T12:30:45'), fc.integer({ min: 0, max: 18 }), fc.constantFrom(':', '/', '.', 'a', ' ', '\u0663', '-', 'T', '+'))
      .map(([time, at, c]) => time.slice(0, at) + c + time.slice(at + 1));
    const verdict = (time: string) => {
      const r = at(time);
      return r.status === 'rejected' ? { rejected: r.reason, field: r.field } : { eventTime: eventOf(r).eventTime };
    };
    fc.assert(
      fc.property(fc.oneof(shaped, swapped, fc.constantFrom('2024-02-29T23:59:59', '2023-02-29T00:00:00', '2014-01-01T00:00:00', '2026-11-21T00:00:00', '2026-11-21T00:00:01')), (fields) => {
        const general = verdict(`${fields}+00:00`);
        expect(verdict(`${fields}Z`)).toEqual(general);
        if ('eventTime' in general) expect(general.eventTime).toBe(`${fields}Z`);
      }),
      { seed: 20261203, numRuns: 3000 },
    );
  });

  it('checks the calendar on the written fields, then converts the offset (2024-03-01T01:00+02:00 is Feb 29, 23:00 UTC)', () => {
    expect(eventOf(at('2024-03-01T01:00:00+02:00')).eventTime).toBe('2024-02-29T23:00:00Z');
  });
});

describe('names and ids: what Kubernetes, EKS and IAM allow, bounded for DynamoDB keys', () => {
  const TAGS_FILE = 'pod-identity-assume-role-tags.json';
  /** The Pod Identity fixture with one session tag's value replaced. */
  function withTag(key: string, value: string): JsonObject {
    const record = fixture(TAGS_FILE);
    const params = record['requestParameters'];
    if (!isJsonObject(params) || !Array.isArray(params['tags'])) throw new Error('fixture has no tags');
    params['tags'] = params['tags'].map((t) => (isJsonObject(t) && t['key'] === key ? { key, value } : t));
    return record;
  }

  it.each([
    ['kubernetes-namespace', 'Payments', 'bad-name'],
    ['kubernetes-namespace', 'ns#a', 'bad-name'],
    ['kubernetes-namespace', '-ns', 'bad-name'],
    ['kubernetes-namespace', 'n'.repeat(64), 'too-long'],
    ['kubernetes-namespace', 'n'.repeat(1025), 'too-long'],
    ['kubernetes-service-account', 'sa#1', 'bad-name'],
    ['kubernetes-service-account', `${'s'.repeat(60)}.`.repeat(5), 'too-long'],
    ['kubernetes-pod-name', 'Pod_1', 'bad-name'],
    ['kubernetes-pod-uid', 'uid\u0000', 'bad-name'],
    ['eks-cluster-name', 'c'.repeat(101), 'too-long'],
    ['eks-cluster-name', '-cluster', 'bad-name'],
    ['eks-cluster-name', 'payments#prod', 'bad-name'],
    ['eks-cluster-arn', 'arn:aws:eks:us-west-2:823571991546:cluster/x#y', 'bad-name'],
    ['eks-cluster-arn', 'not-an-arn', 'bad-name'],
  ])('rejects session tag %s = %j (%s), naming the tag', (key, value, reason) => {
    expect(normalize(withTag(key, value))).toMatchObject({ status: 'rejected', reason, field: `requestParameters.tags.${key}` });
  });

  it('accepts the longest valid names: a 63-character namespace, a 253-character service account, a 100-character cluster', () => {
    const sa = `${'s'.repeat(63)}.${'s'.repeat(63)}.${'s'.repeat(63)}.${'s'.repeat(61)}`;
    expect(sa).toHaveLength(253);
    let record = withTag('kubernetes-namespace', `a${'-'.repeat(61)}z`);
    expect(eventOf(normalize(record)).namespace).toHaveLength(63);
    record = withTag('kubernetes-service-account', sa);
    expect(eventOf(normalize(record)).serviceAccount).toBe(sa);
    record = withTag('eks-cluster-name', `C${'_-'.repeat(49)}9`);
    expect(eventOf(normalize(record)).cluster).toHaveLength(100);
  });

  it('rejects a session tag given twice with different values, naming the tag', () => {
    const record = fixture(TAGS_FILE);
    const params = record['requestParameters'];
    if (!isJsonObject(params) || !Array.isArray(params['tags'])) throw new Error('fixture has no tags');
    params['tags'] = [...params['tags'], { key: 'kubernetes-namespace', value: 'other-ns' }];
    const result = normalize(record);
    expect(result).toMatchObject({ status: 'rejected', reason: 'conflicting-tags', field: 'requestParameters.tags.kubernetes-namespace' });
    expect(result).toMatchObject({ detail: expect.stringContaining('"other-ns"') });
  });

  it('accepts a session tag repeated with the same value', () => {
    const record = fixture(TAGS_FILE);
    const params = record['requestParameters'];
    if (!isJsonObject(params) || !Array.isArray(params['tags'])) throw new Error('fixture has no tags');
    params['tags'] = [...params['tags'], { Key: 'kubernetes-namespace', Value: 'ns-a' }];
    expect(normalize(record)).toStrictEqual(normalize(fixture(TAGS_FILE)));
  });

  it.each([
    ['a 129-character eventID', 'eventID', 'e'.repeat(129), 'too-long'],
    ['a 2 KB eventID', 'eventID', 'e'.repeat(2049), 'too-long'],
    ['an eventID with a control character', 'eventID', 'abc\u001b[2J', 'bad-name'],
    ['an eventID with a newline', 'eventID', 'abc\ndef', 'bad-name'],
    ['a role ARN that is not an IAM role ARN', 'requestParameters.roleArn', 'arn:aws:s3:::bucket', 'bad-name'],
    ['a 3 KB role ARN', 'requestParameters.roleArn', `arn:aws:iam::100000000002:role/${'r'.repeat(3000)}`, 'too-long'],
    ['a role ARN with a space', 'requestParameters.roleArn', 'arn:aws:iam::100000000002:role/a b', 'bad-name'],
    ['an account id with a #', 'recipientAccountId', '1000#0002', 'bad-name'],
    ['a region with a #', 'awsRegion', 'us#west-2', 'bad-name'],
    ['an event name with a space', 'eventName', 'AssumeRoleWithWebIdentity ', 'out-of-scope'],
  ])('IRSA record with %s', (_label, field, value, reason) => {
    const result = normalize(variant('irsa-success.json', [field, value]));
    if (reason === 'out-of-scope') expect(result).toStrictEqual({ status: 'skipped', reason: 'out-of-scope' });
    else expect(result).toMatchObject({ status: 'rejected', reason, field });
  });

  it.each([
    ['system:serviceaccount:Argo:runner', 'userIdentity.userName (namespace)', 'bad-name'],
    ['system:serviceaccount:argo#x:runner', 'userIdentity.userName (namespace)', 'bad-name'],
    ['system:serviceaccount:argo:run ner', 'userIdentity.userName (service account)', 'bad-name'],
    [`system:serviceaccount:${'n'.repeat(1100)}:runner`, 'userIdentity.userName (namespace)', 'too-long'],
    ['system:serviceaccount::runner', 'userIdentity.userName (namespace)', 'bad-name'],
    ['system:serviceaccount:argo:runner:extra', 'userIdentity.userName', 'bad-value'],
    ['repo:octo/app:ref:refs/heads/main', 'userIdentity.userName', 'bad-value'],
  ])('rejects the IRSA subject %j (%s %s)', (subject, field, reason) => {
    expect(normalize(variant('irsa-success.json', ['userIdentity.userName', subject]))).toMatchObject({ status: 'rejected', reason, field });
  });

  it('rejects an IRSA record with no subject at all rather than filing it under a "?" namespace', () => {
    const record = variant('irsa-success.json', ['userIdentity.userName', undefined], ['responseElements', null]);
    expect(normalize(record)).toMatchObject({ status: 'rejected', reason: 'missing-field', field: 'userIdentity.userName' });
  });

  it('rejects an over-long cluster name in a Pod Identity fetch and a malformed node role', () => {
    expect(normalize(variant('pod-identity-fetch-success.json', ['requestParameters.clusterName', 'c'.repeat(1100)]))).toMatchObject({
      status: 'rejected',
      reason: 'too-long',
      field: 'requestParameters.clusterName',
    });
    const arn = 'arn:aws:iam::111122223333:role/platform-eks-node-group#x\u0007';
    expect(normalize(variant('pod-identity-fetch-success.json', ['userIdentity.sessionContext.sessionIssuer.arn', arn]))).toMatchObject({
      status: 'rejected',
      reason: 'bad-name',
      field: 'userIdentity.sessionContext.sessionIssuer.arn',
    });
  });

  it('cuts an over-long user agent instead of rejecting the record (a descriptive field)', () => {
    const agent = eventOf(normalize(variant('irsa-success.json', ['userAgent', 'u'.repeat(100_000)]))).userAgent;
    expect(agent).toHaveLength(1024);
    expect(agent?.endsWith('…')).toBe(true);
  });

  it('quotes a hostile value in the detail on one line, escaped and cut short', () => {
    const result = normalize(variant('irsa-success.json', ['eventID', `\u001b[2J${'x'.repeat(5000)}\n`]));
    if (result.status !== 'rejected') throw new Error('expected a rejection');
    expect(result.detail).not.toMatch(/[\u0000-\u001f]/);
    expect(result.detail.length).toBeLessThan(250);
  });
});

// ---- never throws: seeded random mutation of every fixture -----------------------------------

/** Strings the normalizer branches on, so mutations re-route records rather than only break them. */
const INTERESTING_STRINGS = [
  '',
  ' ',
  'sts.amazonaws.com',
  'eks-auth.amazonaws.com',
  'AssumeRole',
  'AssumeRoleWithWebIdentity',
  'AssumeRoleForPodIdentity',
  'pods.eks.amazonaws.com',
  'AssumedRole',
  'WebIdentityUser',
  'AccessDenied',
  'Client.UnauthorizedOperation',
  'InvalidIdentityToken',
  '2.0',
  'i-0123456789abcdef0',
  'arn:aws:sts::1:assumed-role/KarpenterNodeRole-x/i-0123456789abcdef0',
  'arn:aws:iam::1:role/KarpenterNodeRole-x',
  'arn:aws:iam::1:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC',
  'https://oidc.eks.us-west-2.amazonaws.com/id/ABC/',
  'system:serviceaccount:ns:sa',
  'system:serviceaccount:',
  '2024-04-16T09:20:04Z',
  'not a date',
  '1',
  '__proto__',
  'constructor',
  '\u0000',
  '🙂',
];

const ROUTING_PATHS = [
  'eventSource',
  'eventName',
  'eventID',
  'eventTime',
  'errorCode',
  'awsRegion',
  'recipientAccountId',
  'sourceIPAddress',
  'userAgent',
  'userIdentity',
  'userIdentity.type',
  'userIdentity.invokedBy',
  'userIdentity.arn',
  'userIdentity.accountId',
  'userIdentity.userName',
  'userIdentity.identityProvider',
  'userIdentity.sessionContext',
  'userIdentity.sessionContext.ec2RoleDelivery',
  'userIdentity.sessionContext.sessionIssuer',
  'userIdentity.sessionContext.sessionIssuer.arn',
  'requestParameters',
  'requestParameters.tags',
  'requestParameters.roleArn',
  'requestParameters.clusterName',
  'responseElements',
  'responseElements.provider',
  'responseElements.subjectFromWebIdentityToken',
];

function randomJson(rand: () => number, depth = 0): Json {
  const pick = Math.floor(rand() * (depth >= 2 ? 6 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return [0, -1, 1.5, Number.MAX_SAFE_INTEGER, 1e308, -0][Math.floor(rand() * 6)] ?? 0;
    case 3:
    case 4:
      return INTERESTING_STRINGS[Math.floor(rand() * INTERESTING_STRINGS.length)] ?? '';
    case 5:
      return rand().toString(36).slice(2, 2 + Math.floor(rand() * 12));
    case 6:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1));
    default: {
      const obj: JsonObject = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--) {
        const key = rand() < 0.5 ? (INTERESTING_STRINGS[Math.floor(rand() * INTERESTING_STRINGS.length)] ?? 'k') : ['key', 'value', 'Key', 'Value'][i % 4] ?? 'k';
        obj[key] = randomJson(rand, depth + 1);
      }
      return obj;
    }
  }
}

/** Every container path in the record, so a mutation can hit any depth (array items included). */
function allPaths(node: Json, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(node)) return node.flatMap((item, i) => [[...prefix, i], ...allPaths(item, [...prefix, i])]);
  if (isJsonObject(node)) return Object.entries(node).flatMap(([k, v]) => [[...prefix, k], ...allPaths(v, [...prefix, k])]);
  return [];
}

function mutateAt(record: JsonObject, at: Array<string | number>, value: Json | undefined): void {
  let parent: Json | undefined = record;
  for (const key of at.slice(0, -1)) {
    if (Array.isArray(parent) && typeof key === 'number') parent = parent[key];
    else if (isJsonObject(parent) && typeof key === 'string') parent = parent[key];
    else return;
  }
  const last = at[at.length - 1];
  if (Array.isArray(parent) && typeof last === 'number') {
    if (value === undefined) parent.splice(last, 1);
    else parent[last] = value;
  } else if (isJsonObject(parent) && typeof last === 'string') {
    if (value === undefined) delete parent[last];
    else parent[last] = value;
  }
}

function mutate(record: JsonObject, rand: () => number): JsonObject {
  for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) {
    const paths = allPaths(record);
    const at =
      rand() < 0.5 || paths.length === 0
        ? (ROUTING_PATHS[Math.floor(rand() * ROUTING_PATHS.length)] ?? 'eventName').split('.')
        : (paths[Math.floor(rand() * paths.length)] ?? ['eventName']);
    mutateAt(record, at, rand() < 0.3 ? undefined : randomJson(rand));
  }
  return record;
}

describe('never throws (1,000 seeded random mutations of the fixtures)', () => {
  it('returns a well-formed event, skip or rejection for every mutated record', () => {
    const rand = prng(0xc0ffee);
    const tally = { event: 0, skipped: 0, rejected: 0 };
    for (let i = 0; i < 1000; i++) {
      const file = FIXTURE_FILES[i % FIXTURE_FILES.length] ?? '';
      const record = mutate(fixture(file), rand);
      let result: Normalized | undefined;
      expect(() => {
        result = normalize(record);
      }, `${file} mutated #${i}: ${JSON.stringify(record)}`).not.toThrow();
      if (result === undefined) throw new Error('unreachable');
      tally[result.status]++;
      switch (result.status) {
        case 'event':
          expect(EVENT_KINDS).toContain(result.event.kind);
          expect(OUTCOMES).toContain(result.event.outcome);
          expect(result.event.eventId).toMatch(/.+/);
          expect(Number.isNaN(Date.parse(result.event.eventTime))).toBe(false);
          expect(result.event.eventTime.endsWith('Z')).toBe(true);
          break;
        case 'skipped':
          expect(['out-of-scope', 'non-eks-web-identity', 'expected-node-traffic']).toContain(result.reason);
          break;
        case 'rejected':
          expect(REJECT_REASONS).toContain(result.reason);
          expect(result.detail).toMatch(/.+/);
          break;
      }
    }
    // The mutations must exercise all three paths, or this test proves little.
    expect(tally.event).toBeGreaterThan(50);
    expect(tally.skipped).toBeGreaterThan(50);
    expect(tally.rejected).toBeGreaterThan(50);
  });
});

// ---- tolerance: shapes vary across eventVersions and sources (§6 item 11) ---------------------

const IN_SCOPE_FILES = CASES.filter((c) => c.expected.status === 'event').map((c) => c.file);

describe('tolerance (docs/cloudtrail.md §6 items 2, 3, 11)', () => {
  it.each(IN_SCOPE_FILES)('%s: unknown extra fields at every level change nothing', (file) => {
    const record = fixture(file);
    record['futureTopLevelField'] = { nested: [1, 'two', null] };
    const ui = record['userIdentity'];
    if (isJsonObject(ui)) {
      ui['futureIdentityField'] = 'x';
      const ctx = ui['sessionContext'];
      if (isJsonObject(ctx)) ctx['sourceIdentity'] = 'alice';
    }
    const params = record['requestParameters'];
    if (isJsonObject(params)) params['futureParameter'] = true;
    expect(normalize(record)).toStrictEqual(normalize(fixture(file)));
  });

  it.each(IN_SCOPE_FILES.flatMap((file) => ['1.05', '1.11'].map((version) => [file, version])))(
    '%s: eventVersion %s gives the same result',
    (file, version) => {
      expect(normalize(variant(file, ['eventVersion', version]))).toStrictEqual(normalize(fixture(file)));
    },
  );

  it('reads session tags written as {Key, Value} like {key, value} (§6 item 2)', () => {
    const record = fixture('pod-identity-assume-role-tags.json');
    const params = record['requestParameters'];
    if (!isJsonObject(params) || !Array.isArray(params['tags'])) throw new Error('fixture has no tags');
    params['tags'] = params['tags'].map((t) => (isJsonObject(t) ? { Key: t['key'] ?? null, Value: t['value'] ?? null } : t));
    expect(normalize(record)).toStrictEqual(normalize(fixture('pod-identity-assume-role-tags.json')));
  });

  it('takes the cluster name from the eks-cluster-arn tag when eks-cluster-name is absent', () => {
    const record = fixture('pod-identity-assume-role-tags.json');
    const params = record['requestParameters'];
    if (!isJsonObject(params) || !Array.isArray(params['tags'])) throw new Error('fixture has no tags');
    params['tags'] = params['tags'].filter((t) => !(isJsonObject(t) && t['key'] === 'eks-cluster-name'));
    expect(eventOf(normalize(record))).toMatchObject({
      cluster: 'eksworkshop-eksctl',
      clusterArn: 'arn:aws:eks:us-west-2:823571991546:cluster/eksworkshop-eksctl',
      sessionTagsMissing: false,
    });
  });

  it('accepts responseElements: null on a successful IRSA record (issuer from userIdentity)', () => {
    expect(normalize(variant('irsa-success.json', ['responseElements', null]))).toStrictEqual(normalize(fixture('irsa-success.json')));
  });

  it('accepts responseElements: null on the Pod Identity companion record (tags are in requestParameters)', () => {
    expect(normalize(variant('pod-identity-assume-role-tags.json', ['responseElements', null]))).toStrictEqual(
      normalize(fixture('pod-identity-assume-role-tags.json')),
    );
  });

  it('falls back to responseElements.provider and subjectFromWebIdentityToken when userIdentity lacks them', () => {
    const record = variant('irsa-success.json', ['userIdentity.identityProvider', undefined], ['userIdentity.userName', undefined]);
    expect(normalize(record)).toStrictEqual(normalize(fixture('irsa-success.json')));
  });

  it('treats AccessDeniedException (the API spelling) as denied, like AccessDenied (§1a, §6 item 3)', () => {
    const result = eventOf(normalize(variant('pod-identity-fetch-success.json', ['errorCode', 'AccessDeniedException'])));
    expect(result).toMatchObject({ outcome: 'denied', errorCode: 'AccessDeniedException' });
  });

  it('treats EC2 Client.UnauthorizedOperation on a node-role call as denied', () => {
    const record = variant(
      'node-role-s3-list-buckets-denied.json',
      ['eventSource', 'ec2.amazonaws.com'],
      ['eventName', 'AttachVolume'],
      ['errorCode', 'Client.UnauthorizedOperation'],
    );
    expect(eventOf(normalize(record))).toMatchObject({
      kind: 'node-role',
      action: 'ec2:AttachVolume',
      outcome: 'denied',
      errorCode: 'Client.UnauthorizedOperation',
    });
  });
});

describe('routing details', () => {
  it('an AWSService AssumeRole invoked by another service (ecs-tasks) is not Pod Identity', () => {
    const record = variant('pod-identity-assume-role-tags.json', ['userIdentity.invokedBy', 'ecs-tasks.amazonaws.com']);
    expect(normalize(record)).toStrictEqual({ status: 'skipped', reason: 'out-of-scope' });
  });

  it('an instance session of a role no pattern matches is out of scope', () => {
    const custom = nodeRoleMatcher({ patterns: ['acme-workers-*'] });
    expect(normalizeRecord(fixture('node-role-s3-list-buckets-denied.json'), custom, OPTIONS)).toStrictEqual({ status: 'skipped', reason: 'out-of-scope' });
  });

  it('roleArns makes a custom-named instance role a node role', () => {
    const record = variant(
      'node-role-s3-list-buckets-denied.json',
      ['userIdentity.arn', 'arn:aws:sts::113534181560:assumed-role/acme-workers/i-09330a7fbc141a62c'],
      ['userIdentity.sessionContext.sessionIssuer.arn', 'arn:aws:iam::113534181560:role/acme-workers'],
    );
    expect(normalize(record)).toStrictEqual({ status: 'skipped', reason: 'out-of-scope' });
    const custom = nodeRoleMatcher({ roleArns: ['arn:aws:iam::113534181560:role/acme-workers'] });
    expect(eventOf(normalizeRecord(record, custom, OPTIONS))).toMatchObject({ kind: 'node-role', nodeRoleArn: 'arn:aws:iam::113534181560:role/acme-workers' });
  });

  it('a non-instance session is out of scope even when its role is listed as a node role', () => {
    const listed = nodeRoleMatcher({ roleArns: ['arn:aws:iam::111122223333:role/payments-prod-orders-api'] });
    expect(normalizeRecord(fixture('assumed-role-non-node-session.json'), listed, OPTIONS)).toStrictEqual({ status: 'skipped', reason: 'out-of-scope' });
  });

  it('an i-… session without ec2RoleDelivery (older records) is still a node-role call, IMDS version unknown', () => {
    const record = variant('node-role-s3-list-buckets-denied.json', ['userIdentity.sessionContext.ec2RoleDelivery', undefined]);
    expect(eventOf(normalize(record))).toMatchObject({ kind: 'node-role', nodeInstanceId: 'i-09330a7fbc141a62c', imdsVersion: null });
  });

  it('ec2RoleDelivery alone marks instance credentials even if the session is not named i-…', () => {
    const record = variant('node-role-s3-list-buckets-denied.json', [
      'userIdentity.arn',
      'arn:aws:sts::113534181560:assumed-role/eksctl-eks-oidc-demo-nodegroup-ng--NodeInstanceRole-rL7RY47katu4/custom-session',
    ]);
    expect(eventOf(normalize(record))).toMatchObject({ kind: 'node-role', nodeInstanceId: null, imdsVersion: '2.0' });
  });

  it('an IRSA record without identityProvider takes the issuer from principalId (<provider ARN>:<aud>:<sub>, §2a SEEN [ARGO])', () => {
    const record = variant('irsa-access-denied.json', ['userIdentity.identityProvider', undefined]);
    expect(eventOf(normalize(record))).toMatchObject({ kind: 'irsa', oidcIssuer: expect.stringMatching(/^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com\/id\/[A-F0-9]+$/) });
  });

  it('an IRSA record with no provider anywhere is skipped as non-EKS (no issuer to prove it is EKS)', () => {
    const record = variant('irsa-access-denied.json', ['userIdentity.identityProvider', undefined], ['userIdentity.principalId', undefined]);
    expect(normalize(record)).toStrictEqual({ status: 'skipped', reason: 'non-eks-web-identity' });
  });

  it('rejects an eventTime without a time zone instead of reading it in the machine zone', () => {
    const record = variant('irsa-success.json', ['eventTime', '2024-04-16 09:20:04']);
    expect(normalize(record)).toMatchObject({ status: 'rejected', reason: 'bad-value', field: 'eventTime' });
  });

  it('keeps a record whose descriptive fields have the wrong type, dropping only those fields', () => {
    const record = variant('node-role-s3-list-buckets-denied.json', ['userAgent', 42], ['sourceIPAddress', ['x']]);
    expect(eventOf(normalize(record))).toMatchObject({ kind: 'node-role', userAgent: null, sourceIp: null });
  });

  it('rejects an EKS issuer with a subject that is not system:serviceaccount:NS:SA, naming the field (no "?" namespace)', () => {
    const record = variant('irsa-success.json', ['userIdentity.userName', 'system:serviceaccount:only-namespace']);
    expect(normalize(record)).toMatchObject({ status: 'rejected', reason: 'bad-value', field: 'userIdentity.userName' });
  });

  it('builds a China-partition cluster ARN for a fetch recorded in cn-north-1', () => {
    const record = variant('pod-identity-fetch-success.json', ['awsRegion', 'cn-north-1']);
    expect(eventOf(normalize(record)).clusterArn).toBe('arn:aws-cn:eks:cn-north-1:111122223333:cluster/eksworkshop-eksctl');
  });

  it('falls back to userIdentity.accountId when recipientAccountId is absent', () => {
    const record = variant('node-role-s3-list-buckets-denied.json', ['recipientAccountId', undefined]);
    expect(eventOf(normalize(record)).account).toBe('113534181560');
  });
});

describe('credentials are never copied (docs/architecture.md §2 "Never persist responseElements.credentials"; docs/cloudtrail.md §6 item 9)', () => {
  const withCredentials = FIXTURE_FILES.flatMap((file) => {
    const response = fixture(file)['responseElements'];
    const credentials = isJsonObject(response) ? response['credentials'] : undefined;
    return isJsonObject(credentials) ? [{ file, credentials }] : [];
  });

  it('covers every fixture that carries credentials', () => {
    expect(withCredentials.map((c) => c.file)).toEqual(
      expect.arrayContaining([
        'pod-identity-assume-role-tags.json',
        'pod-identity-assume-role-no-tags.json',
        'pod-identity-assume-role-placeholder-account.json',
        'irsa-success.json',
        'irsa-global-endpoint-us-east-1.json',
        'irsa-china-partition.json',
        'node-role-sts-assume-role.json',
      ]),
    );
  });

  it.each(withCredentials)('$file: the result contains neither the sessionToken nor the accessKeyId', ({ file, credentials }) => {
    const out = JSON.stringify(normalize(fixture(file)));
    const token = credentials['sessionToken'];
    const keyId = credentials['accessKeyId'];
    expect(typeof token).toBe('string');
    expect(typeof keyId).toBe('string');
    expect(out).not.toContain(String(token));
    expect(out).not.toContain(String(keyId));
  });

  it('does not copy the caller access key (userIdentity.accessKeyId) either', () => {
    for (const file of FIXTURE_FILES) {
      const ui = fixture(file)['userIdentity'];
      const keyId = isJsonObject(ui) ? ui['accessKeyId'] : undefined;
      if (typeof keyId === 'string' && keyId !== '') expect(JSON.stringify(normalize(fixture(file))), file).not.toContain(keyId);
    }
  });
});

describe('outcomeOf', () => {
  it.each<[string | null, Outcome]>([
    [null, 'success'],
    ['', 'success'],
    ['AccessDenied', 'denied'],
    ['AccessDeniedException', 'denied'],
    ['Client.UnauthorizedOperation', 'denied'],
    ['UnauthorizedOperation', 'denied'],
    ['Forbidden', 'denied'],
    ['accessdenied', 'denied'],
    ['InvalidIdentityToken', 'invalid-token'],
    ['InvalidIdentityTokenException', 'invalid-token'],
    ['ExpiredToken', 'invalid-token'],
    ['ExpiredTokenException', 'invalid-token'],
    ['InvalidTokenException', 'invalid-token'],
    ['IDPRejectedClaim', 'invalid-token'],
    ['IDPCommunicationError', 'invalid-token'],
    ['ThrottlingException', 'error'],
    ['InternalServerException', 'error'],
    ['ResourceNotFoundException', 'error'],
    ['ServiceUnavailableException', 'error'],
  ])('%j → %s', (code, outcome) => {
    expect(outcomeOf(code)).toBe(outcome);
  });
});

describe('issuerOf', () => {
  it.each([
    ['ARN form', 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC123', 'oidc.eks.us-west-2.amazonaws.com/id/ABC123'],
    ['China ARN form', 'arn:aws-cn:iam::111122223333:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC123', 'oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC123'],
    ['https form (the token iss claim)', 'https://oidc.eks.us-west-2.amazonaws.com/id/ABC123', 'oidc.eks.us-west-2.amazonaws.com/id/ABC123'],
    ['https form with trailing slash', 'https://oidc.eks.us-west-2.amazonaws.com/id/ABC123/', 'oidc.eks.us-west-2.amazonaws.com/id/ABC123'],
    ['ARN form with trailing slashes', 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC123//', 'oidc.eks.us-west-2.amazonaws.com/id/ABC123'],
    ['bare issuer name (Cognito)', 'cognito-identity.amazonaws.com', 'cognito-identity.amazonaws.com'],
  ])('%s', (_label, provider, issuer) => {
    expect(issuerOf(provider)).toBe(issuer);
  });
});
