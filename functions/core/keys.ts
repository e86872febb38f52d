import type { IdentityEvent } from './identity-event';
import { flatString } from './string-pool';

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

/**
 * Keys made of an event's names (a role's partition, a namespace's sort key, `role|namespace`),
 * made once per name or pair of names rather than per event: the fold, the stage and the
 * detections look things up by such keys, and a key made per event was a new string, flattened and
 * hashed at each lookup, where a held one is hashed once. On the fleet preset each event made
 * three for the fold alone. All of them together hold at most MAX_HELD_KEYS, then start over.
 */
export class HeldKeys {
  private readonly byFirst = new Map<string, string | Map<string, string>>();
  /** `make(first, '')` for keys of one name, `make(first, second)` for keys of two. */
  constructor(private readonly make: (first: string, second: string) => string) {
    ALL_HELD_KEYS.push(this);
  }

  of(first: string, second?: string): string {
    const held = this.byFirst.get(first);
    if (second === undefined) return typeof held === 'string' ? held : this.hold(this.byFirst, first, first, '');
    let bySecond = held;
    if (!(bySecond instanceof Map)) this.byFirst.set(first, (bySecond = new Map()));
    return bySecond.get(second) ?? this.hold(bySecond, second, first, second);
  }

  private hold(into: Map<string, string | Map<string, string>>, name: string, first: string, second: string): string {
    if (++heldKeyCount > MAX_HELD_KEYS) {
      for (const keys of ALL_HELD_KEYS) keys.byFirst.clear();
      heldKeyCount = 1;
    }
    const key = flatString(this.make(first, second));
    into.set(name, key);
    return key;
  }
}

/**
 * Keys held by all `HeldKeys` together: the fleet preset holds ~31,000, 20,000 namespaces ~117,000.
 * Each costs ~100 bytes beyond what uses it: at 40,000 namespaces a cap of 200,000 peaked 10–18 MB
 * higher than one of 50,000 (470 and 472 MB against 453 and 464), near the 500 MB the memory target
 * allows.
 */
const MAX_HELD_KEYS = 100_000;
let heldKeyCount = 0;
const ALL_HELD_KEYS: HeldKeys[] = [];

/** `roleArn|namespace`: a role and a namespace that used it (the detections' learned pairs). */
export const roleNamespaceKeys = new HeldKeys((roleArn, namespace) => `${roleArn}|${namespace}`);
/** `place|namespace`: a namespace in its cluster (or OIDC issuer), as the detections remember it. */
export const placeNamespaceKeys = new HeldKeys((place, namespace) => `${place}|${namespace}`);
