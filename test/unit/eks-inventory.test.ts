import {
  AccessDeniedException,
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  DescribePodIdentityAssociationCommand,
  EKSClient,
  ListAddonsCommand,
  ListClustersCommand,
  ListNodegroupsCommand,
  ListPodIdentityAssociationsCommand,
  ResourceNotFoundException,
  ThrottlingException,
} from '@aws-sdk/client-eks';
import { GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand, NoSuchEntityException } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AwsFatalError } from '../../functions/adapters/aws-calls';
import { syncInventory, type SyncOptions } from '../../functions/adapters/eks-inventory';
import { emptyInventory, mergeInventory, parseInventoryDocument, type Inventory } from '../../functions/core/inventory';
import { execute } from '../../functions/local/cli/main';
import { inventorySyncCommand } from '../../functions/local/cli/commands/inventory-sync';
import { withStore } from '../../functions/local/cli/store-options';
import { sampleFleet } from '../support/sample-fleets';
import { recordingIo } from '../support/recording-io';

const eks = mockClient(EKSClient);
// The CLI's sync also reads the associations' roles (the preflight): IAM answers from the fleet's get-role output.
const iam = mockClient(IAMClient);
afterEach(() => {
  eks.reset();
  iam.reset();
});
// Unit files share a worker: put the client's real send back for the files after this one.
afterAll(() => {
  eks.restore();
  iam.restore();
});

// ---------------------------------------------------------------------------------------------
// A fake EKS API over the sample fleet's inventory (what the AWS CLI printed, turned back into SDK
// shapes: timestamps as Dates), with small pages so every list call paginates.

type Doc = Record<string, unknown>;
const fleet = sampleFleet({ seed: 42, end: new Date('2026-11-20T00:00:00Z') });
const docs = fleet.inventory.map((f) => f.content as Doc);

/** AWS CLI JSON → SDK output: `createdAt`/`modifiedAt` strings become Dates. */
function sdkShape<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sdkShape) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, /At$/.test(k) && typeof v === 'string' ? new Date(v) : sdkShape(v)]),
    ) as T;
  }
  return value;
}

interface FakeCluster {
  region: string;
  cluster: Doc;
  associations: Doc[];
  nodegroups: Doc[];
  addons: Doc[];
}

function fakeFleet(): FakeCluster[] {
  const clusters = docs.filter((d) => d['cluster']).map((d) => sdkShape(d['cluster'] as Doc));
  const out = clusters.map((cluster) => ({
    region: String(cluster['arn']).split(':')[3]!,
    cluster,
    associations: docs.filter((d) => (d['association'] as Doc | undefined)?.['clusterName'] === cluster['name']).map((d) => sdkShape(d['association'] as Doc)),
    nodegroups: docs.filter((d) => (d['nodegroup'] as Doc | undefined)?.['clusterName'] === cluster['name']).map((d) => sdkShape(d['nodegroup'] as Doc)),
    addons: docs.filter((d) => (d['addon'] as Doc | undefined)?.['clusterName'] === cluster['name']).map((d) => sdkShape(d['addon'] as Doc)),
  }));
  // A second cluster in us-east-1, without associations or node groups: ListClusters paginates too.
  out.push({
    region: 'us-east-1',
    cluster: {
      name: 'empty-dev',
      arn: 'arn:aws:eks:us-east-1:111122223333:cluster/empty-dev',
      identity: { oidc: { issuer: 'https://oidc.eks.us-east-1.amazonaws.com/id/EMPTYDEV0000000000000000000000AA' } },
      createdAt: new Date('2026-01-01T00:00:00Z'),
    },
    associations: [],
    nodegroups: [],
    addons: [],
  });
  return out;
}

/** What `inventory import` makes of the same AWS CLI output (plus empty-dev). */
function importedInventory(): Inventory {
  let inv = emptyInventory();
  for (const d of docs) {
    const parsed = parseInventoryDocument(d);
    if (!parsed.ok) throw new Error(parsed.reason);
    inv = mergeInventory(inv, parsed.inventory);
  }
  return inv;
}

/** Compared as facts: timestamps by instant (the CLI prints +00:00, the SDK gives Dates), order aside. */
function canonical(inv: Inventory) {
  const time = (t: string | null) => (t === null ? null : new Date(t).toISOString());
  const sortBy = <T>(xs: T[], key: (x: T) => string) => [...xs].sort((a, b) => key(a).localeCompare(key(b)));
  return {
    clusters: sortBy(inv.clusters, (c) => c.arn),
    associations: sortBy(
      inv.associations.map((a) => ({ ...a, createdAt: time(a.createdAt) })),
      (a) => `${a.cluster}|${a.namespace}|${a.serviceAccount}`,
    ),
    nodegroups: sortBy(inv.nodegroups, (n) => `${n.cluster}|${n.nodegroup}`),
  };
}

interface Calls {
  /** `<region> <Operation> <detail>` per request, in order, with the token as sent. */
  log: string[];
}

/** Paginates `items` `size` at a time with tokens `t<offset>`. */
function page<T>(items: T[], token: string | undefined, size: number): { items: T[]; nextToken?: string } {
  const offset = token ? Number(token.slice(1)) : 0;
  const next = offset + size;
  return { items: items.slice(offset, next), ...(next < items.length ? { nextToken: `t${next}` } : {}) };
}

const regionOf = async (getClient: () => unknown) => (getClient() as EKSClient).config.region();

function serve(clusters: FakeCluster[], sizes = { clusters: 1, associations: 5, nodegroups: 1 }): Calls {
  const calls: Calls = { log: [] };
  const find = (region: string, name: string) => clusters.find((c) => c.region === region && c.cluster['name'] === name);
  eks.on(ListClustersCommand).callsFake(async (input: { nextToken?: string }, getClient) => {
    const region = await regionOf(getClient);
    calls.log.push(`${region} ListClusters ${input.nextToken ?? '-'}`);
    const p = page(clusters.filter((c) => c.region === region).map((c) => String(c.cluster['name'])), input.nextToken, sizes.clusters);
    return { clusters: p.items, nextToken: p.nextToken };
  });
  eks.on(DescribeClusterCommand).callsFake(async (input: { name: string }, getClient) => {
    const region = await regionOf(getClient);
    calls.log.push(`${region} DescribeCluster ${input.name}`);
    const c = find(region, input.name);
    if (!c) throw new ResourceNotFoundException({ message: `No cluster found for name: ${input.name}.`, $metadata: {} });
    return { cluster: c.cluster };
  });
  eks.on(ListPodIdentityAssociationsCommand).callsFake(async (input: { clusterName: string; nextToken?: string }, getClient) => {
    const region = await regionOf(getClient);
    calls.log.push(`${region} ListPodIdentityAssociations ${input.clusterName} ${input.nextToken ?? '-'}`);
    const all = find(region, input.clusterName)?.associations ?? [];
    const p = page(all, input.nextToken, sizes.associations);
    // The summary: what the list returns (no roleArn, createdAt, modifiedAt, tags).
    const summaries = p.items.map((a) => ({
      clusterName: a['clusterName'],
      namespace: a['namespace'],
      serviceAccount: a['serviceAccount'],
      associationArn: a['associationArn'],
      associationId: a['associationId'],
    }));
    return { associations: summaries, nextToken: p.nextToken };
  });
  eks.on(DescribePodIdentityAssociationCommand).callsFake(async (input: { clusterName: string; associationId: string }, getClient) => {
    const region = await regionOf(getClient);
    calls.log.push(`${region} DescribePodIdentityAssociation ${input.clusterName} ${input.associationId}`);
    const a = find(region, input.clusterName)?.associations.find((x) => x['associationId'] === input.associationId);
    if (!a) throw new ResourceNotFoundException({ message: 'association not found', $metadata: {} });
    return { association: a };
  });
  eks.on(ListNodegroupsCommand).callsFake(async (input: { clusterName: string; nextToken?: string }, getClient) => {
    const region = await regionOf(getClient);
    calls.log.push(`${region} ListNodegroups ${input.clusterName} ${input.nextToken ?? '-'}`);
    const p = page((find(region, input.clusterName)?.nodegroups ?? []).map((n) => String(n['nodegroupName'])), input.nextToken, sizes.nodegroups);
    return { nodegroups: p.items, nextToken: p.nextToken };
  });
  // The add-ons (the preflight's eks-pod-identity-agent): not logged, the tests above count the inventory's own calls.
  eks.on(ListAddonsCommand).callsFake(async (input: { clusterName: string }, getClient) => {
    const region = await regionOf(getClient);
    return { addons: (find(region, input.clusterName)?.addons ?? []).map((a) => String(a['addonName'])) };
  });
  eks.on(DescribeAddonCommand).callsFake(async (input: { clusterName: string; addonName: string }, getClient) => {
    const region = await regionOf(getClient);
    const a = find(region, input.clusterName)?.addons.find((x) => x['addonName'] === input.addonName);
    if (!a) throw new ResourceNotFoundException({ message: 'No addon', $metadata: {} });
    return { addon: a };
  });
  eks.on(DescribeNodegroupCommand).callsFake(async (input: { clusterName: string; nodegroupName: string }, getClient) => {
    const region = await regionOf(getClient);
    calls.log.push(`${region} DescribeNodegroup ${input.clusterName} ${input.nodegroupName}`);
    return { nodegroup: find(region, input.clusterName)?.nodegroups.find((n) => n['nodegroupName'] === input.nodegroupName) };
  });
  return calls;
}

/** IAM over the fleet's `aws iam get-role` output; no inline or attached policies. */
function serveIam(): void {
  const roles = docs.filter((d) => d['Role']).map((d) => d['Role'] as Doc);
  iam.on(GetRoleCommand).callsFake(async ({ RoleName }: { RoleName: string }) => {
    const role = roles.find((r) => r['RoleName'] === RoleName);
    if (!role) throw new NoSuchEntityException({ message: `The role with name ${RoleName} cannot be found.`, $metadata: {} });
    return { Role: { ...role, CreateDate: new Date(String(role['CreateDate'])), AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(role['AssumeRolePolicyDocument'])) } };
  });
  iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
  iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
}

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'];
const noSleep = async () => undefined;
const sync = (over: Partial<SyncOptions> = {}) =>
  syncInventory({ regions: REGIONS, clientFor: (region) => new EKSClient({ region }), sleep: noSleep, ...over });

const throttled = () => new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } });

describe('syncInventory', () => {
  it('reads every cluster, association and node group across regions, paginating every list, into what inventory import builds', async () => {
    const calls = serve(fakeFleet());
    const seen: string[] = [];

    const result = await sync({ onCluster: (region, cluster) => seen.push(`${region}/${cluster}`) });

    expect(result.problems).toEqual([]);
    expect(result.clusters).toBe(4);
    expect(seen).toEqual(['us-east-1/empty-dev', 'us-east-1/payments-prod', 'us-west-2/search-prod', 'eu-west-1/legacy-batch']);
    const expected = importedInventory();
    expected.clusters.push({
      name: 'empty-dev',
      arn: 'arn:aws:eks:us-east-1:111122223333:cluster/empty-dev',
      region: 'us-east-1',
      account: '111122223333',
      oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/EMPTYDEV0000000000000000000000AA',
    });
    // A sync also lists each cluster's add-ons (import has no such file): the list is kept on the cluster.
    const fake = fakeFleet();
    expected.clusters = expected.clusters.map((c) => ({ ...c, addonsListed: fake.find((f) => f.cluster['arn'] === c.arn)!.addons.map((a) => String(a['addonName'])).sort() }));
    expect(canonical(result.inventory)).toEqual(canonical(expected));
    expect(result.inventory.addons ?? []).toEqual(expected.addons ?? []);
    expect(result.inventory.associations).toHaveLength(21);
    expect(result.inventory.associations.every((a) => a.roleArn !== null && a.createdAt !== null)).toBe(true);
    expect(result.inventory.nodegroups.map((n) => `${n.cluster}/${n.nodegroup}`).sort()).toEqual(['legacy-batch/ng-1', 'payments-prod/ng-1', 'payments-prod/ng-2']);

    // Every list call followed its tokens: clusters one a page, associations five, node groups one.
    expect(calls.log.filter((l) => l.startsWith('us-east-1 ListClusters'))).toEqual(['us-east-1 ListClusters -', 'us-east-1 ListClusters t1']);
    expect(calls.log.filter((l) => l.startsWith('us-east-1 ListPodIdentityAssociations payments-prod'))).toEqual([
      'us-east-1 ListPodIdentityAssociations payments-prod -',
      'us-east-1 ListPodIdentityAssociations payments-prod t5',
      'us-east-1 ListPodIdentityAssociations payments-prod t10',
    ]);
    expect(calls.log.filter((l) => l.startsWith('us-east-1 ListNodegroups payments-prod'))).toEqual([
      'us-east-1 ListNodegroups payments-prod -',
      'us-east-1 ListNodegroups payments-prod t1',
    ]);
    expect(calls.log.filter((l) => l.includes('DescribePodIdentityAssociation'))).toHaveLength(21);
  });

  it('retries throttled calls with its own backoff, resuming a list at the page that was throttled', async () => {
    const calls = serve(fakeFleet());
    // DescribeCluster of search-prod: throttled twice, then answered.
    let describeThrottles = 2;
    const describe = eks.on(DescribeClusterCommand);
    const real = fakeFleet();
    describe.callsFake(async (input: { name: string }, getClient) => {
      const region = await regionOf(getClient);
      calls.log.push(`${region} DescribeCluster ${input.name}`);
      if (input.name === 'search-prod' && describeThrottles-- > 0) throw throttled();
      return { cluster: real.find((c) => c.cluster['name'] === input.name)!.cluster };
    });
    // The second page of payments-prod's associations: TooManyRequestsException once.
    let listThrottled = false;
    const listed = fakeFleet().find((c) => c.cluster['name'] === 'payments-prod')!.associations;
    eks.on(ListPodIdentityAssociationsCommand).callsFake(async (input: { clusterName: string; nextToken?: string }) => {
      calls.log.push(`ListPodIdentityAssociations ${input.clusterName} ${input.nextToken ?? '-'}`);
      if (input.clusterName !== 'payments-prod') return { associations: [] };
      if (input.nextToken === 't5' && !listThrottled) {
        listThrottled = true;
        throw Object.assign(new Error('Too many requests'), { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
      }
      const p = page(listed, input.nextToken, 5);
      const summaries = p.items.map((a) => ({ clusterName: a['clusterName'], namespace: a['namespace'], serviceAccount: a['serviceAccount'], associationArn: a['associationArn'], associationId: a['associationId'] }));
      return { associations: summaries, nextToken: p.nextToken };
    });
    const sleeps: number[] = [];

    const result = await sync({ sleep: async (ms) => void sleeps.push(ms) });

    expect(result.problems).toEqual([]);
    expect(result.clusters).toBe(4);
    expect(sleeps).toHaveLength(3);
    for (const ms of sleeps) expect(ms).toBeGreaterThanOrEqual(250);
    expect(calls.log.filter((l) => l === 'us-west-2 DescribeCluster search-prod')).toHaveLength(3);
    expect(calls.log.filter((l) => l.startsWith('ListPodIdentityAssociations payments-prod'))).toEqual([
      'ListPodIdentityAssociations payments-prod -',
      'ListPodIdentityAssociations payments-prod t5',
      'ListPodIdentityAssociations payments-prod t5',
      'ListPodIdentityAssociations payments-prod t10',
    ]);
    // Nothing read twice: twelve associations, each once.
    const payments = result.inventory.associations.filter((a) => a.cluster === 'payments-prod');
    expect(payments).toHaveLength(12);
    expect(new Set(payments.map((a) => `${a.namespace}/${a.serviceAccount}`)).size).toBe(12);
  });

  it('gives up on a call that stays throttled after its retries, as a problem', async () => {
    serve(fakeFleet());
    eks.on(DescribeNodegroupCommand).rejects(throttled());
    const sleeps: number[] = [];

    const result = await sync({ regions: ['eu-west-1'], throttleRetries: 3, sleep: async (ms) => void sleeps.push(ms) });

    expect(sleeps).toHaveLength(3);
    expect(eks.commandCalls(DescribeNodegroupCommand)).toHaveLength(4);
    expect(result.clusters).toBe(1);
    expect(result.problems).toEqual([
      { region: 'eu-west-1', cluster: 'legacy-batch', operation: 'DescribeNodegroup', reason: 'still throttled after retries (ThrottlingException); run the sync again later' },
    ]);
    expect(result.inventory.nodegroups).toEqual([]);
  });

  it('reports a cluster it may not describe, naming eks:DescribeCluster, and a cluster deleted mid-sync, and syncs the rest', async () => {
    const clusters = fakeFleet();
    serve(clusters);
    eks.on(DescribeClusterCommand).callsFake(async (input: { name: string }, getClient) => {
      const region = await regionOf(getClient);
      if (input.name === 'payments-prod') {
        throw new AccessDeniedException({
          message: 'User: arn:aws:sts::111122223333:assumed-role/auditor/s is not authorized to perform: eks:DescribeCluster on resource: arn:aws:eks:us-east-1:111122223333:cluster/payments-prod',
          $metadata: { httpStatusCode: 403 },
        });
      }
      if (input.name === 'empty-dev') throw new ResourceNotFoundException({ message: 'No cluster found for name: empty-dev.', $metadata: { httpStatusCode: 404 } });
      return { cluster: clusters.find((c) => c.region === region && c.cluster['name'] === input.name)!.cluster };
    });

    const result = await sync();

    expect(result.clusters).toBe(2);
    expect(result.inventory.clusters.map((c) => c.name)).toEqual(['legacy-batch', 'search-prod']);
    expect(result.inventory.associations.map((a) => a.cluster).every((c) => c === 'search-prod')).toBe(true);
    expect(result.inventory.associations).toHaveLength(9);
    expect(result.problems).toEqual([
      { region: 'us-east-1', cluster: 'empty-dev', operation: 'DescribeCluster', reason: 'not found: deleted while the sync ran (ResourceNotFoundException: No cluster found for name: empty-dev.)' },
      {
        region: 'us-east-1',
        cluster: 'payments-prod',
        operation: 'DescribeCluster',
        reason:
          'missing permission eks:DescribeCluster (AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/auditor/s is not authorized to perform: eks:DescribeCluster on resource: arn:aws:eks:us-east-1:111122223333:cluster/payments-prod)',
      },
    ]);
    // Nothing else was asked about the clusters that could not be described.
    expect([...new Set(eks.commandCalls(ListPodIdentityAssociationsCommand).map((c) => c.args[0].input.clusterName))].sort()).toEqual(['legacy-batch', 'search-prod']);
  });

  it('keeps an association it may not describe as the list tells it, role unknown, with a problem', async () => {
    serve(fakeFleet());
    eks.on(DescribePodIdentityAssociationCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform: eks:DescribePodIdentityAssociation', $metadata: { httpStatusCode: 403 } }));

    const result = await sync({ regions: ['us-west-2'] });

    expect(result.clusters).toBe(1);
    expect(result.inventory.associations).toHaveLength(9);
    const indexer = result.inventory.associations.find((a) => a.serviceAccount === 'indexer')!;
    expect(indexer).toMatchObject({
      cluster: 'search-prod',
      clusterArn: result.inventory.clusters[0]!.arn,
      namespace: 'indexer',
      roleArn: null,
      createdAt: null,
      disableSessionTags: null,
    });
    expect(indexer.associationId).toMatch(/^a-/);
    expect(result.problems).toHaveLength(9);
    expect(result.problems[0]).toEqual({
      region: 'us-west-2',
      cluster: 'search-prod',
      operation: 'DescribePodIdentityAssociation',
      reason: 'missing permission eks:DescribePodIdentityAssociation (AccessDeniedException: not authorized to perform: eks:DescribePodIdentityAssociation)',
    });
  });

  it('reads only the --cluster clusters, and says which named clusters do not exist', async () => {
    const calls = serve(fakeFleet());

    const result = await sync({ clusters: ['search-prod', 'nope'] });

    expect(result.clusters).toBe(1);
    expect(result.inventory.clusters.map((c) => c.name)).toEqual(['search-prod']);
    expect(result.inventory.associations).toHaveLength(9);
    expect(result.inventory.nodegroups).toEqual([]);
    expect(calls.log.filter((l) => l.includes('DescribeCluster'))).toEqual(['us-west-2 DescribeCluster search-prod']);
    expect(result.problems).toEqual([
      { region: 'us-east-1, us-west-2, eu-west-1', cluster: 'nope', operation: 'ListClusters', reason: 'no cluster named nope in us-east-1, us-west-2, eu-west-1' },
    ]);
  });

  it.each([
    [Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }), /^the AWS credentials have expired \(ExpiredTokenException\): refresh them/],
    [Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), /^no AWS credentials found \(Could not load credentials from any providers\): set AWS_PROFILE/],
    [Object.assign(new Error('getaddrinfo ENOTFOUND eks.xx-fake-1.amazonaws.com'), { code: 'ENOTFOUND', hostname: 'eks.xx-fake-1.amazonaws.com' }), /^cannot reach eks\.xx-fake-1\.amazonaws\.com for region us-east-1: check the region name/],
  ])('stops at once on %s', async (error, message) => {
    serve(fakeFleet());
    eks.on(ListClustersCommand).rejects(error);

    const run = sync();

    await expect(run).rejects.toBeInstanceOf(AwsFatalError);
    await expect(run).rejects.toThrow(message);
    expect(eks.commandCalls(DescribeClusterCommand)).toHaveLength(0);
  });

  it('stops on credentials that expire in the middle of a region', async () => {
    serve(fakeFleet());
    eks.on(DescribeNodegroupCommand).rejects(Object.assign(new Error('expired'), { name: 'ExpiredTokenException' }));

    await expect(sync()).rejects.toThrow(/^the AWS credentials have expired/);
  });
});

// ---------------------------------------------------------------------------------------------
// The command, in process, the way main.ts runs it.

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-sync-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function cli(argv: string[], env: NodeJS.ProcessEnv = { AWS_REGION: 'us-west-2' }) {
  const { io, out, err } = recordingIo(work, () => new Date('2026-11-20T00:00:00Z'));
  let code = 0;
  const program = new Command('cutover-watch');
  const inventory = program.command('inventory');
  inventorySyncCommand(inventory, io, (c) => (code = Math.max(code, c)), { clientFor: (region) => new EKSClient({ region }), env });
  code = await execute(program, argv, io, () => code);
  return { code, out: out.join('\n'), err: err.join('\n'), io };
}

describe('cutover-watch inventory sync', () => {
  it('stores what it read, prints a table and every problem, and exits 1 when a cluster could not be read', async () => {
    const clusters = fakeFleet();
    serve(clusters);
    eks.on(DescribeClusterCommand).callsFake(async (input: { name: string }) => {
      if (input.name === 'empty-dev') throw new AccessDeniedException({ message: 'denied', $metadata: { httpStatusCode: 403 } });
      return { cluster: clusters.find((c) => c.cluster['name'] === input.name)!.cluster };
    });

    serveIam();

    const run = await cli(['inventory', 'sync', '--region', 'us-east-1', '--region', 'us-west-2', '--store', 'sync-store']);

    expect(run.code).toBe(1);
    // Each associated role once (orders-sandbox's association reuses orders-api's role).
    const roles = new Set(clusters.flatMap((c) => c.associations.map((a) => String(a['roleArn']))));
    expect(run.out).toMatch(new RegExp(`^synced 2 clusters, 21 associations, 2 node groups, ${roles.size} IAM roles from us-east-1, us-west-2 into sync-store`));
    expect(run.out).toMatch(/\npayments-prod\s+us-east-1\s+oidc\.eks\.us-east-1\.amazonaws\.com\/id\/\w+\s+12\s+12\s+2\n/);
    expect(run.out).toMatch(/\nsearch-prod\s+us-west-2\s+oidc\.eks\.us-west-2\.amazonaws\.com\/id\/\w+\s+9\s+9\s+0/);
    expect(run.err).toBe('1 problem:\n  us-east-1 empty-dev: DescribeCluster: missing permission eks:DescribeCluster (AccessDeniedException: denied)');
    const stored = await withStore({ store: 'sync-store' }, run.io, ({ store }) => store.loadInventory());
    expect(stored.clusters.map((c) => c.name).sort()).toEqual(['payments-prod', 'search-prod']);
    expect(stored.associations.filter((a) => a.roleArn !== null)).toHaveLength(21);
    expect(stored.roles!.map((r) => r.arn).sort()).toEqual([...roles].sort());
    expect(stored.roles!.every((r) => r.trustPolicy !== null && r.inlinePolicies !== null)).toBe(true);
  });

  it('exits 2 and stores nothing when no cluster could be read', async () => {
    serve(fakeFleet());
    eks.on(DescribeClusterCommand).rejects(new AccessDeniedException({ message: 'denied', $metadata: { httpStatusCode: 403 } }));

    const run = await cli(['inventory', 'sync', '--store', 'none-store', '--json']);

    expect(run.code).toBe(2);
    expect(JSON.parse(run.out)).toMatchObject({ stored: false, clusters: 0, problems: [{ region: 'us-west-2', cluster: 'search-prod', operation: 'DescribeCluster' }] });
    expect(run.err).toMatch(/no cluster could be read in us-west-2: nothing stored$/);
    await expect(access(path.join(work, 'none-store'))).rejects.toThrow(/ENOENT/);
  });

  it('exits 2 with one line for expired credentials, writing nothing', async () => {
    serve(fakeFleet());
    eks.on(ListClustersCommand).rejects(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }));

    const run = await cli(['inventory', 'sync', '--store', 'expired-store']);

    expect(run.code).toBe(2);
    expect(run.err).toBe(
      'cutover-watch: the AWS credentials have expired (ExpiredTokenException): refresh them (aws sso login, or new session credentials) and run again',
    );
    await expect(access(path.join(work, 'expired-store'))).rejects.toThrow(/ENOENT/);
  });

  it.each([
    [['--region', 'us-east'], '"us-east" is not an AWS region name such as us-east-1, eu-west-2 or us-gov-west-1'],
    [['--region', 'US-EAST-1'], '"US-EAST-1" is not an AWS region name such as us-east-1, eu-west-2 or us-gov-west-1'],
  ])('rejects %j with exit 2', async (args, message) => {
    const run = await cli(['inventory', 'sync', ...args]);
    expect(run.code).toBe(2);
    expect(run.err).toBe(`cutover-watch: ${message}`);
    expect(eks.calls()).toHaveLength(0);
  });

  it('needs a region from --region or AWS_REGION', async () => {
    const run = await cli(['inventory', 'sync'], {});
    expect(run.code).toBe(2);
    expect(run.err).toBe('cutover-watch: no region: pass --region (e.g. --region us-east-1) or set AWS_REGION');
  });

  it('accepts GovCloud and China region names', async () => {
    serve([]);
    const run = await cli(['inventory', 'sync', '--region', 'us-gov-west-1', '--region', 'cn-north-1', '--store', 'gov-store']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/no EKS clusters in us-gov-west-1, cn-north-1/);
    expect(eks.commandCalls(ListClustersCommand)).toHaveLength(2);
  });
});
