import type { IdentityEvent } from '../../functions/core/identity-event';

/** The fields a record of one kind or another may not tell: all `null` until a kind's parser fills them (normalize's `common`). */
export const UNTOLD = {
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
} as const satisfies Partial<IdentityEvent>;

/** An IdentityEvent with every field present: what a record does not tell is null, as the normalizer leaves it. */
export function identityEvent(kind: IdentityEvent['kind'], fields: Partial<IdentityEvent> = {}): IdentityEvent {
  return {
    kind,
    outcome: 'success',
    eventId: 'e-1',
    eventTime: '2024-05-15T09:00:00Z',
    account: '111122223333',
    region: 'us-east-1',
    ...UNTOLD,
    action: 'sts:AssumeRole',
    errorCode: null,
    sourceIp: null,
    userAgent: null,
    ...fields,
  };
}

/** An IRSA assume of shop/cart at `eventTime` (issuer ABCDEF in 111122223333, us-east-1), as a trail's log file has it. */
export function irsaTrailRecord(eventTime: string, eventID: string): Record<string, unknown> {
  return {
    eventVersion: '1.08',
    userIdentity: { type: 'WebIdentityUser', userName: 'system:serviceaccount:shop:cart', identityProvider: 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF' },
    eventTime,
    eventSource: 'sts.amazonaws.com',
    eventName: 'AssumeRoleWithWebIdentity',
    awsRegion: 'us-east-1',
    requestParameters: { roleArn: 'arn:aws:iam::111122223333:role/cart', roleSessionName: 'cart-1' },
    eventID,
    eventType: 'AwsApiCall',
    recipientAccountId: '111122223333',
  };
}
