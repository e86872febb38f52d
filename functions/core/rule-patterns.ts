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
  const names: RuleName[] = [];
  for (const name in patterns) if (matchesPattern(event, patterns[name as RuleName]!)) names.push(name as RuleName);
  return names;
}

/** Whether any rule matches: `matchingRules(...).length > 0`, without the list (once per record read). */
export function matchesAnyRule(event: unknown, patterns: Partial<Record<RuleName, EventPattern>>): boolean {
  for (const name in patterns) if (matchesPattern(event, patterns[name as RuleName]!)) return true;
  return false;
}

/**
 * EventBridge matching for the operators these rules use (and a few more): every key of the
 * pattern must match; a list matches when any of its matchers matches any of the event's values;
 * `$or` takes a list of sub-patterns.
 *
 * Each pattern is compiled once (patterns are never changed once built): a record is matched
 * without walking the pattern's entries or making a closure per matcher, which was a kilobyte or
 * more of garbage for every record analyze parsed.
 */
export function matchesPattern(event: unknown, pattern: EventPattern): boolean {
  return compiledPattern(pattern)(event);
}

type Test = (value: unknown) => boolean;
const compiledPatterns = new WeakMap<EventPattern, Test>();

function compiledPattern(pattern: EventPattern): Test {
  let test = compiledPatterns.get(pattern);
  if (test === undefined) {
    test = compilePattern(pattern);
    compiledPatterns.set(pattern, test);
  }
  return test;
}

function compilePattern(pattern: EventPattern): Test {
  const checks: ((event: Record<string, unknown>) => boolean)[] = Object.entries(pattern).map(([key, expected]) => {
    if (key === '$or') return anyOf((expected as EventPattern[]).map(compiledPattern));
    if (Array.isArray(expected)) {
      const leaf = compileLeaf(expected as Matcher[]);
      return (event) => leaf(event[key], key in event);
    }
    // a value that is neither a list nor a pattern is no pattern EventBridge accepts: it matches nothing
    if (!isObject(expected)) return () => false;
    const nested = compiledPattern(expected as EventPattern);
    return (event) => nested(event[key]);
  });
  return (event) => {
    if (!isObject(event)) return false;
    for (let i = 0; i < checks.length; i += 1) if (!(checks[i] as (event: Record<string, unknown>) => boolean)(event)) return false;
    return true;
  };
}

/**
 * A leaf's matchers: any one matching is a match. Plain values (a node role's ARN among many) are
 * one set lookup; `exists` asks whether the field is there; the others test the event's values,
 * any of which may match (`anything-but`: none may).
 */
function compileLeaf(matchers: readonly Matcher[]): (actual: unknown, present: boolean) => boolean {
  const exact = new Set<unknown>();
  const exists: boolean[] = [];
  const any: Test[] = [];
  const none: Test[] = [];
  for (const m of matchers) {
    if (!isObject(m)) exact.add(m);
    else if ('exists' in m) exists.push(m.exists);
    else if ('anything-but' in m) none.push(valueTest(m['anything-but']));
    else any.push(valueTest(m));
  }
  const inExact: Test = (value) => exact.has(value);
  return (actual, present) => {
    for (let i = 0; i < exists.length; i += 1) if (exists[i] === (present && actual !== undefined)) return true;
    if (!present) return false;
    if (exact.size > 0 && someValue(actual, inExact)) return true;
    for (let i = 0; i < any.length; i += 1) if (someValue(actual, any[i] as Test)) return true;
    for (let i = 0; i < none.length; i += 1) if (!someValue(actual, none[i] as Test)) return true;
    return false;
  };
}

/** Whether `test` holds for the value, or for any element of an array of values. */
function someValue(actual: unknown, test: Test): boolean {
  if (!Array.isArray(actual)) return test(actual);
  for (let i = 0; i < actual.length; i += 1) if (test(actual[i])) return true;
  return false;
}

/** A value matcher (a plain value, an operator, or a list of them: any matches) as a test of one value. */
function valueTest(m: unknown): Test {
  if (Array.isArray(m)) return anyOf(m.map(valueTest));
  if (!isObject(m)) return (value) => value === m;
  if ('prefix' in m) {
    const prefix = String(m['prefix']);
    return (value) => typeof value === 'string' && value.startsWith(prefix);
  }
  if ('suffix' in m) {
    const suffix = String(m['suffix']);
    return (value) => typeof value === 'string' && value.endsWith(suffix);
  }
  if ('equals-ignore-case' in m) {
    const lower = String(m['equals-ignore-case']).toLowerCase();
    return (value) => typeof value === 'string' && value.toLowerCase() === lower;
  }
  if ('wildcard' in m) {
    const re = wildcardRegExp(String(m['wildcard']));
    return (value) => typeof value === 'string' && re.test(value);
  }
  return () => false;
}

/** A test that holds when any of `tests` holds (`$or`'s alternatives, a list of value matchers). */
function anyOf(tests: readonly Test[]): Test {
  return (value) => {
    for (let i = 0; i < tests.length; i += 1) if ((tests[i] as Test)(value)) return true;
    return false;
  };
}

function wildcardRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
