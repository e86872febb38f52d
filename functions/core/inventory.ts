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
  /**
   * The add-ons EKS ListAddons named for the cluster (`inventory sync`); absent when never listed,
   * so a missing eks-pod-identity-agent is told from one nobody looked for.
   */
  addonsListed?: string[];
}

/** An EKS add-on as `aws eks describe-addon` prints it (only the fields the preflight reads). */
export interface InventoryAddon {
  cluster: string;
  clusterArn: string | null;
  addonName: string;
  /** CREATING, ACTIVE, CREATE_FAILED, UPDATING, DELETING, DELETE_FAILED, DEGRADED, UPDATE_FAILED (EKS API Addon.status). */
  status: string | null;
  addonVersion: string | null;
  /** `health.issues[].code`/`message`, one line each. */
  issues: string[];
}

/** An IAM policy document as IAM holds it (decoded JSON); kept as read, checked by core/trust-lint.ts. */
export type PolicyDocument = Record<string, unknown>;

/** An IAM role with its trust policy and the permission policies the preflight lints. */
export interface InventoryRole {
  arn: string;
  name: string;
  /** The trust policy (`AssumeRolePolicyDocument`), decoded: the API returns it URL-encoded, the CLI prints JSON. */
  trustPolicy: PolicyDocument | null;
  /** Inline policies by name; null when never read (only the trust policy was imported). */
  inlinePolicies: { name: string; document: PolicyDocument }[] | null;
  /** Attached managed policies; their documents are in `Inventory.policies`. null when never listed. */
  attachedPolicies: { name: string; arn: string }[] | null;
}

/** A managed policy's default version. `arn` is null when only its name is known (an imported get-policy-version). */
export interface InventoryPolicy {
  arn: string | null;
  name: string;
  document: PolicyDocument;
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
  /**
   * Optional so inventories stored before the preflight (and literals elsewhere) stay valid: absent
   * is empty. A role named only by a file (get-role-policy, list-attached-role-policies) before its
   * get-role is read has `arn` `name:<RoleName>` until then.
   */
  addons?: InventoryAddon[];
  roles?: InventoryRole[];
  policies?: InventoryPolicy[];
}

export const emptyInventory = (): Inventory => ({ clusters: [], associations: [], nodegroups: [] });

/** The inventory with the optional lists present only when they hold something (so older shapes compare equal). */
function compact(inv: Required<Inventory>): Inventory {
  const { addons, roles, policies, ...base } = inv;
  return { ...base, ...(addons.length > 0 ? { addons } : {}), ...(roles.length > 0 ? { roles } : {}), ...(policies.length > 0 ? { policies } : {}) };
}

export type InventoryParse = { ok: true; inventory: Inventory; what: string } | { ok: false; reason: string };

export interface ParseOptions {
  /**
   * The file's name. `aws iam list-attached-role-policies` and `aws iam get-policy-version` print
   * JSON that does not name its role or policy: the file name tells it after a `--`
   * (`list-attached-role-policies--checkout-api.json`, `get-policy-version--checkout-s3.json`).
   */
  fileName?: string;
}

/** The name after the last `--` of a file's base name: `iam/attached--checkout-api.json` → `checkout-api`. */
export function subjectOfFileName(fileName: string | undefined): string | null {
  if (!fileName) return null;
  const base = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1).replace(/\.json$/i, '');
  const at = base.lastIndexOf('--');
  return at < 0 || at + 2 >= base.length ? null : base.slice(at + 2);
}

/**
 * Recognizes the JSON printed by `aws eks describe-cluster`, `list-pod-identity-associations`,
 * `describe-pod-identity-association`, `describe-nodegroup`, `describe-addon`, and
 * `aws iam get-role`, `get-role-policy`, `list-attached-role-policies`, `get-policy-version`,
 * `get-account-authorization-details` (or an array of them).
 * Field names: EKS API reference (Cluster, PodIdentityAssociation(Summary), Nodegroup, Addon) and
 * IAM API reference (Role, GetRolePolicy, AttachedPolicy, PolicyVersion, RoleDetail, ManagedPolicyDetail).
 */
export function parseInventoryDocument(doc: unknown, options: ParseOptions = {}): InventoryParse {
  const inventory: Required<Inventory> = { ...emptyInventory(), addons: [], roles: [], policies: [] };
  const { addons, roles, policies } = inventory;
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
    if (isObject(value['addon'])) {
      const a = value['addon'];
      const cluster = str(a['clusterName']);
      const addonName = str(a['addonName']);
      if (!cluster || !addonName) return 'addon.clusterName and addon.addonName are required in describe-addon output';
      const addonArn = str(a['addonArn']);
      const health = isObject(a['health']) && Array.isArray(a['health']['issues']) ? a['health']['issues'] : [];
      addons.push({
        cluster,
        // arn:aws:eks:REGION:ACCOUNT:addon/CLUSTER/NAME/ID → the cluster's ARN.
        clusterArn: addonArn ? addonArn.replace(/:addon\/([^/]+)\/.*$/, ':cluster/$1') : null,
        addonName,
        status: str(a['status']),
        addonVersion: str(a['addonVersion']),
        issues: health.filter(isObject).map((i) => [str(i['code']), str(i['message'])].filter(Boolean).join(': ')),
      });
      seen.push('addon');
      return null;
    }
    if (isObject(value['Role'])) {
      const parsed = role(value['Role'], 'get-role');
      if (typeof parsed === 'string') return parsed;
      roles.push(parsed);
      seen.push('role');
      return null;
    }
    if (typeof value['RoleName'] === 'string' && typeof value['PolicyName'] === 'string' && 'PolicyDocument' in value) {
      const document = policyDocument(value['PolicyDocument']);
      if (typeof document === 'string') return `get-role-policy ${value['PolicyName']}: ${document}`;
      inlineOnly.push({ roleName: value['RoleName'], name: value['PolicyName'], document });
      seen.push('role-policy');
      return null;
    }
    if (Array.isArray(value['AttachedPolicies'])) {
      const roleName = subjectOfFileName(options.fileName);
      if (!roleName) return 'aws iam list-attached-role-policies output does not name its role: name the file after it, e.g. list-attached-role-policies--ROLE.json';
      const attached = attachedList(value['AttachedPolicies']);
      if (typeof attached === 'string') return attached;
      attachedOnly.push({ roleName, attached });
      seen.push('attached-role-policies');
      return null;
    }
    if (isObject(value['PolicyVersion'])) {
      const name = subjectOfFileName(options.fileName);
      if (!name) return 'aws iam get-policy-version output does not name its policy: name the file after it, e.g. get-policy-version--POLICY-NAME.json';
      const document = policyDocument(value['PolicyVersion']['Document']);
      if (typeof document === 'string') return `get-policy-version ${name}: ${document}`;
      policies.push({ arn: null, name, document });
      seen.push('policy-version');
      return null;
    }
    if (Array.isArray(value['RoleDetailList'])) {
      for (const detail of value['RoleDetailList']) {
        const parsed = role(detail, 'get-account-authorization-details');
        if (typeof parsed === 'string') return parsed;
        roles.push(parsed);
      }
      for (const p of Array.isArray(value['Policies']) ? value['Policies'] : []) {
        if (!isObject(p)) continue;
        const arn = str(p['Arn']);
        const name = str(p['PolicyName']);
        const versions = Array.isArray(p['PolicyVersionList']) ? p['PolicyVersionList'].filter(isObject) : [];
        const current = versions.find((v) => v['IsDefaultVersion'] === true) ?? versions.find((v) => v['VersionId'] === p['DefaultVersionId']);
        if (!arn || !name || !current) continue;
        const document = policyDocument(current['Document']);
        if (typeof document === 'string') return `get-account-authorization-details policy ${name}: ${document}`;
        policies.push({ arn, name, document });
      }
      seen.push('account-authorization-details');
      return null;
    }
    return `not the output of an aws eks or aws iam command this accepts (describe-cluster, list-pod-identity-associations, describe-pod-identity-association, describe-nodegroup, describe-addon, get-role, get-role-policy, list-attached-role-policies, get-policy-version, get-account-authorization-details; keys: ${Object.keys(value).slice(0, 5).join(', ') || 'none'})`;
  };
  const inlineOnly: { roleName: string; name: string; document: PolicyDocument }[] = [];
  const attachedOnly: { roleName: string; attached: { name: string; arn: string }[] }[] = [];
  const problem = visit(doc);
  if (problem) return { ok: false, reason: problem };
  if (seen.length === 0) return { ok: false, reason: 'no cluster, association, node group, add-on or role in it' };
  // Files that name a role or cluster only by name: kept as partial facts, joined by name when merged.
  for (const p of inlineOnly) roles.push({ arn: `name:${p.roleName}`, name: p.roleName, trustPolicy: null, inlinePolicies: [{ name: p.name, document: p.document }], attachedPolicies: null });
  for (const a of attachedOnly) roles.push({ arn: `name:${a.roleName}`, name: a.roleName, trustPolicy: null, inlinePolicies: null, attachedPolicies: a.attached });
  return { ok: true, inventory: compact(inventory), what: [...new Set(seen)].join(', ') };
}

function role(r: unknown, command: string): InventoryRole | string {
  if (!isObject(r)) return `${command}: each role must be an object`;
  const arn = str(r['Arn']);
  const name = str(r['RoleName']);
  if (!arn || !name) return `${command}: Role.Arn and Role.RoleName are required`;
  const trust = r['AssumeRolePolicyDocument'] === undefined ? null : policyDocument(r['AssumeRolePolicyDocument']);
  if (typeof trust === 'string') return `${command} ${name}: AssumeRolePolicyDocument: ${trust}`;
  let inlinePolicies: InventoryRole['inlinePolicies'] = null;
  if (Array.isArray(r['RolePolicyList'])) {
    inlinePolicies = [];
    for (const p of r['RolePolicyList']) {
      if (!isObject(p) || !str(p['PolicyName'])) return `${command} ${name}: RolePolicyList entries need PolicyName`;
      const document = policyDocument(p['PolicyDocument']);
      if (typeof document === 'string') return `${command} ${name}: inline policy ${p['PolicyName']}: ${document}`;
      inlinePolicies.push({ name: p['PolicyName'] as string, document });
    }
  }
  let attachedPolicies: InventoryRole['attachedPolicies'] = null;
  if (Array.isArray(r['AttachedManagedPolicies'])) {
    const attached = attachedList(r['AttachedManagedPolicies']);
    if (typeof attached === 'string') return `${command} ${name}: ${attached}`;
    attachedPolicies = attached;
  }
  return { arn, name, trustPolicy: trust, inlinePolicies, attachedPolicies };
}

function attachedList(list: unknown[]): { name: string; arn: string }[] | string {
  const out: { name: string; arn: string }[] = [];
  for (const p of list) {
    const name = isObject(p) ? str(p['PolicyName']) : null;
    const arn = isObject(p) ? str(p['PolicyArn']) : null;
    if (!name || !arn) return 'attached policies need PolicyName and PolicyArn';
    out.push({ name, arn });
  }
  return out;
}

/**
 * A policy document as the CLI prints it (a JSON object) or as the IAM API returns it (a string,
 * URL-encoded per RFC 3986: https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html).
 */
export function policyDocument(value: unknown): PolicyDocument | string {
  if (isObject(value)) return value;
  if (typeof value !== 'string') return 'a policy document must be a JSON object or a (URL-encoded) JSON string';
  for (const text of [value, safeDecode(value)]) {
    if (text === null) continue;
    try {
      const parsed: unknown = JSON.parse(text);
      if (isObject(parsed)) return parsed;
    } catch {
      // next form
    }
  }
  return 'the policy document is not JSON, nor URL-encoded JSON';
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text.replace(/\+/g, '%20'));
  } catch {
    return null;
  }
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

/**
 * Later facts win per identity; a summary never erases the role a describe call told. A fact that
 * names a cluster or role only by name (`name:<name>`, from a file named after it) joins the one
 * with that name once it is known.
 */
/**
 * Many inventories merged in order, as `mergeInventory` one after the other would, in one pass: a
 * store keeps one fact per item, and merging thousands of them one by one was quadratic.
 */
export function mergeInventories(parts: readonly Inventory[]): Inventory {
  const all: Required<Inventory> = { clusters: [], associations: [], nodegroups: [], addons: [], roles: [], policies: [] };
  for (const part of parts) {
    for (const c of part.clusters) all.clusters.push(c);
    for (const a of part.associations) all.associations.push(a);
    for (const n of part.nodegroups) all.nodegroups.push(n);
    for (const a of part.addons ?? []) all.addons.push(a);
    for (const r of part.roles ?? []) all.roles.push(r);
    for (const p of part.policies ?? []) all.policies.push(p);
  }
  return mergeInventory(emptyInventory(), all);
}

export function mergeInventory(base: Inventory, next: Inventory): Inventory {
  const clusters = new Map(base.clusters.map((c) => [c.arn, c]));
  for (const c of next.clusters) {
    const prior = clusters.get(c.arn);
    clusters.set(c.arn, {
      ...prior,
      ...c,
      oidcIssuer: c.oidcIssuer ?? prior?.oidcIssuer ?? null,
      region: c.region ?? prior?.region ?? null,
      account: c.account ?? prior?.account ?? null,
      ...(c.addonsListed ?? prior?.addonsListed ? { addonsListed: c.addonsListed ?? prior?.addonsListed } : {}),
    });
  }
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
  const addonKey = (a: InventoryAddon) => `${a.clusterArn ?? a.cluster}|${a.addonName}`;
  const addons = new Map((base.addons ?? []).map((a) => [addonKey(a), a]));
  for (const a of next.addons ?? []) addons.set(addonKey(a), a);
  const roles = new Map((base.roles ?? []).map((r) => [r.arn, r]));
  for (const r of next.roles ?? []) roles.set(r.arn, mergeRole(roles.get(r.arn), r));
  joinByName(roles, (r) => r.name, (known, partial) => mergeRole(known, { ...partial, arn: known.arn }));
  const policyKey = (p: InventoryPolicy) => p.arn ?? `name:${p.name}`;
  const policies = new Map((base.policies ?? []).map((p) => [policyKey(p), p]));
  for (const p of next.policies ?? []) policies.set(policyKey(p), p);
  return compact({
    clusters: [...clusters.values()],
    associations: [...associations.values()],
    nodegroups: [...nodegroups.values()],
    addons: [...addons.values()],
    roles: [...roles.values()],
    policies: [...policies.values()],
  });
}

/** What one read of a role did not tell (null) is kept from the other. */
function mergeRole(prior: InventoryRole | undefined, next: InventoryRole): InventoryRole {
  if (prior === undefined) return next;
  return {
    arn: next.arn,
    name: next.name,
    trustPolicy: next.trustPolicy ?? prior.trustPolicy,
    inlinePolicies: next.inlinePolicies === null ? prior.inlinePolicies : mergeInline(prior.inlinePolicies, next.inlinePolicies),
    attachedPolicies: next.attachedPolicies ?? prior.attachedPolicies,
  };
}

/** Inline policies read one file each (get-role-policy) add up; the same name is replaced. */
function mergeInline(prior: InventoryRole['inlinePolicies'], next: NonNullable<InventoryRole['inlinePolicies']>): InventoryRole['inlinePolicies'] {
  const byName = new Map((prior ?? []).map((p) => [p.name, p]));
  for (const p of next) byName.set(p.name, p);
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Folds each `name:<name>` entry into the one real entry of that name, if there is exactly one. */
function joinByName<T extends { arn: string }>(map: Map<string, T>, nameOf: (t: T) => string, join: (known: T, partial: T) => T): void {
  for (const [key, partial] of [...map]) {
    if (!key.startsWith('name:')) continue;
    const known = [...map.values()].filter((t) => !t.arn.startsWith('name:') && nameOf(t) === nameOf(partial));
    if (known.length !== 1) continue;
    map.set(known[0]!.arn, join(known[0]!, partial));
    map.delete(key);
  }
}

/** The managed policy documents of a role that the inventory holds (by ARN, else by name). */
export function attachedDocuments(inventory: Inventory, role: InventoryRole): { name: string; arn: string; document: PolicyDocument | null }[] {
  const policies = inventory.policies ?? [];
  return (role.attachedPolicies ?? []).map((a) => ({
    ...a,
    document: (policies.find((p) => p.arn === a.arn) ?? policies.find((p) => p.arn === null && p.name === a.name))?.document ?? null,
  }));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
