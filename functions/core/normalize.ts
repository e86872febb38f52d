import { UNTOLD, type IdentityEvent, type Normalized, type Outcome, type RejectReason, type SkipReason } from './identity-event';
import type { NodeRoleMatcher } from './node-roles';

/**
 * One CloudTrail record → one IdentityEvent, a skip (out of scope) or a typed rejection. Never throws.
 *
 * Which record is which (CLOUDTRAIL.md §0):
 * - `sts:AssumeRole` invoked by `pods.eks.amazonaws.com` → `pod-identity` (session tags name the pod);
 * - `eks-auth:AssumeRoleForPodIdentity` → `pod-identity-fetch` (made by the node role; `responseElements: null`);
 * - `sts:AssumeRoleWithWebIdentity` through an EKS OIDC issuer → `irsa`;
 * - any other call with a node role's instance credentials, outside expected node traffic → `node-role`.
 */
export function normalizeRecord(record: unknown, nodeRoles: NodeRoleMatcher): Normalized {
  if (!isObject(record)) return reject('not-an-object', null, `expected a JSON object, got ${typeOf(record)}`);
  const r = new Fields(record);
  try {
    const eventSource = r.requiredString('eventSource');
    const eventName = r.requiredString('eventName');
    const identity = r.object('userIdentity');

    // Any other AssumeRole falls through: made with a node role's instance credentials it is fallthrough.
    if (eventSource === 'sts.amazonaws.com' && eventName === 'AssumeRole' && identity?.['invokedBy'] === 'pods.eks.amazonaws.com') {
      return podIdentity(r);
    }
    if (eventSource === 'eks-auth.amazonaws.com' && eventName === 'AssumeRoleForPodIdentity') return podIdentityFetch(r);
    if (eventSource === 'sts.amazonaws.com' && eventName === 'AssumeRoleWithWebIdentity') return irsa(r);

    const nodeRole = instanceRoleOf(r);
    if (nodeRole === null || !nodeRoles.isNodeRole(nodeRole.roleArn)) return skip('out-of-scope');
    if (nodeRoles.isExpectedNodeCall(eventSource, eventName)) return skip('expected-node-traffic');
    return event({
      ...common(r, 'node-role'),
      nodeRoleArn: nodeRole.roleArn,
      nodeInstanceId: nodeRole.instanceId,
      imdsVersion: nodeRole.imdsVersion,
    });
  } catch (e) {
    if (e instanceof FieldError) return reject(e.reason, e.field, e.message);
    throw e;
  }
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
  const tags = sessionTags(r);
  const clusterArn = tags.get(TAG.clusterArn) ?? null;
  return event({
    ...common(r, 'pod-identity'),
    roleArn: r.optionalString('requestParameters', 'roleArn'),
    cluster: tags.get(TAG.clusterName) ?? clusterNameFromArn(clusterArn),
    clusterArn,
    namespace: tags.get(TAG.namespace) ?? null,
    serviceAccount: tags.get(TAG.serviceAccount) ?? null,
    podName: tags.get(TAG.podName) ?? null,
    podUid: tags.get(TAG.podUid) ?? null,
    // Associations with disableSessionTags carry no tags at all, so nothing ties the assume to a pod.
    sessionTagsMissing: tags.size === 0,
  });
}

function podIdentityFetch(r: Fields): Normalized {
  const cluster = r.optionalString('requestParameters', 'clusterName');
  const base = common(r, 'pod-identity-fetch');
  const node = instanceRoleOf(r);
  return event({
    ...base,
    cluster,
    // The record names the cluster but not its ARN; the caller's account and region complete it.
    clusterArn: cluster && base.account && base.region ? clusterArnOf(base.region, base.account, cluster) : null,
    nodeRoleArn: node?.roleArn ?? null,
    nodeInstanceId: node?.instanceId ?? null,
    imdsVersion: node?.imdsVersion ?? null,
  });
}

/** `oidc.eks.<region>.amazonaws.com/id/<ID>` (and `.amazonaws.com.cn` in China). */
const EKS_ISSUER = /^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/id\/[A-Za-z0-9]+$/;
const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

function irsa(r: Fields): Normalized {
  const provider =
    r.optionalString('userIdentity', 'identityProvider') ??
    r.optionalString('responseElements', 'provider') ??
    providerFromPrincipal(r.descriptiveString('userIdentity', 'principalId'));
  const issuer = provider === null ? null : issuerOf(provider);
  // GitHub Actions, Cognito, Google and self-managed Kubernetes issuers are not EKS: out of scope, not misfiled.
  if (issuer === null || !EKS_ISSUER.test(issuer)) return skip('non-eks-web-identity');
  const subject =
    r.optionalString('userIdentity', 'userName') ?? r.optionalString('responseElements', 'subjectFromWebIdentityToken');
  const sa = subject === null ? null : SERVICE_ACCOUNT_SUBJECT.exec(subject);
  return event({
    ...common(r, 'irsa'),
    oidcIssuer: issuer,
    roleArn: r.optionalString('requestParameters', 'roleArn'),
    namespace: sa?.[1] ?? null,
    serviceAccount: sa?.[2] ?? null,
  });
}

/** `principalId` is `<provider ARN>:<audience>:<subject>` (CLOUDTRAIL.md §2a, SEEN [ARGO]). */
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
    if (typeof key === 'string' && typeof value === 'string') tags.set(key, value);
  }
  return tags;
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function common(r: Fields, kind: IdentityEvent['kind']): IdentityEvent {
  const eventSource = r.requiredString('eventSource');
  const eventId = r.requiredString('eventID');
  const eventTime = r.requiredString('eventTime');
  // CloudTrail writes UTC with a Z; a time without a zone would be read in the machine's zone.
  const millis = ISO_WITH_ZONE.test(eventTime) ? Date.parse(eventTime) : Number.NaN;
  if (Number.isNaN(millis)) throw new FieldError('bad-value', 'eventTime', `eventTime is not a timestamp: ${JSON.stringify(eventTime)}`);
  const errorCode = r.optionalString('errorCode');
  return {
    kind,
    outcome: outcomeOf(errorCode),
    eventId,
    eventTime: new Date(millis).toISOString().replace('.000Z', 'Z'),
    account: r.optionalString('recipientAccountId') ?? r.optionalString('userIdentity', 'accountId'),
    region: r.optionalString('awsRegion'),
    ...UNTOLD,
    action: `${eventSource.replace(/\.amazonaws\.com$/, '')}:${r.requiredString('eventName')}`,
    errorCode,
    sourceIp: r.descriptiveString('sourceIPAddress'),
    userAgent: r.descriptiveString('userAgent'),
  };
}

/**
 * CloudTrail writes `AccessDenied` for eks-auth although the API error is `AccessDeniedException`
 * (CLOUDTRAIL.md §1a), and other services use `UnauthorizedOperation`; all are denials.
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
  constructor(private readonly record: Record<string, unknown>) {}

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
