import type { InventoryRole, PolicyDocument } from './inventory';
import type { PreflightFinding } from './preflight';

/**
 * The trust and permission checks of the preflight, on IAM policy documents as IAM holds them
 * (the JSON `aws iam get-role` prints). Each check returns what is wrong and the exact document
 * that fixes it; core/preflight.ts says where (cluster, namespace, service account).
 *
 * What EKS Pod Identity needs of a role's trust policy: the service principal
 * `pods.eks.amazonaws.com` allowed `sts:AssumeRole` and `sts:TagSession`
 * (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html); the session tags it sets,
 * usable as `aws:RequestTag/…` in the trust policy and `aws:PrincipalTag/…` in permission policies:
 * eks-cluster-arn, eks-cluster-name, kubernetes-namespace, kubernetes-service-account,
 * kubernetes-pod-name, kubernetes-pod-uid (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html).
 * IRSA: `sts:AssumeRoleWithWebIdentity` from the cluster's OIDC provider, narrowed by the
 * `<issuer>:sub` and `<issuer>:aud` conditions (https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html).
 */

export const PODS_PRINCIPAL = 'pods.eks.amazonaws.com';
/** The statement AWS documents for a Pod Identity role's trust policy. */
export const PODS_STATEMENT = {
  Sid: 'AllowEksAuthToAssumeRoleForPodIdentity',
  Effect: 'Allow',
  Principal: { Service: PODS_PRINCIPAL },
  Action: ['sts:AssumeRole', 'sts:TagSession'],
} as const;

export type Statement = Record<string, unknown>;

/** What a finding says and how to fix it; preflight.ts adds where. */
export type Issue = Pick<PreflightFinding, 'kind' | 'severity' | 'summary' | 'evidence' | 'fix'>;

/** The statements of a policy document (IAM accepts one object or an array). */
export function statementsOf(doc: PolicyDocument | null): Statement[] {
  const s = doc?.['Statement'];
  if (Array.isArray(s)) return s.filter(isObject);
  return isObject(s) ? [s] : [];
}

const list = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function principals(st: Statement, type: 'Service' | 'Federated'): string[] {
  const p = st['Principal'];
  if (p === '*') return ['*'];
  return isObject(p) ? list(p[type]) : [];
}

/** IAM action patterns (`sts:*`, `*`, `sts:Assume*`) against one action, case-insensitively. */
export function allowsAction(st: Statement, action: string): boolean {
  if (st['Effect'] !== 'Allow') return false;
  if ('NotAction' in st) return !list(st['NotAction']).some((p) => glob(p, action, true));
  return list(st['Action']).some((p) => glob(p, action, true));
}

export function isPodsStatement(st: Statement): boolean {
  return st['Effect'] === 'Allow' && principals(st, 'Service').some((p) => p === PODS_PRINCIPAL || p === '*');
}

/** `arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC` → the issuer host and path. */
export function oidcIssuerOf(st: Statement): string | null {
  if (st['Effect'] !== 'Allow' || !allowsAction(st, 'sts:AssumeRoleWithWebIdentity')) return null;
  for (const p of principals(st, 'Federated')) {
    const m = /:oidc-provider\/(.+)$/.exec(p);
    if (m) return m[1]!;
  }
  return null;
}

/** The trust policy with one statement replaced (or removed when `next` is null), else unchanged. */
export function replaceStatement(doc: PolicyDocument, index: number, next: Statement | null): PolicyDocument {
  const statements = statementsOf(doc);
  const out = statements.flatMap((s, i) => (i === index ? (next === null ? [] : [next]) : [s]));
  return { ...doc, Version: doc['Version'] ?? '2012-10-17', Statement: out };
}

export function addStatement(doc: PolicyDocument | null, st: Statement): PolicyDocument {
  return { Version: '2012-10-17', ...(doc ?? {}), Statement: [...statementsOf(doc), st] };
}

/** The command that replaces a role's trust policy, the document inline so the command is complete. */
export function updateTrustCommand(role: InventoryRole, doc: PolicyDocument): string[] {
  return ['aws', 'iam', 'update-assume-role-policy', '--role-name', role.name, '--policy-document', JSON.stringify(doc)];
}

// ---------------------------------------------------------------------------------------------
// Pod Identity trust

/** What a Pod Identity assume for one service account carries, the values its trust conditions see. */
export interface PodIdentityRequest {
  account: string | null;
  clusterArn: string | null;
  cluster: string | null;
  namespace: string | null;
  serviceAccount: string | null;
  /** false when the association disables session tags: no `aws:RequestTag/…` at all. */
  sessionTags: boolean;
}

/** The Pod Identity trust checks of one role for one request (an association, or the one the switch will create). */
export function lintPodsTrust(role: InventoryRole, request: PodIdentityRequest): Issue[] {
  const trust = role.trustPolicy;
  if (trust === null) return [];
  const statements = statementsOf(trust);
  const pods = statements.map((st, index) => ({ st, index })).filter(({ st }) => isPodsStatement(st) && allowsAction(st, 'sts:AssumeRole'));
  if (pods.length === 0) {
    const fixed = addStatement(trust, { ...PODS_STATEMENT, Action: [...PODS_STATEMENT.Action] });
    return [
      {
        kind: 'trust-no-pods-principal',
        severity: 'blocker',
        summary: `${role.name} does not trust ${PODS_PRINCIPAL} to assume it: every Pod Identity credential request for it is denied`,
        evidence: `trust policy principals: ${describePrincipals(statements)}`,
        fix: {
          text: `add a statement allowing ${PODS_PRINCIPAL} sts:AssumeRole and sts:TagSession to ${role.name}'s trust policy (the IRSA statements stay until the clean-up)`,
          commands: [updateTrustCommand(role, fixed)],
          document: fixed,
        },
      },
    ];
  }
  const issues: Issue[] = [];
  const admitting = pods.filter(({ st }) => excludedBy(st, request).length === 0);
  if (admitting.length === 0) {
    const { st, index } = pods[0]!;
    const exclusions = excludedBy(st, request);
    const fixedStatement = admit(st, request);
    const fixed = replaceStatement(trust, index, fixedStatement);
    issues.push({
      kind: 'trust-condition-excludes',
      severity: 'blocker',
      summary: `${role.name}'s ${PODS_PRINCIPAL} statement has conditions this ${request.cluster ? `cluster (${request.cluster})` : 'cluster'} does not meet: its assumes are denied`,
      evidence: `${sidOf(st, index)}: ${exclusions.join('; ')}`,
      fix: {
        text: `widen the condition${exclusions.length === 1 ? '' : 's'} of ${sidOf(st, index)} to admit ${request.clusterArn ?? request.cluster ?? 'the cluster'}`,
        commands: [updateTrustCommand(role, fixed)],
        document: fixed,
      },
    });
    return issues;
  }
  if (request.sessionTags && !admitting.some(({ st }) => allowsAction(st, 'sts:TagSession'))) {
    const { st, index } = admitting[0]!;
    const fixed = replaceStatement(trust, index, { ...st, Action: [...new Set([...list(st['Action']), 'sts:TagSession'])] });
    issues.push({
      kind: 'trust-no-tag-session',
      severity: 'blocker',
      summary: `${role.name} lets ${PODS_PRINCIPAL} call sts:AssumeRole but not sts:TagSession: with session tags on (the default) every assume is denied`,
      evidence: `${sidOf(st, index)} allows ${list(st['Action']).join(', ') || '(NotAction)'}`,
      fix: {
        text: `add sts:TagSession to the actions of ${sidOf(st, index)} in ${role.name}'s trust policy`,
        commands: [updateTrustCommand(role, fixed)],
        document: fixed,
      },
    });
  }
  return issues;
}

function describePrincipals(statements: Statement[]): string {
  const seen = statements.flatMap((st) => {
    const p = st['Principal'];
    if (p === '*') return ['*'];
    if (!isObject(p)) return [];
    return Object.entries(p).flatMap(([type, v]) => list(v).map((x) => `${type} ${x}`));
  });
  return seen.length === 0 ? 'none' : seen.join(', ');
}

function sidOf(st: Statement, index: number): string {
  return typeof st['Sid'] === 'string' && st['Sid'] !== '' ? `statement ${st['Sid']}` : `statement ${index + 1}`;
}

type ConditionBlock = Record<string, Record<string, unknown>>;

function conditionsOf(st: Statement): ConditionBlock {
  const c = st['Condition'];
  if (!isObject(c)) return {};
  return Object.fromEntries(Object.entries(c).filter((e): e is [string, Record<string, unknown>] => isObject(e[1])));
}

/** The value a Pod Identity request carries for a trust condition key; undefined when this check does not know it. */
function requestValue(key: string, request: PodIdentityRequest): string | null | undefined {
  const k = key.toLowerCase();
  if (k === 'aws:sourceaccount') return request.account ?? undefined;
  if (k === 'aws:sourcearn') return request.clusterArn ?? undefined;
  if (!k.startsWith('aws:requesttag/')) return undefined;
  if (!request.sessionTags) return null; // no tags at all
  switch (k.slice('aws:requesttag/'.length)) {
    case 'eks-cluster-arn':
      return request.clusterArn ?? undefined;
    case 'eks-cluster-name':
      return request.cluster ?? undefined;
    case 'kubernetes-namespace':
      return request.namespace ?? undefined;
    case 'kubernetes-service-account':
      return request.serviceAccount ?? undefined;
    default:
      return undefined; // pod name and UID change with every pod
  }
}

interface Operator {
  negated: boolean;
  like: boolean;
  ignoreCase: boolean;
  ifExists: boolean;
}

/** String and ARN operators (IAM condition operators reference); others are not judged. */
function operatorOf(name: string): Operator | null {
  const bare = name.replace(/^For(Any|All)Value:/i, '');
  const m = /^(String|Arn)(Not)?(Equals|Like|EqualsIgnoreCase)(IfExists)?$/i.exec(bare);
  if (!m) return null;
  return { negated: !!m[2], like: /like/i.test(m[3]!), ignoreCase: /ignorecase/i.test(m[3]!), ifExists: !!m[4] };
}

function matchesAny(values: string[], actual: string, op: Operator): boolean {
  return values.some((v) => (op.like ? glob(v, actual, op.ignoreCase) : op.ignoreCase ? v.toLowerCase() === actual.toLowerCase() : v === actual));
}

/** Why a statement's conditions refuse the request: one line per condition that does. */
function excludedBy(st: Statement, request: PodIdentityRequest): string[] {
  const why: string[] = [];
  for (const [opName, keys] of Object.entries(conditionsOf(st))) {
    const op = operatorOf(opName);
    if (!op) continue;
    for (const [key, raw] of Object.entries(keys)) {
      const actual = requestValue(key, request);
      if (actual === undefined) continue;
      const values = list(raw);
      if (actual === null) {
        // The key is absent: a positive operator fails, unless IfExists; a negated one passes.
        if (!op.negated && !op.ifExists) why.push(`${opName} ${key} needs a session tag, and the association disables session tags`);
        continue;
      }
      const hit = matchesAny(values, actual, op);
      if (op.negated ? hit : !hit) why.push(`${opName} ${key} ${JSON.stringify(raw)} ${op.negated ? 'refuses' : 'does not admit'} ${actual}`);
    }
  }
  return why;
}

/** The statement with each excluding condition widened to admit the request (a value added, or one removed). */
function admit(st: Statement, request: PodIdentityRequest): Statement {
  const conditions = conditionsOf(st);
  const out: Record<string, Record<string, unknown>> = {};
  for (const [opName, keys] of Object.entries(conditions)) {
    const op = operatorOf(opName);
    const kept: Record<string, unknown> = {};
    for (const [key, raw] of Object.entries(keys)) {
      const actual = op ? requestValue(key, request) : undefined;
      if (!op || actual === undefined) {
        kept[key] = raw;
        continue;
      }
      const values = list(raw);
      if (actual === null) {
        if (op.negated || op.ifExists) kept[key] = raw; // an absent tag passes these; a positive one cannot be met: dropped
        continue;
      }
      const hit = matchesAny(values, actual, op);
      if (!op.negated) kept[key] = hit ? raw : [...values, actual];
      else {
        const left = values.filter((v) => !matchesAny([v], actual, op));
        if (left.length > 0) kept[key] = left.length === 1 ? left[0] : left;
      }
    }
    if (Object.keys(kept).length > 0) out[opName] = kept;
  }
  const { Condition: _drop, ...rest } = st;
  void _drop;
  return Object.keys(out).length > 0 ? { ...rest, Condition: out } : rest;
}

// ---------------------------------------------------------------------------------------------
// Permission policies keyed on session tags

const PRINCIPAL_TAG = /aws:PrincipalTag\/(kubernetes-[\w-]+|eks-cluster-[\w-]+)/gi;

/** The `aws:PrincipalTag/kubernetes-*` (and `eks-cluster-*`) keys a policy document uses, in conditions or `${…}` variables. */
export function principalTagsUsed(doc: PolicyDocument | null): string[] {
  if (doc === null) return [];
  return [...new Set([...JSON.stringify(doc).matchAll(PRINCIPAL_TAG)].map((m) => `aws:PrincipalTag/${m[1]}`))].sort();
}

// ---------------------------------------------------------------------------------------------
// IRSA statements

export interface IrsaUser {
  namespace: string;
  serviceAccount: string;
}

/** `StringEquals`/`StringLike` values of `<issuer>:<claim>` across a statement's conditions. */
function claimConditions(st: Statement, issuer: string, claim: 'sub' | 'aud'): { op: string; values: string[] }[] {
  const key = `${issuer}:${claim}`.toLowerCase();
  const out: { op: string; values: string[] }[] = [];
  for (const [op, keys] of Object.entries(conditionsOf(st))) {
    for (const [k, v] of Object.entries(keys)) if (k.toLowerCase() === key) out.push({ op, values: list(v) });
  }
  return out;
}

/** The IRSA statement narrowed to exactly these service accounts and the STS audience. */
export function narrowedIrsaStatement(st: Statement, issuer: string, users: readonly IrsaUser[]): Statement {
  const subs = [...new Set(users.map((u) => `system:serviceaccount:${u.namespace}:${u.serviceAccount}`))].sort();
  const conditions = conditionsOf(st);
  const out: Record<string, Record<string, unknown>> = {};
  for (const [op, keys] of Object.entries(conditions)) {
    const claims = [`${issuer}:sub`, `${issuer}:aud`].map((k) => k.toLowerCase());
    const kept = Object.fromEntries(Object.entries(keys).filter(([k]) => !claims.includes(k.toLowerCase())));
    if (Object.keys(kept).length > 0) out[op] = kept;
  }
  out['StringEquals'] = { ...(out['StringEquals'] ?? {}), [`${issuer}:sub`]: subs.length === 1 ? subs[0] : subs, [`${issuer}:aud`]: 'sts.amazonaws.com' };
  const { Condition: _drop, ...rest } = st;
  void _drop;
  return { ...rest, Condition: out };
}

/** IRSA statements of a role that admit any service account of their cluster, or any audience. */
export function lintIrsaStatements(role: InventoryRole, usersByIssuer: (issuer: string) => IrsaUser[]): (Issue & { issuer: string })[] {
  const trust = role.trustPolicy;
  if (trust === null) return [];
  const issues: (Issue & { issuer: string })[] = [];
  statementsOf(trust).forEach((st, index) => {
    const issuer = oidcIssuerOf(st);
    if (issuer === null) return;
    const users = usersByIssuer(issuer);
    const subs = claimConditions(st, issuer, 'sub');
    const wildcard = subs.length === 0 || subs.some(({ op, values }) => /like/i.test(op) && values.some((v) => /[*?]/.test(v)));
    const noAud = claimConditions(st, issuer, 'aud').length === 0;
    if (!wildcard && !noAud) return;
    if (users.length === 0) return; // nobody known to narrow it to: the fix could not name the subjects
    const fixed = replaceStatement(trust, index, narrowedIrsaStatement(st, issuer, users));
    const subjects = users.map((u) => `${u.namespace}/${u.serviceAccount}`).join(', ');
    if (wildcard) {
      issues.push({
        issuer,
        kind: 'irsa-wildcard-sub',
        severity: 'warning',
        summary: `${role.name}'s IRSA statement for ${issuer} admits ${subs.length === 0 ? 'any service account of the cluster (no sub condition)' : 'service accounts by wildcard'}: any pod that can name the role gets it`,
        evidence: `${sidOf(st, index)}: ${subs.length === 0 ? 'no sub condition' : subs.map(({ op, values }) => `${op} ${values.join(', ')}`).join('; ')}`,
        fix: {
          text: `narrow ${sidOf(st, index)} to the service accounts that use the role (${subjects}) with StringEquals on sub and aud`,
          commands: [updateTrustCommand(role, fixed)],
          document: fixed,
        },
      });
    }
    if (noAud) {
      issues.push({
        issuer,
        kind: 'irsa-no-aud',
        severity: 'warning',
        summary: `${role.name}'s IRSA statement for ${issuer} does not require the aud claim sts.amazonaws.com: a token minted for another audience is accepted`,
        evidence: `${sidOf(st, index)}: no ${issuer}:aud condition`,
        fix: {
          text: `add StringEquals ${issuer}:aud = sts.amazonaws.com to ${sidOf(st, index)}`,
          commands: [updateTrustCommand(role, fixed)],
          document: fixed,
        },
      });
    }
  });
  return issues;
}

/** The role's trust policy without its statements for `issuer`: the clean-up once the namespaces are READY. */
export function withoutIssuer(trust: PolicyDocument, issuer: string): { document: PolicyDocument; removed: string[] } {
  const statements = statementsOf(trust);
  const removed: string[] = [];
  const kept = statements.filter((st, i) => {
    if (oidcIssuerOf(st) !== issuer) return true;
    removed.push(sidOf(st, i));
    return false;
  });
  return { document: { ...trust, Version: trust['Version'] ?? '2012-10-17', Statement: kept }, removed };
}

// ---------------------------------------------------------------------------------------------

/** IAM-style wildcard match: `*` any run, `?` one character. */
export function glob(pattern: string, value: string, ignoreCase = false): boolean {
  const re = new RegExp(`^${pattern.split(/([*?])/).map((part) => (part === '*' ? '.*' : part === '?' ? '.' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`, ignoreCase ? 'is' : 's');
  return re.test(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
