import { type IdentityEvent, type Normalized, type Outcome, type RejectReason, type SkipReason } from './identity-event';
import type { NodeRoleMatcher } from './node-roles';
import { isoTime as iso } from './iso-time';

/**
 * One CloudTrail record → one IdentityEvent, a skip (out of scope) or a typed rejection. Never throws.
 *
 * Which record is which (docs/cloudtrail.md §0):
 * - `sts:AssumeRole` invoked by `pods.eks.amazonaws.com` → `pod-identity` (session tags name the pod);
 * - `eks-auth:AssumeRoleForPodIdentity` → `pod-identity-fetch` (made by the node role; `responseElements: null`);
 * - `sts:AssumeRoleWithWebIdentity` through an EKS OIDC issuer → `irsa`;
 * - any other call with a node role's instance credentials, outside expected node traffic → `node-role`.
 */
export function normalizeRecord(record: unknown, nodeRoles: NodeRoleMatcher, options: NormalizeOptions): Normalized {
  if (!isObject(record)) return reject('not-an-object', null, `expected a JSON object, got ${typeOf(record)}`);
  const r = new Fields(record, options);
  try {
    const eventSource = r.requiredString('eventSource');
    const eventName = r.requiredString('eventName');
    const identity = r.object('userIdentity');

    switch (identityCallKind(eventSource, eventName, identity?.['invokedBy'])) {
      case 'pod-identity':
        return podIdentity(r);
      case 'pod-identity-fetch':
        return podIdentityFetch(r);
      case 'irsa':
        return irsa(r);
    }

    const nodeRole = instanceRoleOf(r);
    if (nodeRole === null || !nodeRoles.isNodeRole(nodeRole.roleArn)) return skip('out-of-scope');
    if (nodeRoles.isExpectedNodeCall(eventSource, eventName)) return skip('expected-node-traffic');
    const e = common(r, 'node-role');
    e.nodeRoleArn = checked('userIdentity.sessionContext.sessionIssuer.arn', nodeRole.roleArn, IAM_ROLE_ARN);
    e.nodeInstanceId = nodeRole.instanceId;
    e.imdsVersion = nodeRole.imdsVersion;
    return event(e);
  } catch (e) {
    if (e instanceof FieldError) return reject(e.reason, e.field, e.message);
    throw e;
  }
}

/**
 * Which identity call a record is by its source, name and `userIdentity.invokedBy`: the kinds
 * normalizeRecord reads without the node roles. null for any other record, which is a node-role
 * call or out of scope depending on the roles (any other AssumeRole falls through: made with a
 * node role's instance credentials it is fallthrough).
 */
export function identityCallKind(eventSource: unknown, eventName: unknown, invokedBy: unknown): 'pod-identity' | 'pod-identity-fetch' | 'irsa' | null {
  if (eventSource === 'sts.amazonaws.com') {
    if (eventName === 'AssumeRole') return invokedBy === 'pods.eks.amazonaws.com' ? 'pod-identity' : null;
    return eventName === 'AssumeRoleWithWebIdentity' ? 'irsa' : null;
  }
  return eventSource === 'eks-auth.amazonaws.com' && eventName === 'AssumeRoleForPodIdentity' ? 'pod-identity-fetch' : null;
}

export interface NormalizeOptions {
  /** The caller's clock (the core reads none): eventTimes after it, plus the window's slack, are rejected. */
  now: Date;
  eventTimeWindow?: Partial<EventTimeWindow>;
}

/** Which eventTimes are plausible: CloudTrail cannot have written a record outside this. */
export interface EventTimeWindow {
  /** Earliest accepted eventTime. @default 2014-01-01T00:00:00Z (older than any EKS or Pod Identity record) */
  notBefore: Date;
  /** How far after `now` a record may be dated (clock skew between hosts). @default 1 day */
  futureSlackMs: number;
}

export const DEFAULT_EVENT_TIME_WINDOW: EventTimeWindow = {
  notBefore: new Date(Date.UTC(2014, 0, 1)),
  futureSlackMs: 24 * 60 * 60 * 1000,
};

/** The window `options` normalize with: theirs, the defaults for what they leave out. */
export function eventTimeWindowOf(options: NormalizeOptions): EventTimeWindow {
  return { ...DEFAULT_EVENT_TIME_WINDOW, ...options.eventTimeWindow };
}

/** Session tag keys EKS Pod Identity adds (EKS user guide, "List of session tags added by EKS Pod Identity"). */
const TAG = {
  clusterArn: 'eks-cluster-arn',
  clusterName: 'eks-cluster-name',
  namespace: 'kubernetes-namespace',
  serviceAccount: 'kubernetes-service-account',
  podName: 'kubernetes-pod-name',
  podUid: 'kubernetes-pod-uid',
} as const;

function podIdentity(r: Fields): Normalized {
  const base = common(r, 'pod-identity');
  const tags = sessionTags(r);
  const tag = (key: string, rule: NameRule): string | null => {
    const value = tags.get(key);
    return value === undefined ? null : checked(`requestParameters.tags.${key}`, value, rule);
  };
  const clusterArn = tag(TAG.clusterArn, EKS_CLUSTER_ARN);
  base.roleArn = roleArnAt(r, 'requestParameters', 'roleArn');
  base.cluster = tag(TAG.clusterName, EKS_CLUSTER_NAME) ?? clusterNameFromArn(clusterArn);
  base.clusterArn = clusterArn;
  base.namespace = tag(TAG.namespace, K8S_NAMESPACE);
  base.serviceAccount = tag(TAG.serviceAccount, K8S_SERVICE_ACCOUNT);
  base.podName = tag(TAG.podName, K8S_POD_NAME);
  base.podUid = tag(TAG.podUid, K8S_UID);
  // Associations with disableSessionTags carry no tags at all, so nothing ties the assume to a pod.
  base.sessionTagsMissing = tags.size === 0;
  return event(base);
}

function podIdentityFetch(r: Fields): Normalized {
  const base = common(r, 'pod-identity-fetch');
  const clusterName = r.optionalString('requestParameters', 'clusterName');
  const cluster = clusterName === null ? null : checked('requestParameters.clusterName', clusterName, EKS_CLUSTER_NAME);
  const node = instanceRoleOf(r);
  if (node !== null) checked('userIdentity.sessionContext.sessionIssuer.arn', node.roleArn, IAM_ROLE_ARN);
  base.cluster = cluster;
  // The record names the cluster but not its ARN; the caller's account and region complete it.
  base.clusterArn = cluster && base.account && base.region ? clusterArnOf(base.region, base.account, cluster) : null;
  base.nodeRoleArn = node?.roleArn ?? null;
  base.nodeInstanceId = node?.instanceId ?? null;
  base.imdsVersion = node?.imdsVersion ?? null;
  return event(base);
}

/**
 * `oidc.eks.<region>.amazonaws.com/id/<ID>` (and `.amazonaws.com.cn` in China). EKS issues 32-hex IDs;
 * the bounds only keep a forged one short enough for a key.
 */
const EKS_ISSUER = /^oidc\.eks\.[a-z0-9-]{1,32}\.amazonaws\.com(\.cn)?\/id\/[A-Za-z0-9]{1,64}$/;
const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([^:]*):([^:]*)$/;

function irsa(r: Fields): Normalized {
  const provider =
    r.optionalString('userIdentity', 'identityProvider') ??
    r.optionalString('responseElements', 'provider') ??
    providerFromPrincipal(r.descriptiveString('userIdentity', 'principalId'));
  const issuer = provider === null ? null : issuerOf(provider);
  // GitHub Actions, Cognito, Google and self-managed Kubernetes issuers are not EKS: out of scope, not misfiled.
  if (issuer === null || !EKS_ISSUER.test(issuer)) return skip('non-eks-web-identity');
  const base = common(r, 'irsa');
  // An EKS issuer only signs tokens for service accounts: anything else is forged or corrupt, and
  // evidence without a namespace would be filed under a made-up one.
  const fromUser = r.optionalString('userIdentity', 'userName');
  const subjectField = fromUser !== null ? 'userIdentity.userName' : 'responseElements.subjectFromWebIdentityToken';
  const subject = fromUser ?? r.optionalString('responseElements', 'subjectFromWebIdentityToken');
  if (subject === null) throw new FieldError('missing-field', 'userIdentity.userName', 'userIdentity.userName (the IRSA subject system:serviceaccount:NS:SA) is missing');
  const sa = SERVICE_ACCOUNT_SUBJECT.exec(subject);
  if (sa === null) {
    throw new FieldError('bad-value', subjectField, `${subjectField} is not system:serviceaccount:NAMESPACE:NAME: ${quote(subject)}`);
  }
  base.oidcIssuer = issuer;
  base.roleArn = roleArnAt(r, 'requestParameters', 'roleArn');
  base.namespace = checked(`${subjectField} (namespace)`, sa[1] ?? '', K8S_NAMESPACE);
  base.serviceAccount = checked(`${subjectField} (service account)`, sa[2] ?? '', K8S_SERVICE_ACCOUNT);
  return event(base);
}

/** `principalId` is `<provider ARN>:<audience>:<subject>` (docs/cloudtrail.md §2a, SEEN [ARGO]). */
function providerFromPrincipal(principalId: string | null): string | null {
  if (principalId === null) return null;
  const match = /^(arn:[^:]+:iam::[^:]*:oidc-provider\/[^:]+):/.exec(principalId);
  return match?.[1] ?? null;
}

/** `arn:aws:iam::ACCT:oidc-provider/oidc.eks.r.amazonaws.com/id/X` or `https://oidc.eks…` → `oidc.eks…/id/X`. */
export function issuerOf(provider: string): string {
  const marker = ':oidc-provider/';
  const at = provider.indexOf(marker);
  const bare = at >= 0 ? provider.slice(at + marker.length) : provider.replace(/^https:\/\//, '');
  return bare.replace(/\/+$/, '');
}

/** Instance credentials: an assumed-role session named after an EC2 instance, delivered through IMDS. */
function instanceRoleOf(r: Fields): { roleArn: string; instanceId: string | null; imdsVersion: string | null } | null {
  if (r.optionalString('userIdentity', 'type') !== 'AssumedRole') return null;
  const roleArn = r.optionalString('userIdentity', 'sessionContext', 'sessionIssuer', 'arn');
  if (roleArn === null) return null;
  const sessionArn = r.optionalString('userIdentity', 'arn');
  const sessionName = sessionArn === null ? null : sessionArn.slice(sessionArn.lastIndexOf('/') + 1);
  const instanceId = sessionName !== null && /^i-[0-9a-f]{8,17}$/.test(sessionName) ? sessionName : null;
  // ec2RoleDelivery is the definite mark (CloudTrail userIdentity reference); records from before it
  // existed still name the session after the instance.
  const imdsVersion = r.descriptiveString('userIdentity', 'sessionContext', 'ec2RoleDelivery');
  if (imdsVersion === null && instanceId === null) return null;
  return { roleArn, instanceId, imdsVersion };
}

function sessionTags(r: Fields): Map<string, string> {
  const tags = new Map<string, string>();
  const list = r.at('requestParameters', 'tags');
  if (!Array.isArray(list)) return tags;
  for (const tag of list) {
    if (!isObject(tag)) continue;
    const key = tag['key'] ?? tag['Key'];
    const value = tag['value'] ?? tag['Value'];
    if (typeof key !== 'string' || typeof value !== 'string') continue;
    const before = tags.get(key);
    // STS refuses duplicate keys, so two values can only be forged; taking either would be a guess.
    if (before !== undefined && before !== value) {
      throw new FieldError('conflicting-tags', `requestParameters.tags.${clip(key)}`, `session tag ${quote(key)} is given twice with different values: ${quote(before)} and ${quote(value)}`);
    }
    tags.set(key, value);
  }
  return tags;
}

/**
 * The fields every kind reads, the others null, for the kind's parser to fill in place:
 * one object in the order EventColumnsReader gives every field, so that every event has one hidden
 * class. Spread into a new object per kind (`{ ...common(r), cluster, … }`), each kind's events got
 * a class of their own, apart from the reading thread's, and code optimized for the events met so
 * far was thrown away at the first of another kind (V8's "wrong map"), then optimized again:
 * functions that read events were optimized up to 14 times in a fleet run, the optimizing compiler
 * ~14 % of analyze's CPU (docs/PERFORMANCE.md, "V8's own threads").
 */
function common(r: Fields, kind: IdentityEvent['kind']): IdentityEvent {
  const eventSource = checked('eventSource', r.requiredString('eventSource'), EVENT_SOURCE);
  const eventName = checked('eventName', r.requiredString('eventName'), EVENT_NAME);
  const eventId = checked('eventID', r.requiredString('eventID'), EVENT_ID);
  const eventTime = plausibleTime(r.requiredString('eventTime'), r.options);
  const errorCode = r.optionalString('errorCode');
  if (errorCode !== null) checked('errorCode', errorCode, ERROR_CODE);
  const recipient = r.optionalString('recipientAccountId');
  const account = recipient ?? r.optionalString('userIdentity', 'accountId');
  const region = r.optionalString('awsRegion');
  return {
    kind,
    outcome: outcomeOf(errorCode),
    eventId,
    eventTime,
    account: account === null ? null : checked(recipient !== null ? 'recipientAccountId' : 'userIdentity.accountId', account, ACCOUNT),
    region: region === null ? null : checked('awsRegion', region, REGION),
    cluster: null,
    clusterArn: null,
    oidcIssuer: null,
    namespace: null,
    serviceAccount: null,
    roleArn: null,
    podName: null,
    podUid: null,
    nodeInstanceId: null,
    nodeRoleArn: null,
    imdsVersion: null,
    sessionTagsMissing: null,
    action: `${eventSource.replace(/\.amazonaws\.com$/, '')}:${eventName}`,
    errorCode,
    sourceIp: describing(r.descriptiveString('sourceIPAddress')),
    userAgent: describing(r.descriptiveString('userAgent')),
  };
}

/**
 * CloudTrail writes `2024-04-16T09:20:04Z`; offsets are converted. The date is checked field by
 * field, because `Date.parse` rolls Feb 30 over into March and reads year 0000; and the instant
 * must fall in the window, or a record dated 2099 would stay "latest IRSA use" forever.
 */
const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2}))$/;

function plausibleTime(text: string, options: NormalizeOptions): string {
  // CloudTrail's own form (every record of a trail): read without a regular expression, and the
  // text is its own canonical form. Anything else, valid or not, takes the general path.
  const canonical = canonicalMillis(text);
  const millis = Number.isNaN(canonical) ? zonedMillis(text) : canonical;
  const window = eventTimeWindowOf(options);
  const latest = options.now.getTime() + window.futureSlackMs;
  if (millis < window.notBefore.getTime() || millis > latest) {
    throw new FieldError(
      'implausible-time',
      'eventTime',
      `eventTime ${quote(text)} is outside ${iso(window.notBefore.getTime())} … ${iso(latest)} (not before the window's start, not after now + ${window.futureSlackMs / 3_600_000} h)`,
    );
  }
  return Number.isNaN(canonical) ? iso(millis) : text;
}

/** The instant of any ISO 8601 time with a zone (a record from elsewhere than a trail); throws naming what is wrong. */
function zonedMillis(text: string): number {
  const m = ISO_WITH_ZONE.exec(text);
  const bad = (why: string) => new FieldError('bad-value', 'eventTime', `eventTime is not ${why}: ${quote(text)}`);
  if (m === null) throw bad('a timestamp with a time zone (YYYY-MM-DDTHH:MM:SSZ)');
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  const offsetMinutes = m[9] === undefined ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw bad('a real calendar date');
  if (hour > 23 || minute > 59 || second > 59 || Math.abs(offsetMinutes) > 14 * 60 || Number(m[11] ?? 0) > 59) throw bad('a real time of day');
  const millisPart = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  // Date.UTC maps years 0-99 to 1900-1999; the window rejects those years anyway.
  return Date.UTC(year, month - 1, day, hour, minute, second, millisPart) - offsetMinutes * 60_000;
}

/** `YYYY-MM-DDTHH:MM:SSZ` with a real date and time from year 1000 on (where it is `iso` of its instant): that instant; else NaN. */
function canonicalMillis(t: string): number {
  if (t.length !== 20 || t.charCodeAt(4) !== 0x2d || t.charCodeAt(7) !== 0x2d || t.charCodeAt(10) !== 0x54 || t.charCodeAt(13) !== 0x3a || t.charCodeAt(16) !== 0x3a || t.charCodeAt(19) !== 0x5a) return NaN;
  const year = digits(t, 0, 4);
  const month = digits(t, 5, 2);
  const day = digits(t, 8, 2);
  const hour = digits(t, 11, 2);
  const minute = digits(t, 14, 2);
  const second = digits(t, 17, 2);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** The number the `length` decimal digits at `from` make; -1 when one is not a digit. */
function digits(t: string, from: number, length: number): number {
  let n = 0;
  for (let i = from; i < from + length; i += 1) {
    const c = t.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}


function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * What names and ids may look like. The upper bounds are what Kubernetes, EKS and IAM allow;
 * they also keep every key built from them within DynamoDB's limits (partition key ≤ 2048 bytes,
 * sort key ≤ 1024 bytes: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-partition-sort-keys),
 * e.g. `FETCH#<node role ARN>` or `SA#<namespace>#<service account>`. A name cannot contain the
 * `#` that separates key parts, so two identities can never share a key.
 */
interface NameRule {
  what: string;
  max: number;
  pattern: RegExp;
}

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
/** Kubernetes: namespace names are RFC 1123 labels. */
const K8S_NAMESPACE: NameRule = { what: 'a Kubernetes namespace name (RFC 1123 label)', max: 63, pattern: new RegExp(`^${DNS_LABEL}$`) };
/** Kubernetes: service account and pod names are RFC 1123 subdomains. */
const K8S_SERVICE_ACCOUNT: NameRule = { what: 'a Kubernetes service account name (RFC 1123 subdomain)', max: 253, pattern: new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`) };
const K8S_POD_NAME: NameRule = { ...K8S_SERVICE_ACCOUNT, what: 'a Kubernetes pod name (RFC 1123 subdomain)' };
const K8S_UID: NameRule = { what: 'a Kubernetes UID', max: 64, pattern: /^[A-Za-z0-9-]+$/ };
/** EKS CreateCluster: `^[0-9A-Za-z][A-Za-z0-9\-_]*`, 1 to 100 characters. */
const EKS_CLUSTER_NAME: NameRule = { what: 'an EKS cluster name', max: 100, pattern: /^[0-9A-Za-z][A-Za-z0-9_-]*$/ };
const PARTITION = '[a-z][a-z0-9-]{0,31}';
/** Placeholders such as `ACCOUNT_ID` appear in public samples and are kept, like real 12-digit ids. */
const ACCOUNT_ID = '[A-Za-z0-9_-]{1,32}';
const EKS_CLUSTER_ARN: NameRule = {
  what: 'an EKS cluster ARN',
  max: 2048,
  pattern: new RegExp(`^arn:${PARTITION}:eks:[a-z0-9-]{1,32}:${ACCOUNT_ID}:cluster/[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`),
};
/** IAM: role path up to 512 characters, name up to 64, both printable ASCII. */
const IAM_ROLE_ARN: NameRule = {
  what: 'an IAM role ARN',
  max: 2048,
  pattern: new RegExp(`^arn:${PARTITION}:iam::${ACCOUNT_ID}:role/[\\x21-\\x7e]{1,576}$`),
};
const ACCOUNT: NameRule = { what: 'an AWS account id', max: 32, pattern: new RegExp(`^${ACCOUNT_ID}$`) };
const REGION: NameRule = { what: 'an AWS region', max: 32, pattern: /^[a-z0-9-]+$/ };
const EVENT_SOURCE: NameRule = { what: 'a CloudTrail event source', max: 128, pattern: /^[a-z0-9][a-z0-9.-]*$/ };
const EVENT_NAME: NameRule = { what: 'a CloudTrail event name', max: 128, pattern: /^[\x21-\x7e]+$/ };
/** CloudTrail writes UUIDs; anything printable up to 128 characters is accepted. */
const EVENT_ID: NameRule = { what: 'a CloudTrail event id (printable, no control characters)', max: 128, pattern: /^[^\u0000-\u001f\u007f-\u009f]+$/ };
const ERROR_CODE: NameRule = { what: 'an error code', max: 128, pattern: /^[\x20-\x7e]+$/ };

function checked(field: string, value: string, rule: NameRule): string {
  if (value.length > rule.max) {
    throw new FieldError('too-long', field, `${field} is ${value.length} characters, longer than ${rule.max} for ${rule.what}: ${quote(value)}`);
  }
  if (!rule.pattern.test(value)) throw new FieldError('bad-name', field, `${field} is not ${rule.what}: ${quote(value)}`);
  return value;
}

function roleArnAt(r: Fields, ...path: string[]): string | null {
  const value = r.optionalString(...path);
  return value === null ? null : checked(path.join('.'), value, IAM_ROLE_ARN);
}

/** Descriptive fields (user agent, source IP) are kept, but no longer than an item can afford. */
const DESCRIPTIVE_MAX = 1024;
const describing = (value: string | null): string | null =>
  value === null || value.length <= DESCRIPTIVE_MAX ? value : `${value.slice(0, DESCRIPTIVE_MAX - 1)}…`;

/** A value quoted for a one-line message: JSON escapes control characters; a long one is cut. */
function quote(value: string): string {
  return JSON.stringify(clip(value)).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function clip(value: string): string {
  return value.length <= 80 ? value : `${value.slice(0, 60)}…(${value.length} characters)`;
}

/**
 * CloudTrail writes `AccessDenied` for eks-auth although the API error is `AccessDeniedException`
 * (docs/cloudtrail.md §1a), and other services use `UnauthorizedOperation`; all are denials.
 */
export function outcomeOf(errorCode: string | null): Outcome {
  if (errorCode === null || errorCode === '') return 'success';
  const code = errorCode.replace(/^Client\./, '');
  if (/^(AccessDenied|UnauthorizedOperation|Unauthorized|Forbidden)/i.test(code) || /AccessDenied/i.test(code)) return 'denied';
  if (/^(InvalidIdentityToken|ExpiredToken|InvalidToken|IDPRejectedClaim|IDPCommunicationError)/i.test(code)) return 'invalid-token';
  return 'error';
}

export function clusterArnOf(region: string, account: string, cluster: string): string {
  return `arn:${partitionOf(region)}:eks:${region}:${account}:cluster/${cluster}`;
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function clusterNameFromArn(arn: string | null): string | null {
  return arn === null ? null : (/:cluster\/(.+)$/.exec(arn)?.[1] ?? null);
}

const event = (e: IdentityEvent): Normalized => ({ status: 'event', event: e });
const skip = (reason: SkipReason): Normalized => ({ status: 'skipped', reason });
const reject = (reason: RejectReason, field: string | null, detail: string): Normalized => ({
  status: 'rejected',
  reason,
  field,
  detail,
});

class FieldError extends Error {
  constructor(
    readonly reason: RejectReason,
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'FieldError';
  }
}

/** Typed, tolerant access: absent or null is `null`; present with the wrong type is a rejection. */
class Fields {
  constructor(
    private readonly record: Record<string, unknown>,
    readonly options: NormalizeOptions,
  ) {}

  at(...path: string[]): unknown {
    let value: unknown = this.record;
    for (const key of path) {
      if (!isObject(value)) return undefined;
      value = value[key];
    }
    return value;
  }

  object(...path: string[]): Record<string, unknown> | null {
    const value = this.at(...path);
    return isObject(value) ? value : null;
  }

  optionalString(...path: string[]): string | null {
    const value = this.at(...path);
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') {
      throw new FieldError('wrong-type', path.join('.'), `${path.join('.')} should be a string, got ${typeOf(value)}`);
    }
    return value;
  }

  /** Fields that only describe (user agent, source IP): a wrong type loses the field, not the record. */
  descriptiveString(...path: string[]): string | null {
    const value = this.at(...path);
    return typeof value === 'string' ? value : null;
  }

  requiredString(...path: string[]): string {
    const value = this.optionalString(...path);
    if (value === null || value === '') throw new FieldError('missing-field', path.join('.'), `${path.join('.')} is missing`);
    return value;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
