import type { IdentityEvent } from './identity-event';

/**
 * Names and keys more than one part of the core builds from an event: the evidence (spike
 * counters), the detections (alert keys, windows) and the verdicts (role names). Here, so those
 * modules need not import one another.
 */

/** `arn:aws:iam::111122223333:role/path/name` → `name`. */
export const roleName = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);

/** Access failures only: a throttled or failing service (`error`) says nothing about a trust policy. */
export function spikeKeyOf(e: IdentityEvent): string | null {
  if (e.outcome !== 'denied' && e.outcome !== 'invalid-token') return null;
  switch (e.kind) {
    case 'pod-identity-fetch':
      return `fetch|${e.clusterArn}|${e.nodeInstanceId}`;
    case 'irsa':
      return `irsa|${e.oidcIssuer}|${e.namespace}|${e.serviceAccount}|${e.roleArn}`;
    case 'node-role':
      return `node|${e.nodeRoleArn}|${e.nodeInstanceId}`;
    default:
      return null;
  }
}

/** The start of the fixed window (aligned on the epoch) an event falls in, as ISO 8601. */
export function windowStart(eventTime: string, minutes: number): string {
  const size = minutes * 60_000;
  return new Date(Math.floor(Date.parse(eventTime) / size) * size).toISOString();
}

