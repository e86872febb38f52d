import { HeldKeys, spikeKeyOf, windowStart } from './keys';
import type { IdentityEvent } from './identity-event';
import { sdkTag } from './sdk-versions';
import { scopeId, scopePk, SCOPES_PK, type ScopeKind } from './table-schema';

/**
 * Evidence items and how two of them combine. Every field has a merge rule that is commutative,
 * associative and (given deduplicated events) replay-safe for timestamps: `min`/`max` of times,
 * `sum` of counts, bounded `set` union, `keep` the first identity value, and `latest` values tied
 * to a timestamp field. One batch of events folds into one delta per item, so writes grow with
 * the number of active keys, not with the number of events.
 */
export type MergeRule = 'sum' | 'min' | 'max' | 'set' | 'keep' | { latestBy: string };

export type ItemType =
  | 'scope'
  | 'sa'
  | 'day'
  | 'fetch'
  | 'fetch-day'
  | 'untagged'
  | 'node-call'
  | 'node-day'
  | 'node-clusters'
  | 'role'
  | 'role-ns'
  | 'spike';

export type AttrValue = string | number | boolean | string[] | null;
export interface EvidenceItem {
  pk: string;
  sk: string;
  type: ItemType;
  [field: string]: AttrValue | undefined;
}

/** Sets are capped so an item stays far below DynamoDB's 400 KB limit whatever the traffic. */
export const SET_LIMIT = 50;

const identity = { keep: 'keep' } as const;
const attempts = (p: string): Record<string, MergeRule> => ({
  [`${p}Ok`]: 'sum',
  [`${p}Failed`]: 'sum',
  [`${p}FirstOk`]: 'min',
  [`${p}LastOk`]: 'max',
  [`${p}FirstAttempt`]: 'min',
  [`${p}LastAttempt`]: 'max',
  [`${p}LastFailed`]: 'max',
  [`${p}LastError`]: { latestBy: `${p}LastFailed` },
});
const keep = (...fields: string[]): Record<string, MergeRule> =>
  Object.fromEntries(fields.map((f) => [f, identity.keep]));

export const MERGE_RULES: Record<ItemType, Record<string, MergeRule>> = {
  scope: keep('kind', 'name', 'cluster', 'clusterArn', 'oidcIssuer', 'roleArn', 'account', 'region'),
  sa: {
    ...keep('scope', 'cluster', 'clusterArn', 'oidcIssuer', 'account', 'region', 'namespace', 'serviceAccount'),
    ...attempts('irsa'),
    ...attempts('pi'),
    roles: 'set',
    // Every account/region the service account's assumes were recorded in (IRSA through the global
    // STS endpoint lands in us-east-1; a cross-account role in its own account): what coverage must hold.
    places: 'set',
    // The SDKs (`go-v1/1.44.122`, core/sdk-versions.ts) seen in the service account's IRSA user
    // agents: an SDK too old for Pod Identity falls through to the node role after the switch.
    irsaSdks: 'set',
    lastPod: { latestBy: 'piLastOk' },
  },
  day: { ...keep('scope', 'namespace', 'day'), irsaOk: 'sum', irsaFailed: 'sum', piOk: 'sum', piFailed: 'sum' },
  fetch: {
    ...keep('scope', 'cluster', 'clusterArn', 'nodeRoleArn'),
    ...attempts('fetch'),
    failedNodes: 'set',
    lastFailedNode: { latestBy: 'fetchLastFailed' },
  },
  'fetch-day': { ...keep('scope', 'day'), fetchOk: 'sum', fetchFailed: 'sum' },
  untagged: { ...keep('scope', 'roleArn', 'account', 'region'), ...attempts('pi') },
  'node-call': {
    ...keep('scope', 'nodeRoleArn', 'action'),
    ...attempts('call'),
    instances: 'set',
    imdsVersions: 'set',
    lastUserAgent: { latestBy: 'callLastAttempt' },
    lastInstance: { latestBy: 'callLastAttempt' },
  },
  'node-day': { ...keep('scope', 'day'), callOk: 'sum', callFailed: 'sum' },
  'node-clusters': { ...keep('scope', 'nodeRoleArn'), clusterArns: 'set' },
  // detection state: where a role has been used, and denied events per spike window. Only when it
  // was first seen is read (the learning period): no last-seen, so a role in use writes nothing new.
  role: { ...keep('roleArn'), firstSeen: 'min' },
  'role-ns': { ...keep('roleArn', 'namespace'), firstSeen: 'min' },
  spike: { ...keep('key', 'window', 'expiresAt'), count: 'sum' },
};

/**
 * The types whose every rule keeps a value, takes a minimum or maximum, or unites sets: a delta of
 * one may leave its item as it was (a role seen again later than its first sighting). A count
 * always changes its item.
 */
export const MAY_CHANGE_NOTHING: ReadonlySet<string> = new Set(Object.entries(MERGE_RULES).filter(([, rules]) => !Object.values(rules).includes('sum')).map(([type]) => type));

/**
 * The fields whose values recur from item to item (the partition, the type, what identifies the
 * item: its scope, namespace, role…): what a writer holding many items shares (core/string-pool).
 */
export const RECURRING_ITEM_FIELDS: readonly string[] = [
  'pk',
  'type',
  ...new Set(Object.values(MERGE_RULES).flatMap((rules) => Object.entries(rules).flatMap(([field, rule]) => (rule === 'keep' ? [field] : [])))),
];

export interface AggregateOptions {
  /** Also keep what the detections remember (roles' namespaces, spike counters), per the policy's windows. */
  detection?: { spikeWindowMinutes: number };
}

/** Spike counters are only needed while their window can still alert; DynamoDB TTL drops them after. */
const SPIKE_TTL_SECONDS = 2 * 86_400;

/** Each type's rules as a list, made once: merges run once per item of every event. */
const RULE_LISTS = Object.fromEntries(Object.entries(MERGE_RULES).map(([type, rules]) => [type, Object.entries(rules)])) as Record<ItemType, [string, MergeRule][]>;

/** Combines two versions of the same item; `a` may be an item read from the store, `b` a delta. */
export function mergeItems(a: EvidenceItem | undefined, b: EvidenceItem): EvidenceItem {
  if (a === undefined) return b;
  const out: EvidenceItem = { ...a };
  mergeInto(out, b);
  return out;
}

/**
 * `mergeItems` into `a` itself, for a fold that owns `a` (aggregate: a fresh object per key). A
 * fleet batch merges a million item pairs; copying `a` each time was much of its garbage.
 */
function mergeInto(a: EvidenceItem, b: EvidenceItem): void {
  const rules = RULE_LISTS[b.type];
  // Every rule's value first: a `latest` rule reads its time field from `a` as it was.
  for (let i = 0; i < rules.length; i += 1) {
    const [field, rule] = rules[i] as [string, MergeRule];
    mergedValues[i] = mergeField(rule, a, b, field);
  }
  for (const field in b) a[field] = b[field];
  for (let i = 0; i < rules.length; i += 1) a[(rules[i] as [string, MergeRule])[0]] = mergedValues[i] as AttrValue;
}

/** mergeInto's values before they are set, reused: a fold merges a fleet batch's items a million times, each to its end. */
const mergedValues: AttrValue[] = [];

/** Each type's rule fields by name, to their index in RULE_LISTS. */
const RULE_INDEXES = Object.fromEntries(Object.entries(RULE_LISTS).map(([type, rules]) => [type, new Map(rules.map(([field], i) => [field, i]))])) as Record<ItemType, Map<string, number>>;

/**
 * `mergeItems(a, b)` made in `a` itself, for a holder that keeps `a` from merge to merge (the
 * store's stage holds a run's items until its write-out): a field is set only when its value
 * changes, one merged to null is deleted (stored items hold no nulls), and the answer is whether
 * any changed, as `same` compares values. The fields are visited in the order `mergeItems` sets
 * them, so a field `a` gains lands where it would in `mergeItems`'s copy. Copying the item for each
 * merge (the copy, then the copy without its nulls) was most of what such a holder allocated: at
 * 20,000 namespaces, ~780,000 merges of items of ~600 bytes, every one of them promoted and then
 * garbage in the old generation.
 */
export function mergeChangesInto(a: EvidenceItem, b: EvidenceItem, same: (x: unknown, y: unknown) => boolean): boolean {
  const rules = RULE_LISTS[b.type];
  const indexes = RULE_INDEXES[b.type];
  // Every rule's value first, as mergeInto: a `latest` rule reads its time field from `a` as it was.
  for (let i = 0; i < rules.length; i += 1) {
    const [field, rule] = rules[i] as [string, MergeRule];
    mergedValues[i] = mergeField(rule, a, b, field);
  }
  let changed = false;
  for (const field in b) {
    const i = indexes.get(field);
    if (setChanged(a, field, i === undefined ? b[field] : mergedValues[i], same)) changed = true;
  }
  for (let i = 0; i < rules.length; i += 1) {
    const field = (rules[i] as [string, MergeRule])[0];
    if (!(field in b) && setChanged(a, field, mergedValues[i], same)) changed = true;
  }
  return changed;
}

/**
 * Sets `item[field]` to `value` when it differs (null and absent alike, as stored items hold no
 * nulls: one merged to null is deleted): whether it did.
 */
export function setChanged(item: EvidenceItem, field: string, value: unknown, same: (x: unknown, y: unknown) => boolean): boolean {
  const old = item[field];
  if (old === undefined || old === null ? value === undefined || value === null : same(old, value)) return false;
  if (value === undefined || value === null) delete item[field];
  else item[field] = value as AttrValue;
  return true;
}

function mergeField(rule: MergeRule, a: EvidenceItem, b: EvidenceItem, field: string): AttrValue {
  const x = a[field] ?? null;
  const y = b[field] ?? null;
  if (typeof rule === 'object') {
    const ta = (a[rule.latestBy] as string | null | undefined) ?? '';
    const tb = (b[rule.latestBy] as string | null | undefined) ?? '';
    // The value of the later side, even null; on a tie the greater non-null value, so the
    // result is a max over (time, value) and does not depend on merge order or grouping.
    if (ta !== tb) return tb > ta ? y : x;
    if (x === null || y === null) return x ?? y;
    return String(y) > String(x) ? y : x;
  }
  if (x === null) return y;
  if (y === null) return x;
  switch (rule) {
    case 'sum':
      return (x as number) + (y as number);
    case 'min':
      return (x as string) <= (y as string) ? x : y;
    case 'max':
      return (x as string) >= (y as string) ? x : y;
    case 'set':
      // Most events repeat what an item holds (its role, its place): then the union is `x` itself.
      if (isCanonicalSet(x as string[]) && (y as string[]).every((v) => (x as string[]).includes(v))) return x;
      return [...new Set([...(x as string[]), ...(y as string[])])].sort().slice(0, SET_LIMIT);
    case 'keep':
      return x;
  }
}

/**
 * The fold of one batch: each item's delta. Which events fed it is not kept (a list per delta was
 * ~5 MB of a fleet batch's heap while its journal was committed); a write that fails finds them
 * again (`eventsFeeding`).
 */
export interface EvidenceDelta {
  item: EvidenceItem;
  /** The batch whose journal holds this delta: the item is tagged with it, so it is merged once. */
  batch?: string;
}

const deltaKey = (item: EvidenceItem): string => `${item.pk}\u0000${item.sk}`;

/** The items one event contributes to a batch's fold (as `aggregate` adds them). */
const foldedItemsOf = (event: IdentityEvent, options: AggregateOptions): EvidenceItem[] =>
  options.detection ? [...itemsOf(event), ...detectionItemsOf(event, options.detection)] : itemsOf(event);

/**
 * The batch's deltas, tagged with `batch` when given: made with the field, not given it after (a
 * field added to an object after it is made goes to a second array of its own, ~40 bytes more for
 * each of a fleet batch's ~36,000 deltas while its journal is committed).
 */
export function aggregate(events: readonly IdentityEvent[], options: AggregateOptions = {}, batch?: string): EvidenceDelta[] {
  const deltas: EvidenceDelta[] = [];
  // By partition, then sort key, not by a string joining the two: that was a new string of ~100
  // characters per item of every event, flattened and hashed to be looked up (`keysOfScope`).
  const byPk = new Map<string, Map<string, EvidenceDelta>>();
  const add = (item: EvidenceItem) => {
    let bySk = byPk.get(item.pk);
    if (bySk === undefined) byPk.set(item.pk, (bySk = new Map()));
    const prior = bySk.get(item.sk);
    if (prior !== undefined) mergeInto(prior.item, item);
    else {
      const delta = { item, batch };
      bySk.set(item.sk, delta);
      deltas.push(delta);
    }
  };
  for (const event of events) {
    for (const item of itemsOf(event)) add(item);
    if (options.detection) for (const item of detectionItemsOf(event, options.detection)) add(item);
  }
  return deltas;
}

/**
 * The events, of those `aggregate` folded with the same options, that fed any of `items` (by key):
 * the ones whose evidence a failed write leaves out, for the caller to retry or report.
 */
export function eventsFeeding(events: readonly IdentityEvent[], items: readonly EvidenceItem[], options: AggregateOptions = {}): IdentityEvent[] {
  if (items.length === 0) return [];
  const keys = new Set(items.map(deltaKey));
  return events.filter((event) => foldedItemsOf(event, options).some((item) => keys.has(deltaKey(item))));
}

/** Detection state one event contributes: the role's use by its namespace, and a spike counter when denied. */
export function detectionItemsOf(e: IdentityEvent, options: { spikeWindowMinutes: number }): EvidenceItem[] {
  const items: EvidenceItem[] = [];
  if (e.outcome === 'success' && e.roleArn && e.namespace) {
    const pk = rolePks.of(e.roleArn);
    items.push(
      { pk, sk: 'ROLE', type: 'role', roleArn: e.roleArn, firstSeen: e.eventTime },
      { pk, sk: namespaceSks.of(e.namespace), type: 'role-ns', roleArn: e.roleArn, namespace: e.namespace, firstSeen: e.eventTime },
    );
  }
  const key = spikeKeyOf(e);
  if (key) {
    const window = windowStart(e.eventTime, options.spikeWindowMinutes);
    const expiresAt = Math.floor(Date.parse(window) / 1000) + SPIKE_TTL_SECONDS;
    items.push({ pk: `SPIKE#${key}`, sk: `W#${window}`, type: 'spike', key, window, count: 1, expiresAt });
  }
  return items;
}

/** The evidence one event contributes, as single-event items to be merged. */
export function itemsOf(e: IdentityEvent): EvidenceItem[] {
  const day = e.eventTime.slice(0, 10);
  switch (e.kind) {
    case 'irsa': {
      if (e.oidcIssuer === null) return [];
      const scope = keysOfScope('issuer', e.oidcIssuer);
      return [
        scopeItem('issuer', e.oidcIssuer, e, { oidcIssuer: e.oidcIssuer }),
        saItem(scope, e, 'irsa', { oidcIssuer: e.oidcIssuer, ...irsaSdksOf(e) }),
        dayItem(scope, e, day, 'irsa'),
      ];
    }
    case 'pod-identity': {
      if (e.clusterArn === null || e.namespace === null) {
        if (e.roleArn === null) return [];
        const { id: scope, pk } = keysOfScope('role', e.roleArn);
        return [
          scopeItem('role', e.roleArn, e, { roleArn: e.roleArn }),
          addAttempt({ pk, sk: 'UNTAGGED', type: 'untagged', scope, roleArn: e.roleArn, account: e.account, region: e.region }, 'pi', e),
        ];
      }
      const scope = keysOfScope('cluster', e.clusterArn);
      return [
        scopeItem('cluster', e.clusterArn, e, { cluster: e.cluster, clusterArn: e.clusterArn }),
        saItem(scope, e, 'pi', { cluster: e.cluster, clusterArn: e.clusterArn, lastPod: e.podName }),
        dayItem(scope, e, day, 'pi'),
      ];
    }
    case 'pod-identity-fetch': {
      if (e.clusterArn === null) return [];
      const { id: scope, pk } = keysOfScope('cluster', e.clusterArn);
      const failed = e.outcome !== 'success';
      const items: EvidenceItem[] = [
        scopeItem('cluster', e.clusterArn, e, { cluster: e.cluster, clusterArn: e.clusterArn }),
        { pk, sk: `CDAY#${day}`, type: 'fetch-day', scope, day, fetchOk: failed ? 0 : 1, fetchFailed: failed ? 1 : 0 },
      ];
      if (e.nodeRoleArn !== null) {
        const nodeScope = keysOfScope('noderole', e.nodeRoleArn);
        items.push(
          Object.assign(
            addAttempt({ pk, sk: `FETCH#${e.nodeRoleArn}`, type: 'fetch', scope, cluster: e.cluster, clusterArn: e.clusterArn, nodeRoleArn: e.nodeRoleArn }, 'fetch', e),
            { failedNodes: failed && e.nodeInstanceId ? [e.nodeInstanceId] : [], lastFailedNode: failed ? e.nodeInstanceId : null },
          ),
          // A node role that fetches credentials for a cluster belongs to it: observed, not guessed.
          { pk: nodeScope.pk, sk: 'CLUSTERS', type: 'node-clusters', scope: nodeScope.id, nodeRoleArn: e.nodeRoleArn, clusterArns: [e.clusterArn] },
        );
      }
      return items;
    }
    case 'node-role': {
      if (e.nodeRoleArn === null) return [];
      const { id: scope, pk } = keysOfScope('noderole', e.nodeRoleArn);
      const failed = e.outcome !== 'success';
      return [
        scopeItem('noderole', e.nodeRoleArn, e, { roleArn: e.nodeRoleArn }),
        Object.assign(addAttempt({ pk, sk: `CALL#${e.action}`, type: 'node-call', scope, nodeRoleArn: e.nodeRoleArn, action: e.action }, 'call', e), {
          instances: e.nodeInstanceId ? [e.nodeInstanceId] : [],
          imdsVersions: e.imdsVersion ? [e.imdsVersion] : [],
          lastUserAgent: e.userAgent,
          lastInstance: e.nodeInstanceId,
        }),
        { pk, sk: `NDAY#${day}`, type: 'node-day', scope, day, callOk: failed ? 0 : 1, callFailed: failed ? 1 : 0 },
      ];
    }
  }
}

/** A scope's id and its items' partition key (table-schema `scopeId`, `scopePk`). */
interface ScopeKeys {
  id: string;
  pk: string;
}

/** Scopes whose keys are held (a fleet has a few per cluster, OIDC issuer and node role); past this, they start over. */
const MAX_SCOPE_KEYS = 10_000;
const scopeKeys = new Map<ScopeKind, Map<string, ScopeKeys>>();
let scopeKeyCount = 0;

/**
 * A scope's keys, made once per scope rather than per event: the fold and the store's stage look
 * every item up by its partition key, and V8 hashes a string once, so the same string for every
 * event of a scope is hashed once, where one made per event was flattened and hashed each time.
 */
function keysOfScope(kind: ScopeKind, name: string): ScopeKeys {
  let byName = scopeKeys.get(kind);
  if (byName === undefined) scopeKeys.set(kind, (byName = new Map()));
  let keys = byName.get(name);
  if (keys === undefined) {
    if (scopeKeyCount >= MAX_SCOPE_KEYS) {
      for (const held of scopeKeys.values()) held.clear();
      scopeKeyCount = 0;
    }
    const id = scopeId(kind, name);
    keys = { id, pk: scopePk(id) };
    byName.set(name, keys);
    scopeKeyCount += 1;
  }
  return keys;
}

/**
 * The fold's and the stage's item keys, made once per name (core/keys `HeldKeys`). A namespace's
 * days are not held: most are met by one or two events of a batch.
 */
const rolePks = new HeldKeys((roleArn) => `ROLE#${roleArn}`);
const namespaceSks = new HeldKeys((namespace) => `NS#${namespace}`);
const serviceAccountSks = new HeldKeys((namespace, serviceAccount) => `SA#${namespace}#${serviceAccount}`);

function scopeItem(kind: ScopeKind, name: string, e: IdentityEvent, extra: Record<string, AttrValue>): EvidenceItem {
  return { pk: SCOPES_PK, sk: keysOfScope(kind, name).id, type: 'scope', kind, name, account: e.account, region: e.region, ...extra };
}

function saItem(scope: ScopeKeys, e: IdentityEvent, mechanism: 'irsa' | 'pi', extra: Record<string, AttrValue>): EvidenceItem {
  const namespace = e.namespace ?? '?';
  const serviceAccount = e.serviceAccount ?? '?';
  const item: EvidenceItem = {
    pk: scope.pk,
    sk: serviceAccountSks.of(namespace, serviceAccount),
    type: 'sa',
    scope: scope.id,
    account: e.account,
    region: e.region,
    namespace,
    serviceAccount,
    roles: e.roleArn ? [e.roleArn] : [],
    places: e.account && e.region ? [`${e.account}/${e.region}`] : [],
  };
  return Object.assign(addAttempt(item, mechanism, e), extra);
}

/** Only when the record has a user agent: items without one stay as they were. */
function irsaSdksOf(e: IdentityEvent): Record<string, AttrValue> {
  const tag = sdkTag(e.userAgent);
  return tag === null ? {} : { irsaSdks: [tag] };
}

function dayItem(scope: ScopeKeys, e: IdentityEvent, day: string, mechanism: 'irsa' | 'pi'): EvidenceItem {
  const failed = e.outcome !== 'success';
  const item: EvidenceItem = { pk: scope.pk, sk: `DAY#${e.namespace ?? '?'}#${day}`, type: 'day', scope: scope.id, namespace: e.namespace ?? '?', day };
  const [ok, notOk] = ATTEMPT_FIELDS[mechanism] as [string, string];
  item[ok] = failed ? 0 : 1;
  item[notOk] = failed ? 1 : 0;
  return item;
}

type AttemptPrefix = 'irsa' | 'pi' | 'fetch' | 'call';

/** Each prefix's attempt fields in `attempts`' order, named once (a fleet run makes a quarter of a million items with them). */
const ATTEMPT_FIELDS = Object.fromEntries((['irsa', 'pi', 'fetch', 'call'] as const).map((p) => [p, Object.keys(attempts(p))])) as Record<AttemptPrefix, string[]>;

/** Adds one event's attempt (`attempts(p)`'s fields) to `item`, after the fields it has. */
function addAttempt(item: EvidenceItem, p: AttemptPrefix, e: IdentityEvent): EvidenceItem {
  const [ok, failed, firstOk, lastOk, firstAttempt, lastAttempt, lastFailed, lastError] = ATTEMPT_FIELDS[p] as [string, string, string, string, string, string, string, string];
  const success = e.outcome === 'success';
  item[ok] = success ? 1 : 0;
  item[failed] = success ? 0 : 1;
  item[firstOk] = success ? e.eventTime : null;
  item[lastOk] = success ? e.eventTime : null;
  item[firstAttempt] = e.eventTime;
  item[lastAttempt] = e.eventTime;
  item[lastFailed] = success ? null : e.eventTime;
  item[lastError] = success ? null : e.errorCode;
  return item;
}

/** Sorted, without repeats, within the cap: what a set merge returns, so a union that adds nothing is the set as it is. */
function isCanonicalSet(values: readonly string[]): boolean {
  if (values.length > SET_LIMIT) return false;
  for (let i = 1; i < values.length; i += 1) if (!((values[i - 1] as string) < (values[i] as string))) return false;
  return true;
}
