import type { Owner } from './policy';

/**
 * The one alert model every detection produces and every sink (terminal, alerts.jsonl, SNS,
 * Slack) renders. An alert is identified by (detection, key, window): the same finding raised
 * again — a replay, a retried batch, a second event in the same window — is the same alert.
 */
export const DETECTIONS = [
  'unexpected-namespace',
  'access-denied-spike',
  'node-role-fallthrough',
  'irsa-regression',
  'irsa-after-association',
] as const;
export type Detection = (typeof DETECTIONS)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Alert {
  /** Stable id derived from (detection, key, window): equal findings share it. */
  id: string;
  detection: Detection;
  severity: Severity;
  /** What the alert is about, as a string the id is derived from (e.g. `cluster|namespace|sa|role`). */
  key: string;
  /** The dedup window: a window start (ISO), a UTC day, or `first-seen`. */
  window: string;
  cluster: string | null;
  clusterArn: string | null;
  oidcIssuer: string | null;
  namespace: string | null;
  serviceAccount: string | null;
  roleArn: string | null;
  nodeRoleArn: string | null;
  nodeInstanceId: string | null;
  /** `service:EventName` of the call that raised it, where one call did. */
  action: string | null;
  count: number;
  firstEventTime: string;
  lastEventTime: string;
  /** Up to five CloudTrail eventIDs to look up (`aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventId,…`). */
  sampleEventIds: string[];
  /** One sentence: what happened. */
  summary: string;
  /** Why it most likely happened, from the failure catalogues (docs/cloudtrail.md §1a, §2b, §2c, §3, and the public sources listed there). */
  likelyCause: string;
  /** What to check or do first. */
  nextStep: string;
  /** When this run raised it (the clock of the caller, not of the events). */
  raisedAt: string;
  /** Who owns its namespace (the policy's `owners`); absent when no rule matches or none is set. */
  owner?: Owner;
}

export const SAMPLE_EVENT_IDS = 5;

/** `unexpected-namespace:3f9a…`: readable detection, stable hash of key and window (FNV-1a, 64 bit). */
export function alertId(detection: Detection, key: string, window: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(`${detection}\u0000${key}\u0000${window}`)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `${detection}:${hash.toString(16).padStart(16, '0')}`;
}
