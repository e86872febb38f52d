// The namespace, not the `z` object: esbuild then keeps only the schemas used (144 KB of zod in the bundle, not 601)
import * as z from 'zod';
import { DETECTIONS, SEVERITIES } from './alert';
import { compileGlob, compileGlobs, globProblem, type GlobMatcher } from './glob';
import { DEFAULT_NODE_ROLE_PATTERNS, EXPECTED_NODE_CALLS } from './node-roles';

/**
 * Thresholds and windows for the detections, from one file (`cutover-watch.policy.json` by
 * default). Every key is optional; what is given is checked strictly, so a typo fails loudly
 * instead of silently keeping a default.
 */

/** A glob of the syntax `./glob.ts` matches; an empty or unbalanced one is a mistake worth stopping for. */
const glob = z.string().superRefine((value, ctx) => {
  const problem = globProblem(value);
  if (problem === 'empty glob') ctx.addIssue({ code: 'custom', message: problem });
  else if (problem) ctx.addIssue({ code: 'custom', message: `bad glob ${JSON.stringify(value)}: ${problem}` });
});

const positiveInt = z.number().int().positive();

export const PolicySchema = z.strictObject({
  $schema: z.string().optional(),
  soak: z
    .strictObject({
      /** @default 14 */
      soakDays: z.number().positive().max(3650).default(14),
      /** @default 24 */
      activeHours: z.number().positive().max(8760).default(24),
    })
    .prefault({}),
  accessDeniedSpike: z
    .strictObject({
      /** Fixed windows aligned on the epoch. @default 5 */
      windowMinutes: positiveInt.default(5),
      /** Denied events per key and window that raise the alert. @default 5 */
      threshold: positiveInt.default(5),
    })
    .prefault({}),
  unexpectedNamespace: z
    .strictObject({
      /** A role must have been seen this long before a new (role, namespace) pair alerts. @default 7 */
      learningDays: z.number().nonnegative().default(7),
      /** Namespaces no workload role should be assumed from. */
      denyNamespaces: z.array(glob).default(['default', '*-sandbox']),
      /** Namespaces only system roles belong in. */
      systemNamespaces: z.array(glob).default(['kube-system']),
      /** Role name globs of cluster add-ons, allowed in system namespaces. */
      systemRoles: z
        .array(glob)
        .default([
          '*aws-node*', '*vpc-cni*', '*ebs-csi*', '*efs-csi*', '*karpenter*', '*cluster-autoscaler*',
          '*load-balancer-controller*', '*external-dns*', '*cert-manager*', '*adot*', '*cloudwatch*', '*fluent*',
        ]),
      /** Where a role may be used: a matching rule's namespaces are the only ones allowed for it. */
      allow: z
        .array(
          z.strictObject({
            cluster: glob.default('*'),
            roles: z.array(glob).min(1),
            namespaces: z.array(glob).min(1),
          }),
        )
        .default([]),
    })
    .prefault({}),
  nodeRoleFallthrough: z
    .strictObject({
      /** Node role name/ARN globs; the inventory's node groups and roles seen fetching Pod Identity are added. */
      nodeRolePatterns: z.array(glob).default([...DEFAULT_NODE_ROLE_PATTERNS]),
      /** `eventSource:eventName` globs of traffic a node makes for itself. */
      expectedCalls: z.array(glob).default([...EXPECTED_NODE_CALLS]),
      /** One alert per node role and call in this many hours. @default 24 */
      windowHours: positiveInt.default(24),
    })
    .prefault({}),
  /** Override a detection's default severity. */
  severity: z.partialRecord(z.enum(DETECTIONS), z.enum(SEVERITIES)).default({}),
  /**
   * Who owns which namespaces: the first rule whose cluster and namespace globs match names the
   * team (and where to reach it) that `plan` and `report --by owner` group by and alerts carry.
   */
  owners: z
    .array(
      z.strictObject({
        /** Cluster name or ARN glob. */
        cluster: glob.default('*'),
        namespaces: z.array(glob).min(1).default(['*']),
        team: z.string().trim().min(1).max(128),
        email: z.email().optional(),
        /** A Slack channel: `#payments-oncall`. */
        slack: z.string().regex(/^#[a-z0-9][a-z0-9._-]{0,79}$/, 'a Slack channel: # then lower-case letters, digits, . _ or -').optional(),
        /** The project tickets go to (`PAY`, `payments-platform`). */
        ticketProject: z.string().trim().min(1).max(128).optional(),
      }),
    )
    .default([]),
});

export type Policy = z.output<typeof PolicySchema>;

export const DEFAULT_POLICY_FILE = 'cutover-watch.policy.json';

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

export const defaultPolicy = (): Policy => PolicySchema.parse({});

/** Validates a parsed policy document; the error names the file and every bad key. */
export function parsePolicy(doc: unknown, source: string): Policy {
  const result = PolicySchema.safeParse(doc);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const at = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (at ? `${at}.${k}` : k));
      return `unknown key ${keys.join(', ')}`;
    }
    return `${at || '(top level)'}: ${issue.message}`;
  });
  return fail(`${source}: ${problems.join('; ')}`);
}

function fail(message: string): never {
  throw new PolicyError(message);
}

/** Who owns a namespace, as the policy's `owners` rule that matched says. */
export interface Owner {
  team: string;
  email?: string;
  slack?: string;
  ticketProject?: string;
}

/** `payments (payments@example.com, #payments-oncall, PAY)`: the team and how to reach it. */
export function ownerLabel(owner: Owner | null | undefined): string {
  if (!owner) return '(no owner)';
  const contact = [owner.email, owner.slack, owner.ticketProject].filter((c): c is string => c !== undefined);
  return contact.length === 0 ? owner.team : `${owner.team} (${contact.join(', ')})`;
}

const compiledOwners = new WeakMap<Policy, { cluster: GlobMatcher; namespaces: GlobMatcher; owner: Owner }[]>();

/**
 * The owner of (cluster, namespace): the first `owners` rule whose cluster glob matches the
 * cluster's name or ARN and whose namespace globs match the namespace; null when none does (or
 * the cluster is unknown and the rule names one).
 */
export function ownerOf(policy: Policy, place: { cluster: string | null; clusterArn: string | null; namespace: string | null }): Owner | null {
  let rules = compiledOwners.get(policy);
  if (rules === undefined) {
    rules = (policy.owners ?? []).map(({ cluster, namespaces, ...owner }) => ({ cluster: compileGlob(cluster), namespaces: compileGlobs(namespaces), owner: { ...owner } }));
    compiledOwners.set(policy, rules);
  }
  if (place.namespace === null) return null;
  for (const rule of rules) {
    const clusterMatches = (place.cluster !== null && rule.cluster(place.cluster)) || (place.clusterArn !== null && rule.cluster(place.clusterArn));
    if (clusterMatches && rule.namespaces(place.namespace)) return rule.owner;
  }
  return null;
}

/** The unexpected-namespace globs of a policy, compiled. */
export interface PolicyMatchers {
  denyNamespace: GlobMatcher;
  systemNamespace: GlobMatcher;
  systemRole: GlobMatcher;
  allow: { cluster: GlobMatcher; roles: GlobMatcher; namespaces: GlobMatcher }[];
}

const compiled = new WeakMap<Policy, PolicyMatchers>();

/**
 * Compiles a policy's globs once per policy object (a loaded policy lives for the whole run, and
 * the detections ask for every batch). A memo, not state: the result depends only on `policy`.
 */
export function policyMatchers(policy: Policy): PolicyMatchers {
  let m = compiled.get(policy);
  if (m === undefined) {
    const u = policy.unexpectedNamespace;
    m = {
      denyNamespace: compileGlobs(u.denyNamespaces),
      systemNamespace: compileGlobs(u.systemNamespaces),
      systemRole: compileGlobs(u.systemRoles),
      allow: u.allow.map((r) => ({ cluster: compileGlob(r.cluster), roles: compileGlobs(r.roles), namespaces: compileGlobs(r.namespaces) })),
    };
    compiled.set(policy, m);
  }
  return m;
}
