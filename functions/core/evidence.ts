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
  if (typeof rule === 'object') return mergeValue(rule, a[field] ?? null, b[field] ?? null, a[rule.latestBy], b[rule.latestBy]);
  return mergeValue(rule, a[field] ?? null, b[field] ?? null, null, null);
}

/** One rule's merge of `x` (the item's) and `y` (the other's); a `latest` rule's times are `timeX`, `timeY`. */
function mergeValue(rule: MergeRule, x: AttrValue, y: AttrValue, timeX: AttrValue | undefined, timeY: AttrValue | undefined): AttrValue {
  if (typeof rule === 'object') {
    const ta = (timeX as string | null | undefined) ?? '';
    const tb = (timeY as string | null | undefined) ?? '';
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
  const held = (pk: string, sk: string): EvidenceItem | undefined => byPk.get(pk)?.get(sk)?.item;
  for (const event of events) {
    if (!foldIdentityCall(event, held, add)) for (const item of itemsOf(event)) add(item);
    if (options.detection) foldDetectionItems(event, options.detection, held, add);
  }
  return deltas;
}

/**
 * `itemsOf` a Pod Identity assume or an IRSA call, folded item by item: an item whose delta the
 * batch holds already is merged into it from the event (`mergeEventInto`), without being made;
 * one it does not hold is made and added. False for any other event. A fleet batch meets most of
 * its keys more than once (a service account twice, its scope on every event): making each
 * event's items to merge them field by field was most of the fold.
 */
function foldIdentityCall(e: IdentityEvent, held: (pk: string, sk: string) => EvidenceItem | undefined, add: (item: EvidenceItem) => void): boolean {
  let mechanism: 'irsa' | 'pi';
  let scope: ScopeKeys;
  if (e.kind === 'irsa' && e.oidcIssuer !== null) {
    mechanism = 'irsa';
    scope = keysOfScope('issuer', e.oidcIssuer);
  } else if (e.kind === 'pod-identity' && e.clusterArn !== null && e.namespace !== null) {
    mechanism = 'pi';
    scope = keysOfScope('cluster', e.clusterArn);
  } else return false;
  const day = e.eventTime.slice(0, 10);
  const scoped = held(SCOPES_PK, scope.id);
  if (scoped === undefined) add(identityScopeItem(e, mechanism));
  else mergeEventInto(scoped, 'scope', e, scope, mechanism, day);
  const namespace = e.namespace ?? '?';
  const sa = held(scope.pk, serviceAccountSks.of(namespace, e.serviceAccount ?? '?'));
  if (sa === undefined) add(identitySaItem(e, mechanism, scope));
  else mergeEventInto(sa, 'sa', e, scope, mechanism, day);
  const daily = held(scope.pk, `DAY#${namespace}#${day}`);
  if (daily === undefined) add(dayItem(scope, e, day, mechanism));
  else mergeEventInto(daily, 'day', e, scope, mechanism, day);
  return true;
}

/** `detectionItemsOf`, folded as `foldIdentityCall` folds: a role and its namespace merged from the event when held. */
function foldDetectionItems(e: IdentityEvent, options: { spikeWindowMinutes: number }, held: (pk: string, sk: string) => EvidenceItem | undefined, add: (item: EvidenceItem) => void): void {
  if (e.outcome === 'success' && e.roleArn && e.namespace) {
    const pk = rolePks.of(e.roleArn);
    const role = held(pk, 'ROLE');
    const roleNamespace = held(pk, namespaceSks.of(e.namespace));
    if (role !== undefined && roleNamespace !== undefined) {
      mergeEventInto(role, 'role', e, null, null, '');
      mergeEventInto(roleNamespace, 'role-ns', e, null, null, '');
      // a successful call has no spike counter
      return;
    }
  }
  for (const item of detectionItemsOf(e, options)) add(item);
}

/**
 * `mergeInto(item, made)`, where `made` is the item of `type` that `itemsOf` or `detectionItemsOf`
 * makes of the event, without making it: each rule's value of `made` (null where it has no such
 * field, as `mergeField` reads an absent one), all merged first (a `latest` rule reads its time as
 * the item had it), then set.
 */
function mergeEventInto(item: EvidenceItem, type: ItemType, e: IdentityEvent, scope: ScopeKeys | null, mechanism: 'irsa' | 'pi' | null, day: string): void {
  const rules = RULE_LISTS[type];
  const v = eventValues;
  for (let i = 0; i < rules.length; i += 1) v[i] = null;
  switch (type) {
    case 'scope': {
      const at = SCOPE_AT;
      v[at.kind] = mechanism === 'irsa' ? 'issuer' : 'cluster';
      v[at.name] = mechanism === 'irsa' ? e.oidcIssuer : e.clusterArn;
      v[at.account] = e.account;
      v[at.region] = e.region;
      setScopePlace(v, at, e, mechanism);
      break;
    }
    case 'sa': {
      const at = SA_AT;
      v[at.scope] = (scope as ScopeKeys).id;
      v[at.account] = e.account;
      v[at.region] = e.region;
      v[at.namespace] = e.namespace ?? '?';
      v[at.serviceAccount] = e.serviceAccount ?? '?';
      // A set the delta holds in canonical form with the event's value in it is what the merge
      // keeps (`mergeValue`): null stands for the event's one-value set, made only when it adds.
      v[at.roles] = e.roleArn ? oneMore(item['roles'], e.roleArn) : [];
      v[at.places] = e.account && e.region ? oneMore(item['places'], placeNames.of(e.account, e.region)) : [];
      // the fields addAttempt sets
      const attempt = mechanism === 'irsa' ? SA_IRSA_AT : SA_PI_AT;
      for (let i = 0; i < attempt.length; i += 1) v[attempt[i] as number] = attemptValue(i, e);
      setScopePlace(v, at, e, mechanism);
      if (mechanism === 'irsa') {
        const tag = sdkTag(e.userAgent);
        v[at.irsaSdks] = tag === null ? null : oneMore(item['irsaSdks'], tag);
      } else v[at.lastPod] = e.podName;
      break;
    }
    case 'day': {
      const at = DAY_AT;
      v[at.scope] = (scope as ScopeKeys).id;
      v[at.namespace] = e.namespace ?? '?';
      v[at.day] = day;
      // the fields dayItem sets
      const [ok, failed] = (mechanism === 'irsa' ? DAY_IRSA_AT : DAY_PI_AT) as [number, number];
      v[ok] = attemptValue(0, e);
      v[failed] = attemptValue(1, e);
      break;
    }
    case 'role':
      v[ROLE_AT.roleArn] = e.roleArn;
      v[ROLE_AT.firstSeen] = e.eventTime;
      break;
    case 'role-ns':
      v[ROLE_NS_AT.roleArn] = e.roleArn;
      v[ROLE_NS_AT.namespace] = e.namespace;
      v[ROLE_NS_AT.firstSeen] = e.eventTime;
      break;
    default:
      throw new Error(`no event merge for ${type} items`);
  }
  // A rule whose value the made item lacks leaves the delta's as it is (`mergeValue` with null:
  // for a `latest` rule, when the made item lacks its time too): only the others are read and set.
  // mergeInto would set such a field to null where the delta lacks it; null and absent are the same
  // everywhere (merges, the stage, the journal's roll-forward; stored items hold no nulls).
  const latest = LATEST_AT[type];
  let changed = 0;
  for (let i = 0; i < rules.length; i += 1) {
    const [field, rule] = rules[i] as [string, MergeRule];
    const y = v[i] as AttrValue;
    if (typeof rule === 'object') {
      const timeY = v[latest[i] as number] as AttrValue;
      if (y === null && timeY === null) continue;
      mergedValues[changed] = mergeValue(rule, item[field] ?? null, y, item[rule.latestBy], timeY);
    } else {
      if (y === null) continue;
      mergedValues[changed] = mergeValue(rule, item[field] ?? null, y, null, null);
    }
    mergedFields[changed++] = field;
  }
  for (let i = 0; i < changed; i += 1) item[mergedFields[i] as string] = mergedValues[i] as AttrValue;
}

/** `scopePlace` among `mergeEventInto`'s values, at a type's indexes of those fields. */
function setScopePlace(v: AttrValue[], at: { oidcIssuer: number; cluster: number; clusterArn: number }, e: IdentityEvent, mechanism: 'irsa' | 'pi' | null): void {
  if (mechanism === 'irsa') v[at.oidcIssuer] = e.oidcIssuer;
  else {
    v[at.cluster] = e.cluster;
    v[at.clusterArn] = e.clusterArn;
  }
}

/** The fields `mergeEventInto` sets, beside their values in `mergedValues`. */
const mergedFields: string[] = [];

/** `[value]` as a set to merge into `held`, or null when `held` keeps it already (the merge's answer is `held` either way). */
function oneMore(held: AttrValue | undefined, value: string): string[] | null {
  return Array.isArray(held) && held.includes(value) && isCanonicalSet(held) ? null : [value];
}

/** `account/region`, as the service accounts' `places` name them. */
const placeNames = new HeldKeys((account, region) => `${account}/${region}`);

/** `mergeEventInto`'s values of the item the event would make, in rule order, reused. */
const eventValues: AttrValue[] = [];

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
      return [identityScopeItem(e, 'irsa'), identitySaItem(e, 'irsa', scope), dayItem(scope, e, day, 'irsa')];
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
      return [identityScopeItem(e, 'pi'), identitySaItem(e, 'pi', scope), dayItem(scope, e, day, 'pi')];
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

/**
 * The scope item of an IRSA call (`mechanism` 'irsa', its issuer's scope) or a Pod Identity assume
 * ('pi', its cluster's), and its service account's: `itemsOf` makes both, the fold only those
 * whose keys a batch meets for the first time.
 */
function identityScopeItem(e: IdentityEvent, mechanism: 'irsa' | 'pi'): EvidenceItem {
  const [kind, name] = mechanism === 'irsa' ? (['issuer', e.oidcIssuer] as const) : (['cluster', e.clusterArn] as const);
  return scopeItem(kind, name as string, e, scopePlace(e, mechanism));
}

function identitySaItem(e: IdentityEvent, mechanism: 'irsa' | 'pi', scope: ScopeKeys): EvidenceItem {
  const extra = scopePlace(e, mechanism);
  if (mechanism === 'irsa') {
    // only when the record has a user agent: items without one stay as they were
    const tag = sdkTag(e.userAgent);
    if (tag !== null) extra['irsaSdks'] = [tag];
  } else extra['lastPod'] = e.podName;
  return saItem(scope, e, mechanism, extra);
}

/** Where an identity call's scope lies, as its scope and service account items keep it: the OIDC issuer (IRSA) or the cluster (Pod Identity). */
function scopePlace(e: IdentityEvent, mechanism: 'irsa' | 'pi'): Record<string, AttrValue> {
  return mechanism === 'irsa' ? { oidcIssuer: e.oidcIssuer } : { cluster: e.cluster, clusterArn: e.clusterArn };
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

function dayItem(scope: ScopeKeys, e: IdentityEvent, day: string, mechanism: 'irsa' | 'pi'): EvidenceItem {
  const item: EvidenceItem = { pk: scope.pk, sk: `DAY#${e.namespace ?? '?'}#${day}`, type: 'day', scope: scope.id, namespace: e.namespace ?? '?', day };
  const [ok, failed] = ATTEMPT_FIELDS[mechanism] as [string, string];
  item[ok] = attemptValue(0, e);
  item[failed] = attemptValue(1, e);
  return item;
}

type AttemptPrefix = 'irsa' | 'pi' | 'fetch' | 'call';

/** Each prefix's attempt fields in `attempts`' order, named once (a fleet run makes a quarter of a million items with them). */
const ATTEMPT_FIELDS = Object.fromEntries((['irsa', 'pi', 'fetch', 'call'] as const).map((p) => [p, Object.keys(attempts(p))])) as Record<AttemptPrefix, string[]>;

/** Adds one event's attempt (`attempts(p)`'s fields) to `item`, after the fields it has. */
function addAttempt(item: EvidenceItem, p: AttemptPrefix, e: IdentityEvent): EvidenceItem {
  const fields = ATTEMPT_FIELDS[p];
  for (let i = 0; i < fields.length; i += 1) item[fields[i] as string] = attemptValue(i, e);
  return item;
}

/**
 * What one event gives the attempt field at `i` of ATTEMPT_FIELDS (ok, failed, firstOk, lastOk,
 * firstAttempt, lastAttempt, lastFailed, lastError): the one definition of an attempt, for the
 * items made (`addAttempt`, `dayItem`) and the fold's merges from an event (`mergeEventInto`).
 */
function attemptValue(i: number, e: IdentityEvent): AttrValue {
  const success = e.outcome === 'success';
  switch (i) {
    case 0:
      return success ? 1 : 0;
    case 1:
      return success ? 0 : 1;
    case 2:
    case 3:
      return success ? e.eventTime : null;
    case 4:
    case 5:
      return e.eventTime;
    case 6:
      return success ? null : e.eventTime;
    default:
      return success ? null : e.errorCode;
  }
}

/** Sorted, without repeats, within the cap: what a set merge returns, so a union that adds nothing is the set as it is. */
function isCanonicalSet(values: readonly string[]): boolean {
  if (values.length > SET_LIMIT) return false;
  for (let i = 1; i < values.length; i += 1) if (!((values[i - 1] as string) < (values[i] as string))) return false;
  return true;
}

/** Fields' indexes in their type's rule list (RULE_LISTS), for `mergeEventInto`. */
function rulesAt<F extends string>(type: ItemType, fields: readonly F[]): Record<F, number> {
  const at = {} as Record<F, number>;
  for (const field of fields) {
    const i = RULE_INDEXES[type].get(field);
    if (i === undefined) throw new Error(`${type} items have no rule for ${field}`);
    at[field] = i;
  }
  return at;
}
const SCOPE_AT = rulesAt('scope', ['kind', 'name', 'account', 'region', 'oidcIssuer', 'cluster', 'clusterArn']);
const SA_AT = rulesAt('sa', ['scope', 'account', 'region', 'namespace', 'serviceAccount', 'roles', 'places', 'oidcIssuer', 'irsaSdks', 'cluster', 'clusterArn', 'lastPod']);
const SA_IRSA_AT = ATTEMPT_FIELDS.irsa.map((field) => rulesAt('sa', [field])[field]);
const SA_PI_AT = ATTEMPT_FIELDS.pi.map((field) => rulesAt('sa', [field])[field]);
const DAY_AT = rulesAt('day', ['scope', 'namespace', 'day']);
const DAY_IRSA_AT = ATTEMPT_FIELDS.irsa.slice(0, 2).map((field) => rulesAt('day', [field])[field]);
const DAY_PI_AT = ATTEMPT_FIELDS.pi.slice(0, 2).map((field) => rulesAt('day', [field])[field]);
const ROLE_AT = rulesAt('role', ['roleArn', 'firstSeen']);
const ROLE_NS_AT = rulesAt('role-ns', ['roleArn', 'namespace', 'firstSeen']);
/** For each rule of a type, the index of the time field a `latest` rule goes by. */
const LATEST_AT = Object.fromEntries(
  Object.entries(RULE_LISTS).map(([type, rules]) => [type, rules.map(([, rule]) => (typeof rule === 'object' ? RULE_INDEXES[type as ItemType].get(rule.latestBy) : undefined))]),
) as Record<ItemType, (number | undefined)[]>;
