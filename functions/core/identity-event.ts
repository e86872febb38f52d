/**
 * The normalized event: every CloudTrail record the project cares about becomes one of these.
 * Shapes and their public sources: test/fixtures/cloudtrail/SOURCES.md.
 */

export const EVENT_KINDS = ['pod-identity', 'pod-identity-fetch', 'irsa', 'node-role'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const OUTCOMES = ['success', 'denied', 'invalid-token', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * One credential-relevant call. Fields a record does not tell are `null`, never guessed.
 * Nothing here is secret: credentials and tokens in the record are never copied.
 */
export interface IdentityEvent {
  kind: EventKind;
  outcome: Outcome;
  /** CloudTrail `eventID`: the key replays are deduplicated on. */
  eventId: string;
  /** ISO 8601, UTC, as CloudTrail wrote it (`2024-04-16T09:20:04Z`). */
  eventTime: string;
  /** `recipientAccountId`, else the caller's account; placeholders such as `ACCOUNT_ID` are kept as-is. */
  account: string | null;
  region: string | null;
  cluster: string | null;
  clusterArn: string | null;
  /** IRSA only: the OIDC issuer host and path, e.g. `oidc.eks.us-west-2.amazonaws.com/id/ABC`. */
  oidcIssuer: string | null;
  namespace: string | null;
  serviceAccount: string | null;
  roleArn: string | null;
  podName: string | null;
  podUid: string | null;
  nodeInstanceId: string | null;
  nodeRoleArn: string | null;
  /** `service:EventName`, e.g. `sts:AssumeRoleWithWebIdentity`, `s3:ListBuckets`. */
  action: string;
  errorCode: string | null;
  /** `ec2RoleDelivery`: `1.0` means the credentials came through IMDSv1. */
  imdsVersion: string | null;
  /** Pod Identity only: true when the assume carried no session tags (`disableSessionTags`). */
  sessionTagsMissing: boolean | null;
  sourceIp: string | null;
  userAgent: string | null;
}

/** Why a record was left out. Out-of-scope records are counted, not rejected. */
export const SKIP_REASONS = ['out-of-scope', 'non-eks-web-identity', 'expected-node-traffic'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/**
 * Why a record was rejected. `too-long` and `bad-name` keep a value that would not fit a DynamoDB
 * key, or that Kubernetes/EKS/IAM would never have produced, from reaching the store;
 * `implausible-time` is an eventTime outside the window CloudTrail could have written.
 */
export const REJECT_REASONS = [
  'not-an-object',
  'missing-field',
  'wrong-type',
  'bad-value',
  'too-long',
  'bad-name',
  'implausible-time',
  'conflicting-tags',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type Normalized =
  | { status: 'event'; event: IdentityEvent }
  | { status: 'skipped'; reason: SkipReason }
  | { status: 'rejected'; reason: RejectReason; field: string | null; detail: string };

/**
 * The fields whose values recur from event to event: where it ran (account, cluster, namespace…),
 * who and how. What a run holding a batch of events shares (core/string-pool).
 */
export const RECURRING_EVENT_FIELDS = [
  'account', 'region', 'cluster', 'clusterArn', 'oidcIssuer', 'namespace', 'serviceAccount', 'roleArn',
  'nodeInstanceId', 'nodeRoleArn', 'action', 'errorCode', 'imdsVersion', 'sourceIp', 'userAgent',
] as const satisfies readonly (keyof IdentityEvent)[];
