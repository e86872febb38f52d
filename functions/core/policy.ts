import picomatch from 'picomatch';
import { z } from 'zod';
import { DETECTIONS, SEVERITIES } from './alert';
import { DEFAULT_NODE_ROLE_PATTERNS, EXPECTED_NODE_CALLS } from './node-roles';

/**
 * Thresholds and windows for the detections, from one file (`cutover-watch.policy.json` by
 * default). Every key is optional; what is given is checked strictly, so a typo fails loudly
 * instead of silently keeping a default.
 */

/** A glob that picomatch compiles; an empty or unbalanced one is a mistake worth stopping for. */
const glob = z.string().superRefine((value, ctx) => {
  if (value.trim() === '') {
    ctx.addIssue({ code: 'custom', message: 'empty glob' });
    return;
  }
  const problem = globProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `bad glob ${JSON.stringify(value)}: ${problem}` });
});

function globProblem(value: string): string | null {
  // picomatch compiles almost anything; unbalanced brackets and braces are the typos that bite.
  let depth = 0;
  for (const [open, close] of [['[', ']'], ['{', '}'], ['(', ')']] as const) {
    depth = 0;
    for (const ch of value) {
      if (ch === open) depth += 1;
      else if (ch === close) depth -= 1;
      if (depth < 0) return `unbalanced ${close}`;
    }
    if (depth !== 0) return `unbalanced ${open}`;
  }
  try {
    picomatch.makeRe(value, { nocase: true });
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

const positiveInt = z.number().int().positive();

export const PolicySchema = z.strictObject({
  $schema: z.string().optional(),
  soak: z
    .strictObject({
      /** @default 14 */
      soakDays: z.number().positive().default(14),
      /** @default 24 */
      activeHours: z.number().positive().default(24),
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
