import {
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  DescribePodIdentityAssociationCommand,
  EKSClient,
  paginateListAddons,
  paginateListClusters,
  paginateListNodegroups,
  paginateListPodIdentityAssociations,
  type PodIdentityAssociationSummary,
} from '@aws-sdk/client-eks';
import { emptyInventory, mergeInventory, parseInventoryDocument, type Inventory, type InventoryCluster } from '../core/inventory';
import { mapLimit } from './map-limit';
import { SDK_MAX_ATTEMPTS, plain, UnexpectedResponse, type Retry, defaultSleep, isThrottling, backoffMs, withRetry, rethrowFatal, problemReason } from './aws-calls';
import { AGENT_ADDON } from '../core/preflight';

/**
 * The EKS side of the fleet, read from the EKS API: the same `Inventory` that `inventory import`
 * builds from AWS CLI output (each response goes through `parseInventoryDocument`, so the two
 * paths cannot drift apart). Free of CLI concerns: the CLI and the inventory Lambda both call it.
 *
 * Calls per region (EKS API reference): ListClusters; per cluster DescribeCluster (OIDC issuer),
 * ListPodIdentityAssociations + DescribePodIdentityAssociation each (the list's
 * PodIdentityAssociationSummary omits roleArn and createdAt), ListNodegroups + DescribeNodegroup
 * each (node role), ListAddons + DescribeAddon of the eks-pod-identity-agent (the preflight).
 * IAM actions are named after the operations: `eks:DescribeCluster`, …
 */

export interface InventoryProblem {
  region: string;
  /** null when the problem is about the region (ListClusters). */
  cluster: string | null;
  operation: string;
  reason: string;
}

export interface SyncResult {
  inventory: Inventory;
  problems: InventoryProblem[];
  /** Clusters read (described); clusters that became problems are not counted. */
  clusters: number;
}

export interface SyncOptions {
  regions: string[];
  /** Only these cluster names (the CLI's --cluster); all clusters when absent or empty. */
  clusters?: string[];
  clientFor: (region: string) => EKSClient;
  onCluster?(region: string, cluster: string): void;
  /** Waits between our own retries of a throttled call (after the SDK's retries gave up). */
  sleep?: (ms: number) => Promise<void>;
  /** Our own retries of a throttled call. @default 5 */
  throttleRetries?: number;
}

/** An EKS client for the CLI and the Lambda: default credential chain, adaptive retry. */
export function eksClient(region: string): EKSClient {
  return new EKSClient({ region, maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive' });
}

/** Concurrent describe calls per cluster; EKS throttles per account, so keep it small. */
const DESCRIBE_CONCURRENCY = 4;

export async function syncInventory(options: SyncOptions): Promise<SyncResult> {
  const retry: Retry = { sleep: options.sleep ?? defaultSleep, retries: options.throttleRetries ?? 5 };
  const wanted = options.clusters && options.clusters.length > 0 ? new Set(options.clusters) : null;
  const found = new Set<string>();
  const listedRegions: string[] = [];
  const problems: InventoryProblem[] = [];
  let inventory = emptyInventory();
  let clusters = 0;

  for (const region of options.regions) {
    const client = options.clientFor(region);
    const problem = (cluster: string | null, operation: string, error: unknown) => {
      problems.push({ region, cluster, operation, reason: problemReason(error, operation) });
    };
    let names: string[];
    try {
      names = await listAll((startingToken) => paginateListClusters({ client, startingToken, pageSize: 100 }, {}), (p) => p.clusters, retry);
    } catch (e) {
      rethrowFatal(e, 'eks', region);
      problem(null, 'ListClusters', e);
      continue;
    }
    listedRegions.push(region);
    for (const name of names.sort()) {
      if (wanted && !wanted.has(name)) continue;
      found.add(name);
      options.onCluster?.(region, name);
      const read = await syncCluster(client, region, name, retry, problem);
      if (read) {
        clusters += 1;
        inventory = mergeInventory(inventory, read);
      }
    }
  }
  if (wanted) {
    for (const name of [...wanted].filter((n) => !found.has(n)).sort()) {
      if (listedRegions.length === 0) continue;
      problems.push({ region: listedRegions.join(', '), cluster: name, operation: 'ListClusters', reason: `no cluster named ${name} in ${listedRegions.join(', ')}` });
    }
  }
  return { inventory: sorted(inventory), problems, clusters };
}

type Problem = (cluster: string | null, operation: string, error: unknown) => void;

/** One cluster; null when it cannot be described (denied, or deleted while the sync ran). */
async function syncCluster(client: EKSClient, region: string, name: string, retry: Retry, problem: Problem): Promise<Inventory | null> {
  let inventory: Inventory;
  try {
    const out = await withRetry(() => client.send(new DescribeClusterCommand({ name })), retry);
    inventory = parsed({ cluster: plain(out.cluster) });
  } catch (e) {
    rethrowFatal(e, 'eks', region);
    problem(name, 'DescribeCluster', e);
    return null;
  }

  let summaries: PodIdentityAssociationSummary[] = [];
  try {
    summaries = await listAll(
      (startingToken) => paginateListPodIdentityAssociations({ client, startingToken, pageSize: 100 }, { clusterName: name }),
      (p) => p.associations,
      retry,
    );
  } catch (e) {
    rethrowFatal(e, 'eks', region);
    problem(name, 'ListPodIdentityAssociations', e);
  }
  const associations = await mapLimit(summaries, DESCRIBE_CONCURRENCY, async (summary) => {
    const id = summary.associationId;
    if (id) {
      try {
        const out = await withRetry(() => client.send(new DescribePodIdentityAssociationCommand({ clusterName: name, associationId: id })), retry);
        return parsed({ association: plain(out.association) });
      } catch (e) {
        rethrowFatal(e, 'eks', region);
        problem(name, 'DescribePodIdentityAssociation', e);
      }
    }
    // What the list tells (who has an association) is kept; the role stays unknown (null).
    try {
      return parsed({ associations: [plain(summary)] });
    } catch (e) {
      problem(name, 'ListPodIdentityAssociations', e);
      return emptyInventory();
    }
  });

  let nodegroupNames: string[] = [];
  try {
    nodegroupNames = await listAll(
      (startingToken) => paginateListNodegroups({ client, startingToken, pageSize: 100 }, { clusterName: name }),
      (p) => p.nodegroups,
      retry,
    );
  } catch (e) {
    rethrowFatal(e, 'eks', region);
    problem(name, 'ListNodegroups', e);
  }
  const nodegroups = await mapLimit(nodegroupNames, DESCRIBE_CONCURRENCY, async (nodegroupName) => {
    try {
      const out = await withRetry(() => client.send(new DescribeNodegroupCommand({ clusterName: name, nodegroupName })), retry);
      return parsed({ nodegroup: plain(out.nodegroup) });
    } catch (e) {
      rethrowFatal(e, 'eks', region);
      problem(name, 'DescribeNodegroup', e);
      return emptyInventory();
    }
  });

  for (const part of [...associations, ...nodegroups]) inventory = mergeInventory(inventory, part);
  return mergeInventory(inventory, await syncAgentAddon(client, name, retry, problem, inventory.clusters[0]!));
}

/**
 * The add-ons of a cluster, and the Pod Identity Agent's status when it is one of them. The list is
 * kept on the cluster (`addonsListed`), so the preflight can tell a missing agent from an unread list.
 */
async function syncAgentAddon(client: EKSClient, name: string, retry: Retry, problem: Problem, cluster: InventoryCluster): Promise<Inventory> {
  let addons: string[];
  try {
    addons = await listAll((startingToken) => paginateListAddons({ client, startingToken, pageSize: 100 }, { clusterName: name }), (p) => p.addons, retry);
  } catch (e) {
    rethrowFatal(e, 'eks', cluster.region ?? '');
    problem(name, 'ListAddons', e);
    return emptyInventory();
  }
  const listed: Inventory = { ...emptyInventory(), clusters: [{ ...cluster, addonsListed: [...addons].sort() }] };
  if (!addons.includes(AGENT_ADDON)) return listed;
  try {
    const out = await withRetry(() => client.send(new DescribeAddonCommand({ clusterName: name, addonName: AGENT_ADDON })), retry);
    return mergeInventory(listed, parsed({ addon: plain(out.addon) }));
  } catch (e) {
    rethrowFatal(e, 'eks', cluster.region ?? '');
    problem(name, 'DescribeAddon', e);
    return listed;
  }
}

/** An SDK response read as the inventory document it is (the AWS CLI's shape); anything else is an UnexpectedResponse. */
export function parsed(doc: unknown): Inventory {
  const result = parseInventoryDocument(doc);
  if (!result.ok) throw new UnexpectedResponse(result.reason);
  return result.inventory;
}

function sorted(inv: Inventory): Inventory {
  const by = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  return {
    ...inv,
    clusters: [...inv.clusters].sort(by((c) => `${c.region}|${c.name}|${c.arn}`)),
    associations: [...inv.associations].sort(by((a) => `${a.clusterArn ?? a.cluster}|${a.namespace}|${a.serviceAccount}`)),
    nodegroups: [...inv.nodegroups].sort(by((n) => `${n.cluster}|${n.nodegroup}`)),
    ...(inv.addons ? { addons: [...inv.addons].sort(by((a) => `${a.clusterArn ?? a.cluster}|${a.addonName}`)) } : {}),
  };
}

/**
 * Every item of a paginated list (SDK paginator). A throttled page is retried from the token of
 * the page before it, so earlier pages are neither lost nor read twice.
 */
async function listAll<P extends { nextToken?: string | undefined }, T>(
  open: (startingToken: string | undefined) => AsyncIterable<P>,
  pick: (page: P) => T[] | undefined,
  retry: Retry,
): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  for (let attempt = 0; ; ) {
    try {
      for await (const page of open(token)) {
        items.push(...(pick(page) ?? []));
        token = page.nextToken;
        attempt = 0;
      }
      return items;
    } catch (e) {
      if (!isThrottling(e) || attempt >= retry.retries) throw e;
      await retry.sleep(backoffMs(attempt));
      attempt += 1;
    }
  }
}
