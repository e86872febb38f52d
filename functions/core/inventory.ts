import { issuerOf } from './normalize';

/**
 * What EKS says about the fleet: which OIDC issuer belongs to which cluster (IRSA records name
 * only the issuer), which service accounts have a Pod Identity association, and which roles
 * nodes run with. Imported from AWS CLI output or synced from the EKS API.
 */
export interface InventoryCluster {
  name: string;
  arn: string;
  region: string | null;
  account: string | null;
  /** Issuer without `https://`, as IRSA records name it: `oidc.eks.<region>.amazonaws.com/id/<ID>`. */
  oidcIssuer: string | null;
}

export interface InventoryAssociation {
  cluster: string;
  /** Known when the source names it (describe-cluster, describe-pod-identity-association); else null. */
  clusterArn: string | null;
  namespace: string;
  serviceAccount: string;
  associationId: string | null;
  roleArn: string | null;
  targetRoleArn: string | null;
  disableSessionTags: boolean | null;
  createdAt: string | null;
}

export interface InventoryNodegroup {
  cluster: string;
  nodegroup: string;
  nodeRoleArn: string;
}

export interface Inventory {
  clusters: InventoryCluster[];
  associations: InventoryAssociation[];
  nodegroups: InventoryNodegroup[];
}

export const emptyInventory = (): Inventory => ({ clusters: [], associations: [], nodegroups: [] });

export type InventoryParse = { ok: true; inventory: Inventory; what: string } | { ok: false; reason: string };

/**
 * Recognizes the JSON printed by `aws eks describe-cluster`, `list-pod-identity-associations`,
 * `describe-pod-identity-association` and `describe-nodegroup` (or an array of them).
 * Field names: EKS API reference, Cluster / PodIdentityAssociation(Summary) / Nodegroup.
 */
export function parseInventoryDocument(doc: unknown): InventoryParse {
  const inventory = emptyInventory();
  const seen: string[] = [];
  const visit = (value: unknown): string | null => {
    if (Array.isArray(value)) {
      for (const v of value) {
        const problem = visit(v);
        if (problem) return problem;
      }
      return null;
    }
    if (!isObject(value)) return `expected the JSON of an aws eks command, got ${value === null ? 'null' : typeof value}`;
    if (isObject(value['cluster'])) {
      const c = value['cluster'];
      const name = str(c['name']);
      const arn = str(c['arn']);
      if (!name || !arn) return 'cluster.name and cluster.arn are required in describe-cluster output';
      const issuer = str(isObject(c['identity']) && isObject(c['identity']['oidc']) ? c['identity']['oidc']['issuer'] : null);
      const arnParts = arn.split(':');
      inventory.clusters.push({
        name,
        arn,
        region: arnParts[3] || null,
        account: arnParts[4] || null,
        oidcIssuer: issuer ? issuerOf(issuer) : null,
      });
      seen.push('cluster');
      return null;
    }
    if (Array.isArray(value['associations'])) {
      for (const a of value['associations']) {
        const parsed = association(a);
        if (typeof parsed === 'string') return parsed;
        inventory.associations.push(parsed);
      }
      seen.push('associations');
      return null;
    }
    if (isObject(value['association'])) {
      const parsed = association(value['association']);
      if (typeof parsed === 'string') return parsed;
      inventory.associations.push(parsed);
      seen.push('association');
      return null;
    }
    if (isObject(value['nodegroup'])) {
      const n = value['nodegroup'];
      const cluster = str(n['clusterName']);
      const nodegroup = str(n['nodegroupName']);
      const nodeRoleArn = str(n['nodeRole']);
      if (!cluster || !nodegroup || !nodeRoleArn) return 'nodegroup.clusterName, nodegroupName and nodeRole are required in describe-nodegroup output';
      inventory.nodegroups.push({ cluster, nodegroup, nodeRoleArn });
      seen.push('nodegroup');
      return null;
    }
    return `not the output of aws eks describe-cluster, list-pod-identity-associations, describe-pod-identity-association or describe-nodegroup (keys: ${Object.keys(value).slice(0, 5).join(', ') || 'none'})`;
  };
  const problem = visit(doc);
  if (problem) return { ok: false, reason: problem };
  if (seen.length === 0) return { ok: false, reason: 'no cluster, association or node group in it' };
  return { ok: true, inventory, what: [...new Set(seen)].join(', ') };
}

function association(a: unknown): InventoryAssociation | string {
  if (!isObject(a)) return 'each association must be an object';
  const cluster = str(a['clusterName']);
  const namespace = str(a['namespace']);
  const serviceAccount = str(a['serviceAccount']);
  if (!cluster || !namespace || !serviceAccount) return 'association needs clusterName, namespace and serviceAccount';
  const associationArn = str(a['associationArn']);
  return {
    cluster,
    // arn:aws:eks:REGION:ACCOUNT:podidentityassociation/CLUSTER/ID → the cluster's ARN.
    clusterArn: associationArn ? associationArn.replace(/:podidentityassociation\/([^/]+)\/.*$/, ':cluster/$1') : null,
    namespace,
    serviceAccount,
    associationId: str(a['associationId']),
    roleArn: str(a['roleArn']),
    targetRoleArn: str(a['targetRoleArn']),
    disableSessionTags: typeof a['disableSessionTags'] === 'boolean' ? a['disableSessionTags'] : null,
    createdAt: str(a['createdAt']),
  };
}

/** Later facts win per identity; a summary never erases the role a describe call told. */
export function mergeInventory(base: Inventory, next: Inventory): Inventory {
  const clusters = new Map(base.clusters.map((c) => [c.arn, c]));
  for (const c of next.clusters) clusters.set(c.arn, { ...clusters.get(c.arn), ...c, oidcIssuer: c.oidcIssuer ?? clusters.get(c.arn)?.oidcIssuer ?? null });
  const assocKey = (a: InventoryAssociation) => `${a.clusterArn ?? a.cluster}|${a.namespace}|${a.serviceAccount}`;
  const associations = new Map(base.associations.map((a) => [assocKey(a), a]));
  for (const a of next.associations) {
    const prior = associations.get(assocKey(a));
    associations.set(
      assocKey(a),
      prior === undefined
        ? a
        : (Object.fromEntries(
            Object.entries({ ...prior, ...a }).map(([k, v]) => [k, v ?? prior[k as keyof InventoryAssociation]]),
          ) as unknown as InventoryAssociation),
    );
  }
  const nodegroups = new Map(base.nodegroups.map((n) => [`${n.cluster}|${n.nodegroup}`, n]));
  for (const n of next.nodegroups) nodegroups.set(`${n.cluster}|${n.nodegroup}`, n);
  return { clusters: [...clusters.values()], associations: [...associations.values()], nodegroups: [...nodegroups.values()] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
