/**
 * The scenario plan (three clusters, their namespaces and service accounts with their migration
 * dates: the only hand-written part of the fleet) and its resolution into a topology with ids
 * (OIDC ids, node roles, instances, role ids, associations).
 *
 * `buildTopology` draws from its own PRNGs with fixed seeds, never the traffic seed, so the topology
 * is the same for every seed; the traffic, inventory and expected modules all read it.
 */
import { ALNUM, LOWER_ALNUM, BASE32, HEX, Random, STRUCTURE_SEED } from './random';
import type { ExpectedNamespace } from './types';

// ---------------------------------------------------------------------------------------------
// Scenario plan (the only hand-written part; verdicts in `expected` are computed from records)

export interface ServiceAccountPlan {
  name: string;
  /**
   * Whole days before `end` at which the last IRSA pod went away (jittered 4–18 h earlier: the Pod Identity
   * start jitter plus 4–6 h, so IRSA ends 18.5–23 h after the association when the overlap is one day).
   * null = still on IRSA at `end`.
   */
  irsaUntil: number | null;
  /** Whole days before `end` at which Pod Identity traffic starts (jittered 0–12 h earlier). null = never. */
  podIdFrom: number | null;
  /** No regular traffic: its records come from a planted detection case (it still gets an association). */
  plantedOnly?: boolean;
  /** `namespace/serviceAccount` (same cluster) whose IAM role this service account's association uses. */
  roleOf?: string;
  /** Association created N days before `end` although pods were never restarted (no Pod Identity traffic). */
  associationOnlyFrom?: number;
  disableSessionTags?: boolean;
  /** A short retry storm of denied IRSA assumes (wrong trust policy sub). */
  deniedStorm?: boolean;
  sdk: 'botocore' | 'go';
  /** Planted preflight case: its IRSA user agent is an SDK too old for Pod Identity (Go v1 1.44.122). */
  oldSdk?: boolean;
  /** Planted preflight case: its role's trust policy lets pods.eks.amazonaws.com sts:AssumeRole without sts:TagSession. */
  trustWithoutTagSession?: boolean;
}

interface NamespacePlan {
  name: string;
  /** Documentation only: what this plan is meant to produce. Tests check it against `expected`. */
  intent: ExpectedNamespace['verdict'];
  serviceAccounts: ServiceAccountPlan[];
}

export interface NodeGroupPlan {
  name: string;
  kind: 'eksctl' | 'karpenter';
  nodes: number;
  instanceTypes: string[];
}

export interface ClusterPlan {
  name: string;
  account: string;
  region: string;
  version: string;
  /** Cluster VPC CIDR prefix (two octets) for node/pod IPs. */
  vpc: string;
  nodeGroups: NodeGroupPlan[];
  namespaces: NamespacePlan[];
  /** The eks-pod-identity-agent add-on is installed (describe-addon ACTIVE in the inventory); false plants a cluster without it. */
  podIdentityAgent: boolean;
}

export const ACCOUNT_A = '111122223333';
export const ACCOUNT_B = '444455556666';

function sa(
  name: string,
  irsaUntil: number | null,
  podIdFrom: number | null,
  sdk: 'botocore' | 'go',
  extra: Partial<ServiceAccountPlan> = {},
): ServiceAccountPlan {
  return { name, irsaUntil, podIdFrom, sdk, ...extra };
}

export const PLAN: readonly ClusterPlan[] = [
  {
    name: 'payments-prod',
    account: ACCOUNT_A,
    region: 'us-east-1',
    version: '1.31',
    vpc: '10.20',
    podIdentityAgent: true,
    nodeGroups: [
      { name: 'ng-1', kind: 'eksctl', nodes: 4, instanceTypes: ['m6i.xlarge'] },
      { name: 'ng-2', kind: 'eksctl', nodes: 3, instanceTypes: ['m6i.2xlarge'] },
    ],
    namespaces: [
      {
        name: 'ledger',
        intent: 'READY',
        serviceAccounts: [
          sa('ledger-api', 24, 25, 'go'),
          sa('ledger-sync', 24, 25, 'go', { disableSessionTags: true }),
        ],
      },
      { name: 'fraud-detection', intent: 'READY', serviceAccounts: [sa('fraud-scorer', 19, 20, 'botocore')] },
      {
        // READY until the planted irsa-regression: risk-batch assumes through IRSA 6 h and 5 h before end.
        name: 'risk',
        intent: 'IN_PROGRESS',
        serviceAccounts: [sa('risk-engine', 27, 28, 'go'), sa('risk-batch', 26, 28, 'botocore')],
      },
      {
        name: 'checkout',
        intent: 'SOAKING',
        serviceAccounts: [sa('checkout-api', 10, 12, 'go'), sa('checkout-worker', 11, 12, 'botocore')],
      },
      {
        name: 'orders',
        intent: 'IN_PROGRESS',
        serviceAccounts: [sa('orders-api', null, 3, 'go'), sa('orders-worker', 2, 3, 'botocore')],
      },
      { name: 'notifications', intent: 'IN_PROGRESS', serviceAccounts: [sa('notifier', null, 6, 'botocore')] },
      {
        name: 'inventory',
        intent: 'NOT_STARTED',
        serviceAccounts: [sa('inventory-sync', null, null, 'botocore', { deniedStorm: true })],
      },
      {
        name: 'reporting',
        intent: 'NOT_STARTED',
        serviceAccounts: [
          // Planted preflight case: the association exists, but its role's trust lacks sts:TagSession.
          sa('report-builder', null, null, 'botocore', { associationOnlyFrom: 5, trustWithoutTagSession: true }),
          sa('report-mailer', null, null, 'go'),
        ],
      },
      {
        // Planted unexpected-namespace (deny list): a sandbox copy of orders with the prod role's association.
        name: 'orders-sandbox',
        intent: 'READY',
        serviceAccounts: [sa('orders-api', null, null, 'go', { plantedOnly: true, roleOf: 'orders/orders-api' })],
      },
    ],
  },
  {
    name: 'search-prod',
    account: ACCOUNT_A,
    region: 'us-west-2',
    version: '1.32',
    vpc: '10.40',
    podIdentityAgent: true,
    nodeGroups: [{ name: 'default', kind: 'karpenter', nodes: 5, instanceTypes: ['c7g.2xlarge'] }],
    namespaces: [
      {
        name: 'indexer',
        intent: 'READY',
        serviceAccounts: [sa('indexer', 27, 28, 'go'), sa('indexer-compactor', 26, 28, 'go')],
      },
      { name: 'query-api', intent: 'READY', serviceAccounts: [sa('query-api', 25, 26, 'go')] },
      { name: 'ranking', intent: 'READY', serviceAccounts: [sa('ranking-model', 24, 25, 'botocore')] },
      {
        name: 'crawler',
        intent: 'READY',
        serviceAccounts: [sa('crawler', 23, 24, 'go'), sa('crawler-scheduler', 22, 24, 'botocore')],
      },
      { name: 'autocomplete', intent: 'READY', serviceAccounts: [sa('autocomplete', 22, 23, 'go')] },
      { name: 'embeddings', intent: 'READY', serviceAccounts: [sa('embedder', 21, 22, 'botocore')] },
      { name: 'search-admin', intent: 'READY', serviceAccounts: [sa('admin-console', 20, 21, 'botocore')] },
    ],
  },
  {
    name: 'legacy-batch',
    account: ACCOUNT_B,
    region: 'eu-west-1',
    version: '1.29',
    vpc: '10.60',
    // Planted preflight case: still all on IRSA, and no Pod Identity Agent installed.
    podIdentityAgent: false,
    nodeGroups: [{ name: 'ng-1', kind: 'eksctl', nodes: 4, instanceTypes: ['r5.xlarge'] }],
    namespaces: [
      {
        name: 'etl-nightly',
        intent: 'NOT_STARTED',
        serviceAccounts: [sa('etl-runner', null, null, 'botocore'), sa('etl-loader', null, null, 'botocore')],
      },
      // Planted preflight case: an SDK too old for Pod Identity.
      { name: 'billing-export', intent: 'NOT_STARTED', serviceAccounts: [sa('billing-exporter', null, null, 'go', { oldSdk: true })] },
      { name: 'reconciliation', intent: 'NOT_STARTED', serviceAccounts: [sa('reconciler', null, null, 'botocore')] },
      {
        name: 'archive',
        intent: 'NOT_STARTED',
        serviceAccounts: [sa('archiver', null, null, 'go'), sa('archive-pruner', null, null, 'go')],
      },
      { name: 'data-quality', intent: 'NOT_STARTED', serviceAccounts: [sa('dq-checker', null, null, 'botocore')] },
      { name: 'report-gen', intent: 'NOT_STARTED', serviceAccounts: [sa('report-generator', null, null, 'botocore')] },
    ],
  },
];

/** payments-prod node group whose node role shows fallthrough calls. */
export const FALLTHROUGH_CLUSTER = 'payments-prod';
export const FALLTHROUGH_NODEGROUP = 'ng-1';
/** payments-prod node group that emits the denied-fetch burst. */
export const BURST_NODEGROUP = 'ng-2';

// ---------------------------------------------------------------------------------------------
// Resolved topology

export interface NodeRole {
  name: string;
  arn: string;
  roleId: string;
}

export interface Node {
  instanceId: string;
  privateIp: string;
  eni: string;
  role: NodeRole;
  group: NodeGroupPlan;
}

export interface Role {
  name: string;
  arn: string;
  roleId: string;
}

interface Association {
  associationId: string;
  associationArn: string;
}

export interface ServiceAccount {
  plan: ServiceAccountPlan;
  namespace: string;
  role: Role;
  association: Association | null;
  replicas: number;
  /** Days between rollouts (new pod-template-hash). */
  rolloutEvery: number;
}

interface NodeGroup {
  plan: NodeGroupPlan;
  role: NodeRole;
  nodes: Node[];
  asgName: string;
  nodegroupUuid: string;
}

export interface Cluster {
  plan: ClusterPlan;
  arn: string;
  oidcId: string;
  issuerHost: string;
  providerArn: string;
  serviceRoleArn: string;
  nodeGroups: NodeGroup[];
  nodes: Node[];
  egressIps: string[];
  serviceAccounts: ServiceAccount[];
  subnets: string[];
  vpcId: string;
  securityGroup: string;
}

export function buildTopology(): Cluster[] {
  const r = new Random(STRUCTURE_SEED);
  const planted = new Random(STRUCTURE_SEED ^ 0x9e37);
  let natOctet = 10;
  return PLAN.map((plan) => {
    const oidcId = r.chars('0123456789ABCDEF', 32);
    const issuerHost = `oidc.eks.${plan.region}.amazonaws.com/id/${oidcId}`;
    const nodeGroups: NodeGroup[] = plan.nodeGroups.map((g) => {
      const roleName =
        g.kind === 'karpenter'
          ? `KarpenterNodeRole-${plan.name}`
          : `eksctl-${plan.name}-nodegroup-${g.name}-NodeInstanceRole-${r.chars(ALNUM, 12)}`;
      const role: NodeRole = {
        name: roleName,
        arn: `arn:aws:iam::${plan.account}:role/${roleName}`,
        roleId: 'AROA' + r.chars(BASE32, 17),
      };
      const nodes: Node[] = [];
      for (let i = 0; i < g.nodes; i++) {
        nodes.push({
          instanceId: 'i-0' + r.chars(HEX, 16),
          privateIp: r.ipv4(plan.vpc),
          eni: 'eni-' + r.chars(HEX, 17),
          role,
          group: g,
        });
      }
      const nodegroupUuid = r.uuid();
      return { plan: g, role, nodes, asgName: `eks-${g.name}-${nodegroupUuid}`, nodegroupUuid };
    });
    const serviceAccounts: ServiceAccount[] = [];
    for (const ns of plan.namespaces) {
      for (const s of ns.serviceAccounts) {
        // Planted service accounts draw from their own stream so they do not move the ids of the others.
        const rr = s.plantedOnly ? planted : r;
        const roleName = `${plan.name}-${ns.name}-${s.name}`;
        const hasAssociation = s.podIdFrom !== null || s.associationOnlyFrom !== undefined || s.plantedOnly === true;
        const associationId = 'a-' + rr.chars(LOWER_ALNUM, 17);
        let role: Role;
        if (s.roleOf !== undefined) {
          const owner = serviceAccounts.find((x) => `${x.namespace}/${x.plan.name}` === s.roleOf);
          if (!owner) throw new Error(`scenario: roleOf ${s.roleOf} not found before ${ns.name}/${s.name}`);
          role = owner.role;
        } else {
          role = { name: roleName, arn: `arn:aws:iam::${plan.account}:role/${roleName}`, roleId: 'AROA' + rr.chars(BASE32, 17) };
        }
        serviceAccounts.push({
          plan: s,
          namespace: ns.name,
          role,
          association: hasAssociation
            ? {
                associationId,
                associationArn: `arn:aws:eks:${plan.region}:${plan.account}:podidentityassociation/${plan.name}/${associationId}`,
              }
            : null,
          replicas: rr.int(1, 3),
          rolloutEvery: rr.int(5, 9),
        });
      }
    }
    const egressIps = [`203.0.113.${natOctet}`, `203.0.113.${natOctet + 1}`, `203.0.113.${natOctet + 2}`];
    natOctet += 20;
    return {
      plan,
      arn: `arn:aws:eks:${plan.region}:${plan.account}:cluster/${plan.name}`,
      oidcId,
      issuerHost,
      providerArn: `arn:aws:iam::${plan.account}:oidc-provider/${issuerHost}`,
      serviceRoleArn: `arn:aws:iam::${plan.account}:role/eksctl-${plan.name}-cluster-ServiceRole-${r.chars(ALNUM, 12)}`,
      nodeGroups,
      nodes: nodeGroups.flatMap((g) => g.nodes),
      egressIps,
      serviceAccounts,
      subnets: [0, 1, 2].map(() => 'subnet-' + r.chars(HEX, 17)),
      vpcId: 'vpc-' + r.chars(HEX, 17),
      securityGroup: 'sg-' + r.chars(HEX, 17),
    };
  });
}
