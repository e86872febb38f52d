import type { Alert } from '../../functions/core/alert';

/**
 * An alert as the detections raise it, the n-th of a run: its own id and key, first seen n minutes
 * into the hour (so that n orders them), the rest the same.
 */
export function numberedAlert(n: number, over: Partial<Alert> = {}): Alert {
  return {
    id: `node-role-fallthrough:${String(n).padStart(16, '0')}`,
    detection: 'node-role-fallthrough',
    severity: 'high',
    key: `arn:aws:iam::111122223333:role/eks-node|s3:GetObject|${n}`,
    window: '2026-11-20T18:00:00.000Z',
    cluster: 'payments-prod',
    clusterArn: 'arn:aws:eks:us-east-1:111122223333:cluster/payments-prod',
    oidcIssuer: null,
    namespace: null,
    serviceAccount: null,
    roleArn: null,
    nodeRoleArn: 'arn:aws:iam::111122223333:role/eks-node',
    nodeInstanceId: 'i-0abc1234def567890',
    action: 's3:GetObject',
    count: 1,
    firstEventTime: `2026-11-20T21:${String(n).padStart(2, '0')}:00Z`,
    lastEventTime: '2026-11-20T22:03:00Z',
    sampleEventIds: [],
    summary: 's3:GetObject called with the instance role of i-0abc1234def567890',
    likelyCause: 'a pod fell back to the node role through IMDS',
    nextStep: 'find the pod on i-0abc1234def567890',
    raisedAt: '2026-11-20T22:05:00Z',
    ...over,
  };
}
