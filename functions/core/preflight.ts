import { attachedDocuments, type Inventory, type InventoryAssociation, type InventoryCluster, type InventoryRole } from './inventory';
import type { NamespaceReadiness, ReadinessReport, ServiceAccountEvidence } from './readiness';
import { judgeSdkTag, type SdkJudgement } from './sdk-versions';
import {
  lintIrsaStatements,
  lintPodsTrust,
  oidcIssuerOf,
  principalTagsUsed,
  statementsOf,
  updateTrustCommand,
  withoutIssuer,
  type IrsaUser,
  type Issue,
} from './trust-lint';

/**
 * What must be true before a service account is switched to EKS Pod Identity (or its IRSA is
 * removed), checked from what the store and the inventory know: the SDK the pods run, the roles'
 * trust and permission policies, the cluster's Pod Identity Agent. `plan` (core/plan.ts) orders
 * the findings before the switch steps; readiness and every report show the same steps.
 */
export type PreflightKind =
  /** The pods' AWS SDK predates the container credential provider: they would fall through to the node role. */
  | 'sdk-too-old'
  /** A user agent that names no SDK this project knows (a person checks the version). */
  | 'sdk-unknown'
  /** The association's role does not trust `pods.eks.amazonaws.com`. */
  | 'trust-no-pods-principal'
  /** `sts:AssumeRole` without `sts:TagSession` for `pods.eks.amazonaws.com`: every assume is denied. */
  | 'trust-no-tag-session'
  /** `aws:RequestTag/…`, `aws:SourceArn` or `aws:SourceAccount` conditions that exclude this cluster. */
  | 'trust-condition-excludes'
  /** The association disables session tags while the role's policies use `aws:PrincipalTag/kubernetes-*`. */
  | 'session-tags-needed'
  /** An IRSA statement with a wildcard `sub`, or without an `aud` condition (a risk today). */
  | 'irsa-wildcard-sub'
  | 'irsa-no-aud'
  /** A READY namespace's role still trusts the cluster's OIDC provider: the clean-up step. */
  | 'oidc-statement-left'
  /** The eks-pod-identity-agent add-on is missing, or not ACTIVE. */
  | 'agent-missing'
  | 'agent-not-active';

export interface PreflightFinding {
  kind: PreflightKind;
  /** `blocker`: the switch fails (or falls through) until fixed; `warning`: a risk; `cleanup`: after READY. */
  severity: 'blocker' | 'warning' | 'cleanup';
  /** Where it applies; a cluster-wide finding has no namespace, a role finding may have no cluster. */
  clusterArn: string | null;
  cluster: string | null;
  account: string | null;
  region: string | null;
  namespace: string | null;
  serviceAccount: string | null;
  roleArn: string | null;
  /** One sentence: what is wrong and what it breaks. */
  summary: string;
  /** What was seen that says so (the user agent and version, the statement Sid, the add-on status). */
  evidence: string;
  fix: {
    /** One sentence: what to change. */
    text: string;
    /** Complete argv of each command, in order (rendered with `shellCommand`); empty when only a document changes. */
    commands: string[][];
    /** A policy document or statement to apply (the full JSON a person pastes), when the fix is one. */
    document?: unknown;
  };
}

export interface PreflightInput {
  readiness: ReadinessReport;
  inventory: Inventory;
}

/** The EKS add-on that runs the Pod Identity Agent (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-agent-setup.html). */
export const AGENT_ADDON = 'eks-pod-identity-agent';

const SEVERITY_ORDER: readonly PreflightFinding['severity'][] = ['blocker', 'warning', 'cleanup'];
/** Within a place: the cluster's agent first, then the SDK, then the role. */
const KIND_ORDER: readonly PreflightKind[] = [
  'agent-missing',
  'agent-not-active',
  'sdk-too-old',
  'sdk-unknown',
  'trust-no-pods-principal',
  'trust-no-tag-session',
  'trust-condition-excludes',
  'session-tags-needed',
  'irsa-wildcard-sub',
  'irsa-no-aud',
  'oidc-statement-left',
];

/**
 * Every finding for the fleet in `input`, blockers first; within a severity by cluster, the
 * cluster-wide ones (the agent) before its namespaces'. What it checks:
 *
 * - the SDK of every straggler (a service account still assuming through IRSA, not yet seen on
 *   Pod Identity since), from the user agents its IRSA assumes carried (core/sdk-versions.ts);
 * - the trust policy of every association's role, and of the IRSA roles of stragglers without one
 *   (the role the switch will associate), for that cluster and service account; the association's
 *   session tags against the role's permission policies; IRSA statements too wide; IRSA statements
 *   left on roles whose namespaces are all READY (core/trust-lint.ts) — roles the inventory holds;
 * - the eks-pod-identity-agent add-on of each cluster: described and not ACTIVE, listed and absent,
 *   or never read while the cluster has stragglers and no Pod Identity was ever seen in it.
 */
export function preflight(input: PreflightInput): PreflightFinding[] {
  const fleet = new FleetView(input);
  const findings = [...agentFindings(fleet), ...sdkFindings(fleet), ...roleFindings(fleet)];
  const seen = new Set<string>();
  const unique = findings.filter((f) => {
    const key = [f.kind, f.clusterArn ?? f.cluster, f.namespace, f.serviceAccount, f.roleArn, f.evidence].join('|');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort(
    (a, b) =>
      SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
      cmp(a.cluster ?? '~', b.cluster ?? '~') ||
      cmp(a.namespace ?? '', b.namespace ?? '') ||
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      cmp(a.serviceAccount ?? '', b.serviceAccount ?? '') ||
      cmp(a.roleArn ?? '', b.roleArn ?? ''),
  );
}

/** A straggler: IRSA seen, its namespace not READY, and no Pod Identity assume since its last IRSA. */
export function isStraggler(n: NamespaceReadiness, sa: ServiceAccountEvidence): boolean {
  if (n.verdict === 'READY' || sa.lastIrsa === null) return false;
  return sa.lastPodIdentity === null || sa.lastPodIdentity <= sa.lastIrsa;
}

interface Place {
  cluster: InventoryCluster | null;
  clusterArn: string | null;
  name: string | null;
}

/** The readiness rows and the inventory, indexed the ways the checks look them up. */
class FleetView {
  readonly inventory: Inventory;
  readonly readiness: ReadinessReport;
  private readonly rolesByArn: Map<string, InventoryRole>;
  private readonly clustersByArn: Map<string, InventoryCluster>;
  private readonly rows: Map<string, NamespaceReadiness>;
  /** Per role: the service accounts seen assuming it through IRSA, with their namespace's place (one pass over the report). */
  private readonly irsaUsers = new Map<string, { issuer: string | null; clusterArn: string | null; user: IrsaUser }[]>();

  constructor(input: PreflightInput) {
    this.inventory = input.inventory;
    this.readiness = input.readiness;
    this.rolesByArn = new Map((input.inventory.roles ?? []).map((r) => [r.arn, r]));
    this.clustersByArn = new Map(input.inventory.clusters.map((c) => [c.arn, c]));
    this.rows = new Map(input.readiness.namespaces.map((n) => [`${n.clusterArn}|${n.namespace}`, n]));
    for (const n of input.readiness.namespaces) {
      for (const sa of n.detail) {
        if (sa.lastIrsa === null) continue;
        for (const role of sa.roles) {
          const list = this.irsaUsers.get(role) ?? [];
          list.push({ issuer: n.oidcIssuer, clusterArn: n.clusterArn, user: { namespace: n.namespace, serviceAccount: sa.serviceAccount } });
          this.irsaUsers.set(role, list);
        }
      }
    }
  }

  role(arn: string | null): InventoryRole | null {
    return arn === null ? null : (this.rolesByArn.get(arn) ?? null);
  }

  roles(): InventoryRole[] {
    return [...this.rolesByArn.values()].filter((r) => !r.arn.startsWith('name:'));
  }

  clusterOf(arnOrName: { clusterArn: string | null; cluster: string | null }): Place {
    const byName = arnOrName.clusterArn === null && arnOrName.cluster ? this.inventory.clusters.filter((x) => x.name === arnOrName.cluster) : [];
    const c =
      (arnOrName.clusterArn ? this.clustersByArn.get(arnOrName.clusterArn) : undefined) ??
      // A name alone is trusted only when one cluster has it (two accounts may share names).
      (byName.length === 1 ? byName[0] : undefined) ??
      null;
    return { cluster: c, clusterArn: c?.arn ?? arnOrName.clusterArn, name: c?.name ?? arnOrName.cluster };
  }

  clusterOfIssuer(issuer: string): InventoryCluster | null {
    return this.inventory.clusters.find((c) => c.oidcIssuer === issuer) ?? null;
  }

  rowsOf(clusterArn: string): NamespaceReadiness[] {
    return this.readiness.namespaces.filter((n) => n.clusterArn === clusterArn);
  }

  row(clusterArn: string | null, namespace: string): NamespaceReadiness | null {
    return this.rows.get(`${clusterArn}|${namespace}`) ?? null;
  }

  associationsOf(roleArn: string): InventoryAssociation[] {
    if (this.byRole === null) {
      this.byRole = new Map();
      for (const a of this.inventory.associations) if (a.roleArn) this.byRole.set(a.roleArn, [...(this.byRole.get(a.roleArn) ?? []), a]);
    }
    return this.byRole.get(roleArn) ?? [];
  }

  private byRole: Map<string, InventoryAssociation[]> | null = null;

  /** Service accounts seen assuming `roleArn` through IRSA in the cluster of `issuer`, and those associated with it there. */
  usersOf(roleArn: string, issuer: string): IrsaUser[] {
    const cluster = this.clusterOfIssuer(issuer);
    const users = new Map<string, IrsaUser>();
    for (const u of this.irsaUsers.get(roleArn) ?? []) {
      if (u.issuer !== issuer && (cluster === null || u.clusterArn !== cluster.arn)) continue;
      users.set(`${u.user.namespace}/${u.user.serviceAccount}`, u.user);
    }
    if (cluster) {
      for (const a of this.associationsOf(roleArn)) {
        if (this.clusterOf(a).clusterArn === cluster.arn) users.set(`${a.namespace}/${a.serviceAccount}`, { namespace: a.namespace, serviceAccount: a.serviceAccount });
      }
    }
    return [...users.values()].sort((a, b) => cmp(`${a.namespace}/${a.serviceAccount}`, `${b.namespace}/${b.serviceAccount}`));
  }

  /** Every cluster the inventory or the readiness knows with an ARN. */
  clusters(): Place[] {
    const byArn = new Map<string, Place>();
    for (const c of this.inventory.clusters) byArn.set(c.arn, { cluster: c, clusterArn: c.arn, name: c.name });
    for (const c of this.readiness.clusters) {
      if (c.clusterArn && !byArn.has(c.clusterArn)) byArn.set(c.clusterArn, { cluster: null, clusterArn: c.clusterArn, name: c.cluster });
    }
    return [...byArn.values()];
  }
}

function finding(place: Place, where: { namespace?: string | null; serviceAccount?: string | null; roleArn?: string | null }, issue: Issue): PreflightFinding {
  const arn = place.clusterArn;
  const parts = arn?.split(':') ?? [];
  return {
    ...issue,
    clusterArn: arn,
    cluster: place.name,
    account: place.cluster?.account ?? parts[4] ?? accountOfRole(where.roleArn ?? null),
    region: place.cluster?.region ?? parts[3] ?? null,
    namespace: where.namespace ?? null,
    serviceAccount: where.serviceAccount ?? null,
    roleArn: where.roleArn ?? null,
  };
}

const NO_PLACE: Place = { cluster: null, clusterArn: null, name: null };

function accountOfRole(arn: string | null): string | null {
  return arn?.split(':')[4] || null;
}

// ---------------------------------------------------------------------------------------------
// Cluster: the Pod Identity Agent

function agentFindings(fleet: FleetView): PreflightFinding[] {
  const out: PreflightFinding[] = [];
  for (const place of fleet.clusters()) {
    const arn = place.clusterArn!;
    const region = place.cluster?.region ?? arn.split(':')[3] ?? null;
    const name = place.name ?? arn.slice(arn.lastIndexOf('/') + 1);
    const addonArgs = ['--cluster-name', name, '--addon-name', AGENT_ADDON, ...(region ? ['--region', region] : [])];
    const create = ['aws', 'eks', 'create-addon', ...addonArgs];
    const addon = (fleet.inventory.addons ?? []).find((a) => a.addonName === AGENT_ADDON && (a.clusterArn ? a.clusterArn === arn : a.cluster === name));
    const rows = fleet.rowsOf(arn);
    const podIdentitySeen =
      rows.some((n) => n.firstPodIdentity !== null || n.lastPodIdentity !== null) ||
      fleet.readiness.clusters.some((c) => c.clusterArn === arn && c.warnings.some((w) => w.type === 'pod-identity-fetch-denied'));
    const stragglers = rows.filter((n) => n.detail.some((sa) => isStraggler(n, sa)));

    if (addon && addon.status !== 'ACTIVE') {
      const pending = addon.status === 'CREATING' || addon.status === 'UPDATING';
      out.push(
        finding(place, {}, {
          kind: 'agent-not-active',
          severity: pending ? 'warning' : 'blocker',
          summary: `the ${AGENT_ADDON} add-on of ${name} is ${addon.status ?? 'in an unknown state'}, not ACTIVE: pods switched to Pod Identity may get no credentials`,
          evidence: `describe-addon: status ${addon.status ?? '?'}, version ${addon.addonVersion ?? '?'}${addon.issues.length > 0 ? `, health: ${addon.issues.join('; ')}` : ''}`,
          fix: pending
            ? { text: `wait until the add-on is ACTIVE before switching any pod of ${name}`, commands: [['aws', 'eks', 'wait', 'addon-active', ...addonArgs]] }
            : {
                text: `repair the add-on (its health issues say why), then wait until it is ACTIVE`,
                commands: [
                  ['aws', 'eks', 'update-addon', ...addonArgs.slice(0, 4), '--resolve-conflicts', 'OVERWRITE', ...addonArgs.slice(4)],
                  ['aws', 'eks', 'wait', 'addon-active', ...addonArgs],
                ],
              },
        }),
      );
      continue;
    }
    if (addon || podIdentitySeen) continue; // ACTIVE, or an agent runs (self-managed) since Pod Identity works
    const listed = place.cluster?.addonsListed;
    if (listed === undefined && stragglers.length === 0) continue;
    out.push(
      finding(place, {}, {
        kind: 'agent-missing',
        severity: 'blocker',
        summary: `${name} has no ${AGENT_ADDON} add-on${stragglers.length > 0 ? `, and ${stragglers.length} namespace${stragglers.length === 1 ? '' : 's'} still on IRSA` : ''}: a pod switched to Pod Identity there gets no credentials`,
        evidence:
          listed !== undefined
            ? `ListAddons: ${listed.length === 0 ? 'no add-ons' : listed.join(', ')}; no Pod Identity assume ever seen in the cluster`
            : 'no Pod Identity credential fetch or assume ever seen in the cluster (the add-on list was not read: `inventory sync` reads it)',
        fix: { text: `install the ${AGENT_ADDON} add-on first, then wait until it is ACTIVE`, commands: [create, ['aws', 'eks', 'wait', 'addon-active', ...addonArgs]] },
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// SDKs

function sdkFindings(fleet: FleetView): PreflightFinding[] {
  const out: PreflightFinding[] = [];
  for (const n of fleet.readiness.namespaces) {
    const place = fleet.clusterOf(n);
    for (const sa of n.detail) {
      if (!isStraggler(n, sa) || !sa.sdks?.length) continue;
      const judged = sa.sdks.map(judgeSdkTag);
      const tooOld = judged.filter((j) => j.status === 'too-old');
      const unknown = judged.filter((j) => j.status === 'unknown');
      const where = { namespace: n.namespace, serviceAccount: sa.serviceAccount };
      const images = imagesCommand(n.namespace, sa.serviceAccount);
      if (tooOld.length > 0) {
        out.push(
          finding(place, where, {
            kind: 'sdk-too-old',
            severity: 'blocker',
            summary: `${n.namespace}/${sa.serviceAccount} runs ${tooOld.map(sdkName).join(', ')}, too old for Pod Identity: after the switch its pods would skip the Pod Identity credentials and fall through to the node role`,
            evidence: `IRSA user agents: ${tooOld.map((j) => j.text).join('; ')} (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-minimum-sdk.html)`,
            fix: {
              text: `upgrade the SDK first: ${tooOld.map((j) => `${j.requirement!.label} to ${j.requirement!.minimum} or later`).join(', ')}; rebuild and roll out the image, then switch`,
              commands: [images],
            },
          }),
        );
      }
      if (unknown.length > 0) {
        out.push(
          finding(place, where, {
            kind: 'sdk-unknown',
            severity: 'warning',
            summary: `${n.namespace}/${sa.serviceAccount}: the SDK version of ${unknown.length === 1 ? 'one user agent' : `${unknown.length} user agents`} cannot be checked against Pod Identity's minimum versions`,
            evidence: unknown.map((j) => j.text).join('; '),
            fix: {
              text: 'check which AWS SDK and version the images run against https://docs.aws.amazon.com/eks/latest/userguide/pod-id-minimum-sdk.html before switching',
              commands: [images],
            },
          }),
        );
      }
    }
  }
  return out;
}

function sdkName(j: SdkJudgement): string {
  return `${j.requirement?.label ?? j.sdk} ${j.version}`;
}

/** The images of the pods that run as the service account (spec.serviceAccountName is a pod field selector). */
function imagesCommand(namespace: string, serviceAccount: string): string[] {
  return [
    'kubectl', 'get', 'pods', '-n', namespace,
    '--field-selector', `spec.serviceAccountName=${serviceAccount}`,
    '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.containers[*].image}{"\\n"}{end}',
  ];
}

// ---------------------------------------------------------------------------------------------
// Roles: trust and permission policies

function roleFindings(fleet: FleetView): PreflightFinding[] {
  const out: PreflightFinding[] = [];

  // Associations: the role EKS will assume for the service account.
  for (const a of fleet.inventory.associations) {
    const role = fleet.role(a.roleArn);
    if (!role) continue;
    const place = fleet.clusterOf(a);
    const where = { namespace: a.namespace, serviceAccount: a.serviceAccount, roleArn: role.arn };
    const sessionTags = a.disableSessionTags !== true;
    for (const issue of lintPodsTrust(role, { account: place.cluster?.account ?? place.clusterArn?.split(':')[4] ?? null, clusterArn: place.clusterArn, cluster: place.name, namespace: a.namespace, serviceAccount: a.serviceAccount, sessionTags })) {
      out.push(finding(place, where, issue));
    }
    if (!sessionTags) {
      const used = [
        ...(role.inlinePolicies ?? []).map((p) => ({ what: `inline policy ${p.name}`, tags: principalTagsUsed(p.document) })),
        ...attachedDocuments(fleet.inventory, role).map((p) => ({ what: `managed policy ${p.name}`, tags: principalTagsUsed(p.document) })),
      ].filter((u) => u.tags.length > 0);
      if (used.length > 0) {
        const region = place.cluster?.region ?? place.clusterArn?.split(':')[3] ?? null;
        out.push(
          finding(place, where, {
            kind: 'session-tags-needed',
            severity: 'blocker',
            summary: `the association of ${a.namespace}/${a.serviceAccount} disables session tags, but ${role.name}'s policies grant by aws:PrincipalTag: its requests are denied`,
            evidence: used.map((u) => `${u.what} uses ${u.tags.join(', ')}`).join('; '),
            fix: {
              text: `turn session tags back on for the association (the role's policies rely on them)`,
              commands: a.associationId
                ? [['aws', 'eks', 'update-pod-identity-association', '--cluster-name', place.name ?? a.cluster, '--association-id', a.associationId, '--no-disable-session-tags', ...(region ? ['--region', region] : [])]]
                : [['aws', 'eks', 'list-pod-identity-associations', '--cluster-name', place.name ?? a.cluster, '--namespace', a.namespace, '--service-account', a.serviceAccount, ...(region ? ['--region', region] : [])]],
            },
          }),
        );
      }
    }
  }

  // Stragglers without an association: the IRSA role they assume is the one the switch associates.
  for (const n of fleet.readiness.namespaces) {
    const place = fleet.clusterOf(n);
    for (const sa of n.detail) {
      if (sa.hasAssociation || !isStraggler(n, sa)) continue;
      for (const roleArn of sa.roles) {
        const role = fleet.role(roleArn);
        if (!role) continue;
        const request = { account: place.cluster?.account ?? accountOfRole(roleArn), clusterArn: place.clusterArn, cluster: place.name, namespace: n.namespace, serviceAccount: sa.serviceAccount, sessionTags: true };
        for (const issue of lintPodsTrust(role, request)) {
          out.push(finding(place, { namespace: n.namespace, serviceAccount: sa.serviceAccount, roleArn }, { ...issue, summary: `before the association: ${issue.summary}` }));
        }
      }
    }
  }

  // IRSA statements: too wide today; left over once their namespaces are READY.
  for (const role of fleet.roles()) {
    const trust = role.trustPolicy;
    if (trust === null) continue;
    for (const { issuer, ...issue } of lintIrsaStatements(role, (i) => fleet.usersOf(role.arn, i))) {
      const cluster = fleet.clusterOfIssuer(issuer);
      const users = fleet.usersOf(role.arn, issuer);
      const place = cluster ? { cluster, clusterArn: cluster.arn, name: cluster.name } : NO_PLACE;
      out.push(finding(place, users.length === 1 ? { ...users[0], roleArn: role.arn } : { roleArn: role.arn }, issue));
    }
    const issuers = [...new Set(statementsOf(trust).map(oidcIssuerOf).filter((i): i is string => i !== null))];
    for (const issuer of issuers) {
      const cluster = fleet.clusterOfIssuer(issuer);
      if (!cluster) continue;
      const users = fleet.usersOf(role.arn, issuer);
      const namespaces = [...new Set(users.map((u) => u.namespace))];
      const rows = namespaces.map((ns) => fleet.row(cluster.arn, ns));
      if (rows.length === 0 || rows.some((r) => r === null || r.verdict !== 'READY')) continue;
      const { document, removed } = withoutIssuer(trust, issuer);
      const empty = statementsOf(document).length === 0;
      out.push(
        finding({ cluster, clusterArn: cluster.arn, name: cluster.name }, namespaces.length === 1 ? { namespace: namespaces[0], roleArn: role.arn } : { roleArn: role.arn }, {
          kind: 'oidc-statement-left',
          severity: 'cleanup',
          summary: `${role.name} still trusts ${cluster.name}'s OIDC provider, though every namespace that used it through IRSA (${namespaces.join(', ')}) is READY`,
          evidence: `${removed.join(', ')}: sts:AssumeRoleWithWebIdentity from ${issuer}`,
          fix: empty
            ? { text: `${role.name} trusts nothing else: it is no longer assumed through IRSA or Pod Identity; delete it once nothing else uses it`, commands: [] }
            : { text: `remove the IRSA statement${removed.length === 1 ? '' : 's'} for ${issuer} from ${role.name}'s trust policy`, commands: [updateTrustCommand(role, document)], document },
        }),
      );
    }
  }
  return out;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
