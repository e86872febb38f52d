/**
 * The EventBridge rule patterns, defined once: the CDK rules deploy these objects and the local
 * router (`matchesPattern`) evaluates the same objects, so the CLI reads exactly what the deployed
 * pipeline would receive. Shapes: docs/cloudtrail.md §5; operators: EventBridge user guide,
 * "Comparison operators for use in event patterns".
 */

export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

/** A raw EventBridge pattern (`detail-type`, not CDK's camelCase `detailType`). */
export type EventPattern = { [key: string]: PatternValue };
type Matcher =
  | string
  | number
  | boolean
  | null
  | { prefix: string }
  | { suffix: string }
  | { wildcard: string }
  | { exists: boolean }
  | { 'equals-ignore-case': string }
  | { 'anything-but': string | number | (string | number)[] | { prefix: string } | { suffix: string } | { wildcard: string } };
type PatternValue = Matcher[] | EventPattern | EventPattern[];

export type RuleName = 'pod-identity-fetch' | 'pod-identity-assume' | 'irsa' | 'node-role';

/** Where an EKS OIDC provider lives in an IRSA record (docs/cloudtrail.md §2a). */
export const EKS_OIDC_PROVIDER_WILDCARD = 'arn:aws*:iam::*:oidc-provider/oidc.eks.*.amazonaws.com*/id/*';

/** Event sources a node role only ever calls for the node itself: dropped at the rule, before SQS. */
export const NODE_ONLY_EVENT_SOURCES = ['eks-auth.amazonaws.com', 'ec2messages.amazonaws.com', 'ssmmessages.amazonaws.com'];

export interface NodeRoleRuleConfig {
  /** Exact node role ARNs (inventory node groups, configuration). */
  nodeRoleArns?: readonly string[];
  /** Role name globs with `*` only (EventBridge wildcards); matched on the role ARN's name. */
  nodeRolePatterns?: readonly string[];
}

export const POD_IDENTITY_FETCH_PATTERN: EventPattern = {
  source: ['aws.eks-auth'],
  'detail-type': [CLOUDTRAIL_DETAIL_TYPE],
  detail: { eventSource: ['eks-auth.amazonaws.com'], eventName: ['AssumeRoleForPodIdentity'] },
};

/** Matches the principal, not the tags, so associations with disableSessionTags are caught too. */
export const POD_IDENTITY_ASSUME_PATTERN: EventPattern = {
  source: ['aws.sts'],
  'detail-type': [CLOUDTRAIL_DETAIL_TYPE],
  detail: {
    eventSource: ['sts.amazonaws.com'],
    eventName: ['AssumeRole'],
    userIdentity: { type: ['AWSService'], invokedBy: ['pods.eks.amazonaws.com'] },
  },
};

export const IRSA_PATTERN: EventPattern = {
  source: ['aws.sts'],
  'detail-type': [CLOUDTRAIL_DETAIL_TYPE],
  detail: {
    eventSource: ['sts.amazonaws.com'],
    eventName: ['AssumeRoleWithWebIdentity'],
    userIdentity: { identityProvider: [{ wildcard: EKS_OIDC_PROVIDER_WILDCARD }] },
  },
};

/**
 * Calls with a node role's instance credentials. No `source`: fallthrough can hit any service. The
 * precise allow-list of expected node traffic (ECR pulls, the CNI's EC2 calls…) is applied by the
 * ingest; the rule only drops sources that are node traffic whatever the call. Null when no node
 * role is configured (there is nothing to match on).
 */
export function nodeRolePattern(config: NodeRoleRuleConfig): EventPattern | null {
  const arns: Matcher[] = [
    ...(config.nodeRoleArns ?? []),
    ...(config.nodeRolePatterns ?? []).map((glob) => ({ wildcard: `arn:aws*:iam::*:role/${glob.startsWith('*') ? '' : '*'}${glob}` })),
  ];
  return arns.length === 0 ? null : nodeRolePatternFor(arns);
}

function nodeRolePatternFor(arns: Matcher[]): EventPattern {
  return {
    'detail-type': [CLOUDTRAIL_DETAIL_TYPE],
    detail: {
      userIdentity: {
        type: ['AssumedRole'],
        sessionContext: { sessionIssuer: { arn: arns }, ec2RoleDelivery: [{ exists: true }] },
      },
      eventSource: [{ 'anything-but': NODE_ONLY_EVENT_SOURCES }],
    },
  };
}

/**
 * Every rule set `rulePatterns` builds, at its widest: the node-role rule matching a call by any
 * role at all (its only part that varies, and grows as a run learns node roles). A record none of
 * these match is matched by no rule set `rulePatterns` can build.
 */
export function widestRulePatterns(): Partial<Record<RuleName, EventPattern>> {
  return { ...rulePatterns({}), 'node-role': nodeRolePatternFor([{ exists: true }]) };
}

/** Every rule, by name; the node-role rule only when node roles are configured. */
export function rulePatterns(config: NodeRoleRuleConfig): Partial<Record<RuleName, EventPattern>> {
  const node = nodeRolePattern(config);
  return {
    'pod-identity-fetch': POD_IDENTITY_FETCH_PATTERN,
    'pod-identity-assume': POD_IDENTITY_ASSUME_PATTERN,
    irsa: IRSA_PATTERN,
    ...(node ? { 'node-role': node } : {}),
  };
}

/** What EventBridge would deliver for a CloudTrail record: the record becomes `detail` (docs/cloudtrail.md §4a). */
export function cloudTrailEnvelope(record: Record<string, unknown>): Record<string, unknown> {
  const eventSource = typeof record['eventSource'] === 'string' ? record['eventSource'] : '';
  return {
    version: '0',
    'detail-type': CLOUDTRAIL_DETAIL_TYPE,
    source: `aws.${eventSource.replace(/\.amazonaws\.com$/, '')}`,
    account: record['recipientAccountId'] ?? null,
    region: record['awsRegion'] ?? null,
    detail: record,
  };
}

/** The rules an event matches (none means EventBridge would not deliver it). */
export function matchingRules(event: unknown, patterns: Partial<Record<RuleName, EventPattern>>): RuleName[] {
  return (Object.entries(patterns) as [RuleName, EventPattern][]).filter(([, p]) => matchesPattern(event, p)).map(([name]) => name);
}

/**
 * EventBridge matching for the operators these rules use (and a few more): every key of the
 * pattern must match; a list matches when any of its matchers matches any of the event's values;
 * `$or` takes a list of sub-patterns.
 */
export function matchesPattern(event: unknown, pattern: EventPattern): boolean {
  if (!isObject(event)) return false;
  for (const [key, expected] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(expected as EventPattern[]).some((alternative) => matchesPattern(event, alternative))) return false;
      continue;
    }
    const actual = event[key];
    if (Array.isArray(expected)) {
      if (!matchesLeaf(actual, expected as Matcher[], key in event)) return false;
    } else if (!matchesPattern(actual, expected as EventPattern)) return false;
  }
  return true;
}

function matchesLeaf(actual: unknown, matchers: Matcher[], present: boolean): boolean {
  const values = Array.isArray(actual) ? actual : [actual];
  return matchers.some((m) => {
    if (isObject(m) && 'exists' in m) return m.exists === (present && actual !== undefined);
    if (!present) return false;
    if (isObject(m) && 'anything-but' in m) return values.every((v) => !matchesValue(v, m['anything-but']));
    return values.some((v) => matchesValue(v, m));
  });
}

function matchesValue(value: unknown, m: unknown): boolean {
  if (Array.isArray(m)) return m.some((x) => matchesValue(value, x));
  if (!isObject(m)) return value === m;
  if (typeof value !== 'string') return false;
  if ('prefix' in m) return value.startsWith(String(m['prefix']));
  if ('suffix' in m) return value.endsWith(String(m['suffix']));
  if ('equals-ignore-case' in m) return value.toLowerCase() === String(m['equals-ignore-case']).toLowerCase();
  if ('wildcard' in m) return wildcardRegExp(String(m['wildcard'])).test(value);
  return false;
}

const wildcards = new Map<string, RegExp>();
function wildcardRegExp(pattern: string): RegExp {
  let re = wildcards.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    wildcards.set(pattern, re);
  }
  return re;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
