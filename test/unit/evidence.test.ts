import { describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import { aggregate, detectionItemsOf, eventsFeeding, itemsOf, mergeChangesInto, mergeItems, SET_LIMIT, type EvidenceItem } from '../../functions/core/evidence';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { identityEvent } from '../support/events';
import { prng } from '../support/prng';

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const CLUSTER = 'payments';
const CLUSTER_ARN = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${CLUSTER}`;
const ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/PAYMENTS0000000000000000000000001`;
const IRSA_ROLE = `arn:aws:iam::${ACCOUNT}:role/api-irsa`;
const PI_ROLE = `arn:aws:iam::${ACCOUNT}:role/api-pod-identity`;
const NODE_ROLE = `arn:aws:iam::${ACCOUNT}:role/payments-nodes`;
const T0 = '2024-05-15T09:20:04Z';

/** Every field of an IdentityEvent; a record's unknowns are null. */
function event(kind: IdentityEvent['kind'], fields: Partial<IdentityEvent> = {}): IdentityEvent {
  return identityEvent(kind, { eventId: 'e-1', eventTime: T0, account: ACCOUNT, region: REGION, ...fields });
}

const irsa = (fields: Partial<IdentityEvent> = {}) =>
  event('irsa', {
    action: 'sts:AssumeRoleWithWebIdentity',
    oidcIssuer: ISSUER,
    namespace: 'billing',
    serviceAccount: 'api',
    roleArn: IRSA_ROLE,
    ...fields,
  });
const podIdentity = (fields: Partial<IdentityEvent> = {}) =>
  event('pod-identity', {
    cluster: CLUSTER,
    clusterArn: CLUSTER_ARN,
    namespace: 'billing',
    serviceAccount: 'api',
    roleArn: PI_ROLE,
    podName: 'api-7d9f-abcde',
    podUid: 'uid-1',
    sessionTagsMissing: false,
    ...fields,
  });
const fetch = (fields: Partial<IdentityEvent> = {}) =>
  event('pod-identity-fetch', {
    action: 'eks-auth:AssumeRoleForPodIdentity',
    cluster: CLUSTER,
    clusterArn: CLUSTER_ARN,
    nodeInstanceId: 'i-0aaa',
    nodeRoleArn: NODE_ROLE,
    ...fields,
  });
const nodeCall = (fields: Partial<IdentityEvent> = {}) =>
  event('node-role', {
    action: 's3:ListBuckets',
    nodeInstanceId: 'i-0aaa',
    nodeRoleArn: NODE_ROLE,
    imdsVersion: '2.0',
    userAgent: 'aws-cli/2.15',
    ...fields,
  });

const keys = (items: readonly EvidenceItem[]) => items.map((i) => `${i.pk} ${i.sk} ${i.type}`);

/** A base item with only the fields a test sets (mergeItems reads rules by `type`). */
const sa = (fields: Record<string, EvidenceItem[string]>): EvidenceItem => ({ pk: 'SCOPE#issuer:x', sk: 'SA#billing#api', type: 'sa', ...fields });

describe('mergeItems: one rule per field', () => {
  it('returns the delta itself when nothing is stored yet', () => {
    const delta = sa({ irsaOk: 1 });

    expect(mergeItems(undefined, delta)).toBe(delta);
  });

  it('sums counters, taking the other side when one has none', () => {
    expect(mergeItems(sa({ irsaOk: 2, irsaFailed: 1 }), sa({ irsaOk: 3, irsaFailed: 0 }))).toMatchObject({ irsaOk: 5, irsaFailed: 1 });
    expect(mergeItems(sa({ irsaOk: 2 }), sa({ piOk: 4 }))).toMatchObject({ irsaOk: 2, piOk: 4 });
  });

  it('keeps the earliest first-seen and the latest last-seen time whichever side holds them', () => {
    const early = sa({ irsaFirstAttempt: '2024-05-01T00:00:00Z', irsaLastAttempt: '2024-05-02T00:00:00Z' });
    const late = sa({ irsaFirstAttempt: '2024-05-03T00:00:00Z', irsaLastAttempt: '2024-05-04T00:00:00Z' });

    for (const merged of [mergeItems(early, late), mergeItems(late, early)]) {
      expect(merged).toMatchObject({ irsaFirstAttempt: '2024-05-01T00:00:00Z', irsaLastAttempt: '2024-05-04T00:00:00Z' });
    }
    expect(mergeItems(sa({ irsaFirstOk: null }), sa({ irsaFirstOk: '2024-05-03T00:00:00Z' }))['irsaFirstOk']).toBe('2024-05-03T00:00:00Z');
  });

  it('unions sets, sorted and without duplicates', () => {
    const merged = mergeItems(sa({ roles: ['r-c', 'r-a'] }), sa({ roles: ['r-b', 'r-a'] }));

    expect(merged['roles']).toEqual(['r-a', 'r-b', 'r-c']);
    // Adding nothing to a set stored out of order still gives it sorted (as the other order does).
    expect(mergeItems(sa({ roles: ['r-c', 'r-a'] }), sa({ roles: ['r-a'] }))['roles']).toEqual(['r-a', 'r-c']);
    expect(mergeItems(sa({ roles: ['r-a'] }), sa({ roles: ['r-c', 'r-a'] }))['roles']).toEqual(['r-a', 'r-c']);
  });

  it(`caps a set at SET_LIMIT (${SET_LIMIT}) members, keeping the smallest in sort order`, () => {
    const names = (from: number, n: number) => Array.from({ length: n }, (_, i) => `i-${String(from + i).padStart(3, '0')}`);
    const merged = mergeItems(sa({ roles: names(40, 40) }), sa({ roles: names(0, 40) }));

    expect(merged['roles']).toHaveLength(SET_LIMIT);
    expect(merged['roles']).toEqual(names(0, SET_LIMIT));
  });

  it('keeps the identity value already stored', () => {
    const merged = mergeItems(sa({ namespace: 'billing', account: ACCOUNT }), sa({ namespace: 'other', account: '999999999999' }));

    expect(merged).toMatchObject({ namespace: 'billing', account: ACCOUNT });
    expect(mergeItems(sa({ account: null }), sa({ account: ACCOUNT }))['account']).toBe(ACCOUNT);
  });

  it('takes a latest-by value from the side whose timestamp is later, in either order', () => {
    const first = sa({ irsaLastFailed: '2024-05-01T00:00:00Z', irsaLastError: 'AccessDenied' });
    const second = sa({ irsaLastFailed: '2024-05-02T00:00:00Z', irsaLastError: 'InvalidIdentityToken' });

    expect(mergeItems(first, second)['irsaLastError']).toBe('InvalidIdentityToken');
    expect(mergeItems(second, first)['irsaLastError']).toBe('InvalidIdentityToken');
    // A success carries no failure time: it never replaces the last error.
    expect(mergeItems(second, sa({ irsaLastFailed: null, irsaLastError: null }))['irsaLastError']).toBe('InvalidIdentityToken');
    expect(mergeItems(sa({ irsaLastFailed: null, irsaLastError: null }), second)['irsaLastError']).toBe('InvalidIdentityToken');
  });

  it('breaks a latest-by tie (same second) the same way in either order', () => {
    const a = sa({ piLastOk: T0, lastPod: 'api-7d9f-aaaaa' });
    const b = sa({ piLastOk: T0, lastPod: 'api-7d9f-bbbbb' });

    expect(mergeItems(a, b)['lastPod']).toBe('api-7d9f-bbbbb');
    expect(mergeItems(b, a)['lastPod']).toBe('api-7d9f-bbbbb');
  });

  it('lets the latest event decide a latest-by value even when that event had none', () => {
    const named = sa({ piLastOk: '2024-05-01T00:00:00Z', lastPod: 'api-old' });
    const unnamed = sa({ piLastOk: '2024-05-02T00:00:00Z', lastPod: null });

    expect(mergeItems(named, unnamed)['lastPod']).toBeNull();
    expect(mergeItems(unnamed, named)['lastPod']).toBeNull();
  });
});

function randomEvents(rand: () => number, n: number): IdentityEvent[] {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  // Few distinct values, so keys collide and timestamps tie.
  const times = ['2024-05-14T23:59:59Z', '2024-05-15T00:00:00Z', '2024-05-15T09:20:04Z', '2024-05-16T10:00:00Z'];
  const outcomes = ['success', 'success', 'denied', 'error'] as const;
  const events: IdentityEvent[] = [];
  for (let i = 0; i < n; i += 1) {
    const outcome = pick(outcomes);
    const common = {
      eventId: `e-${i}`,
      eventTime: pick(times),
      outcome,
      errorCode: outcome === 'success' ? null : pick(['AccessDenied', 'InvalidIdentityToken', null]),
      namespace: pick(['billing', 'ledger']),
      serviceAccount: pick(['api', 'worker']),
      podName: pick(['api-1', 'api-2', null]),
      nodeInstanceId: pick(['i-0aaa', 'i-0bbb', null]),
      imdsVersion: pick(['1.0', '2.0', null]),
      userAgent: pick(['aws-cli/2.15', 'boto3/1.34', null]),
    };
    const make = pick([
      () => irsa({ ...common, roleArn: pick([IRSA_ROLE, `${IRSA_ROLE}-2`]) }),
      () => podIdentity(common),
      () => podIdentity({ ...common, clusterArn: null, namespace: null, serviceAccount: null, sessionTagsMissing: true }),
      () => fetch(common),
      () => nodeCall({ ...common, action: pick(['s3:ListBuckets', 'sts:GetCallerIdentity']) }),
    ]);
    events.push(make());
  }
  return events;
}

function shuffle<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Random binary tree of merges over the items in their given order (tests associativity). */
function treeFold(items: readonly EvidenceItem[], rand: () => number): EvidenceItem {
  if (items.length === 1) return items[0]!;
  const cut = 1 + Math.floor(rand() * (items.length - 1));
  return mergeItems(treeFold(items.slice(0, cut), rand), treeFold(items.slice(cut), rand));
}

function perKey(events: readonly IdentityEvent[]): Map<string, EvidenceItem[]> {
  const out = new Map<string, EvidenceItem[]>();
  for (const e of events) {
    for (const item of itemsOf(e)) {
      const key = `${item.pk} ${item.sk}`;
      out.set(key, [...(out.get(key) ?? []), item]);
    }
  }
  return out;
}

describe('mergeItems: order does not matter', () => {
  it.each([1, 2, 3, 42, 2024])('folds per-event items to the same item in any order and grouping (seed %i)', (seed) => {
    const rand = prng(seed);
    const groups = perKey(randomEvents(rand, 120));
    let compared = 0;
    for (const [, items] of groups) {
      const inOrder = items.reduce<EvidenceItem | undefined>((acc, item) => mergeItems(acc, item), undefined)!;
      for (let round = 0; round < 4; round += 1) {
        const shuffled = shuffle(items, rand);
        const leftFold = shuffled.reduce<EvidenceItem | undefined>((acc, item) => mergeItems(acc, item), undefined)!;
        const rightFold = shuffled.reduceRight<EvidenceItem | undefined>((acc, item) => mergeItems(acc, item), undefined)!;
        expect(leftFold).toEqual(inOrder);
        expect(rightFold).toEqual(inOrder);
        expect(treeFold(shuffled, rand)).toEqual(inOrder);
        compared += 1;
      }
    }
    expect(groups.size).toBeGreaterThan(20);
    expect(compared).toBe(groups.size * 4);
  });

  it('merges triples associatively: (a·b)·c equals a·(b·c)', () => {
    const rand = prng(7);
    const groups = [...perKey(randomEvents(rand, 300)).values()].filter((items) => items.length >= 3);
    expect(groups.length).toBeGreaterThan(10);
    for (const items of groups) {
      for (let round = 0; round < 10; round += 1) {
        const [a, b, c] = shuffle(items, rand) as [EvidenceItem, EvidenceItem, EvidenceItem];
        expect(mergeItems(mergeItems(a, b), c)).toEqual(mergeItems(a, mergeItems(b, c)));
      }
    }
  });

  it('gives the same store whatever the batching: one batch, or the events one at a time', () => {
    const rand = prng(99);
    const events = randomEvents(rand, 200);
    const fold = (batches: IdentityEvent[][]) => {
      const store = new Map<string, EvidenceItem>();
      for (const batch of batches) {
        for (const { item } of aggregate(batch)) store.set(`${item.pk} ${item.sk}`, mergeItems(store.get(`${item.pk} ${item.sk}`), item));
      }
      return store;
    };

    const whole = fold([events]);
    const single = fold(shuffle(events, rand).map((e) => [e]));
    expect(single.size).toBe(whole.size);
    // as a store holds them: null and absent are the same field (the fold of a batch leaves absent a
    // field the events never gave, where merging made items sets it to null)
    for (const [key, item] of whole) expect(withoutNulls(single.get(key)!)).toEqual(withoutNulls(item));
  });
});

/** An item as a store keeps it: no null fields. */
const withoutNulls = (item: EvidenceItem): EvidenceItem => Object.fromEntries(Object.entries(item).filter(([, v]) => v !== null && v !== undefined)) as EvidenceItem;

describe('mergeChangesInto: mergeItems made in the item itself', () => {
  it.each([3, 11, 2025])('leaves the item mergeItems would give, fields in its order, and says whether it changed (seed %i)', (seed) => {
    const rand = prng(seed);
    let changed = 0;
    let unchanged = 0;
    for (const items of perKey(randomEvents(rand, 200)).values()) {
      let stored = withoutNulls(items[0]!);
      for (const delta of [...items.slice(1), ...items]) {
        const expected = withoutNulls(mergeItems(stored, delta));
        const before = structuredClone(stored);
        const inPlace = structuredClone(stored);
        const didChange = mergeChangesInto(inPlace, delta, isDeepStrictEqual);

        expect(inPlace).toEqual(expected);
        expect(Object.keys(inPlace)).toEqual(Object.keys(expected));
        expect(didChange).toBe(!isDeepStrictEqual(before, expected));
        if (didChange) changed += 1;
        else unchanged += 1;
        stored = expected;
      }
    }
    // both answers were exercised: a replayed event changes nothing, a new one does
    expect(changed).toBeGreaterThan(20);
    expect(unchanged).toBeGreaterThan(20);
  });

  it('deletes a field merged to null, and sets nothing when nothing changes', () => {
    const stored = sa({ irsaFailed: 1, irsaLastFailed: '2026-10-01T00:00:00Z', irsaLastError: 'AccessDenied' });
    // a later failure without an error code: the later side's value wins, even null
    const delta = sa({ irsaFailed: 1, irsaLastFailed: '2026-10-02T00:00:00Z', irsaLastError: null });

    expect(mergeChangesInto(stored, delta, isDeepStrictEqual)).toBe(true);
    expect(stored).toEqual(sa({ irsaFailed: 2, irsaLastFailed: '2026-10-02T00:00:00Z' }));
    expect('irsaLastError' in stored).toBe(false);

    const roles = ['arn:aws:iam::111122223333:role/a'];
    const held = sa({ roles });
    expect(mergeChangesInto(held, sa({ roles: [...roles] }), isDeepStrictEqual)).toBe(false);
    expect(held['roles']).toBe(roles);
  });
});

describe('aggregate', () => {
  it('folds a batch into one delta per item key', () => {
    const deltas = aggregate([
      irsa({ eventId: 'e-1', eventTime: '2024-05-15T09:00:00Z' }),
      irsa({ eventId: 'e-2', eventTime: '2024-05-15T10:00:00Z', outcome: 'denied', errorCode: 'AccessDenied' }),
      irsa({ eventId: 'e-3', eventTime: '2024-05-15T11:00:00Z', serviceAccount: 'worker' }),
    ]);

    expect(deltas.map((d) => d.item.sk)).toEqual([`issuer:${ISSUER}`, 'SA#billing#api', 'DAY#billing#2024-05-15', 'SA#billing#worker']);
    expect(deltas[1]!.item).toMatchObject({
      irsaOk: 1,
      irsaFailed: 1,
      irsaFirstAttempt: '2024-05-15T09:00:00Z',
      irsaLastAttempt: '2024-05-15T10:00:00Z',
      irsaFirstOk: '2024-05-15T09:00:00Z',
      irsaLastOk: '2024-05-15T09:00:00Z',
      irsaLastFailed: '2024-05-15T10:00:00Z',
      irsaLastError: 'AccessDenied',
      roles: [IRSA_ROLE],
    });
    expect(deltas[2]!.item).toMatchObject({ irsaOk: 2, irsaFailed: 1 });
  });

  it('gives nothing for an empty batch', () => {
    expect(aggregate([])).toEqual([]);
  });

  it.each([1, 2, 3, 42, 2024])('folds a batch as merging each event’s items in turn does: the same deltas, in the order their keys are met (seed %i)', (seed) => {
    // GIVEN events whose keys repeat (the fold merges most of them from the event, without making
    // its items), with the variations a merge reads: SDK user agents, failures, no issuer, two clusters, places, an account unknown
    const rand = prng(seed);
    const events = randomEvents(rand, 400).map((e, i): IdentityEvent => {
      const r = rand();
      // the first of each seven knows no account: a scope first met so takes the account of a later event
      if (i % 7 === 0) return { ...e, account: null };
      if (r < 0.1) return { ...e, userAgent: 'Boto3/1.34.69 md/Botocore#1.34.69' };
      if (r < 0.15 && e.kind === 'irsa') return { ...e, oidcIssuer: null };
      if (r < 0.2 && e.outcome !== 'success') return { ...e, outcome: 'invalid-token', errorCode: 'InvalidIdentityToken' };
      if (r < 0.3 && e.kind === 'pod-identity' && e.clusterArn !== null) return { ...e, cluster: `${CLUSTER}-2`, clusterArn: `${CLUSTER_ARN}-2`, account: null };
      if (r < 0.4) return { ...e, region: 'us-east-1' };
      return e;
    });
    for (const options of [{}, { detection: { spikeWindowMinutes: 10 } }]) {
      const reference = new Map<string, EvidenceItem>();
      for (const e of events) {
        for (const item of [...itemsOf(e), ...(options.detection ? detectionItemsOf(e, options.detection) : [])]) {
          const key = `${item.pk} ${item.sk}`;
          reference.set(key, mergeItems(reference.get(key), structuredClone(item)));
        }
      }
      // WHEN folded as a batch
      const deltas = aggregate(events, options, 'batch-1');
      // THEN item for item what the merges give, but for null fields: a merge of made items sets a
      // field neither has to null, the fold leaves it absent (the same everywhere; stored items hold no nulls)
      expect(deltas.map((d) => `${d.item.pk} ${d.item.sk}`)).toEqual([...reference.keys()]);
      expect(deltas.map((d) => withoutNulls(d.item))).toEqual([...reference.values()].map(withoutNulls));
      // and no field the merges leave out
      for (const [n, d] of deltas.entries()) expect(Object.keys(d.item).filter((f) => !(f in [...reference.values()][n]!))).toEqual([]);
      expect(deltas.every((d) => d.batch === 'batch-1')).toBe(true);
      expect(reference.size).toBeLessThan(events.length);
    }
  });

  it('keys each service account, namespace and role by its own names, before and after the held keys start over', () => {
    // More names than the keys made once per name are held for (100,000): the first ones are made
    // again after the maps start over, and must read the same.
    const keysOf = (n: number) => {
      const e = irsa({ namespace: `ns-${n % 1000}`, serviceAccount: `sa-${n}`, roleArn: `arn:aws:iam::${ACCOUNT}:role/r-${n % 7}` });
      return [...itemsOf(e), ...aggregate([e], { detection: { spikeWindowMinutes: 10 } }).map((d) => d.item)].map((i) => `${i.pk} ${i.sk}`);
    };
    const expected = (n: number) => [
      `SCOPES issuer:${ISSUER}`,
      `SCOPE#issuer:${ISSUER} SA#ns-${n % 1000}#sa-${n}`,
      `SCOPE#issuer:${ISSUER} DAY#ns-${n % 1000}#2024-05-15`,
      `SCOPES issuer:${ISSUER}`,
      `SCOPE#issuer:${ISSUER} SA#ns-${n % 1000}#sa-${n}`,
      `SCOPE#issuer:${ISSUER} DAY#ns-${n % 1000}#2024-05-15`,
      `ROLE#arn:aws:iam::${ACCOUNT}:role/r-${n % 7} ROLE`,
      `ROLE#arn:aws:iam::${ACCOUNT}:role/r-${n % 7} NS#ns-${n % 1000}`,
    ];
    const wrong: number[] = [];
    for (const n of [0, 1, 999, 1000, 0, 1]) if (keysOf(n).join('\n') !== expected(n).join('\n')) wrong.push(n);
    for (let n = 2000; n < 202_000; n += 1) itemsOf(irsa({ namespace: 'many', serviceAccount: `sa-${n}` }));
    for (const n of [0, 1, 999, 1000, 201_999]) if (keysOf(n).join('\n') !== expected(n).join('\n')) wrong.push(n);
    expect(wrong).toEqual([]);
  });
});

describe('eventsFeeding', () => {
  const batch = [
    irsa({ eventId: 'e-1', eventTime: '2024-05-15T09:00:00Z' }),
    irsa({ eventId: 'e-2', eventTime: '2024-05-16T10:00:00Z', outcome: 'denied', errorCode: 'AccessDenied' }),
    irsa({ eventId: 'e-3', eventTime: '2024-05-15T11:00:00Z', serviceAccount: 'worker' }),
  ];
  const spikes = { detection: { spikeWindowMinutes: 10 } };
  const delta = (sk: string, options = {}) => aggregate(batch, options).find((d) => d.item.sk.startsWith(sk))!.item;

  it('finds the events whose evidence went into the items given, in the batch order', () => {
    expect(eventsFeeding(batch, [delta('DAY#billing#2024-05-15')]).map((e) => e.eventId)).toEqual(['e-1', 'e-3']);
    expect(eventsFeeding(batch, [delta('SA#billing#worker'), delta('DAY#billing#2024-05-16')]).map((e) => e.eventId)).toEqual(['e-2', 'e-3']);
    expect(eventsFeeding(batch, [delta(`issuer:${ISSUER}`)]).map((e) => e.eventId)).toEqual(['e-1', 'e-2', 'e-3']);
    expect(eventsFeeding(batch, [])).toEqual([]);
  });

  it("finds the detections' items too when folded with them: a spike's counter fed by the denied call alone", () => {
    const spike = aggregate(batch, spikes).find((d) => d.item.type === 'spike')!.item;
    expect(eventsFeeding(batch, [spike], spikes).map((e) => e.eventId)).toEqual(['e-2']);
    expect(eventsFeeding(batch, [spike])).toEqual([]);
  });
});

describe('itemsOf: what each kind of event contributes', () => {
  it('files an IRSA assume under its OIDC issuer: scope, service account and day', () => {
    const items = itemsOf(irsa());

    expect(keys(items)).toEqual([
      `SCOPES issuer:${ISSUER} scope`,
      `SCOPE#issuer:${ISSUER} SA#billing#api sa`,
      `SCOPE#issuer:${ISSUER} DAY#billing#2024-05-15 day`,
    ]);
    expect(items[0]).toEqual({ pk: 'SCOPES', sk: `issuer:${ISSUER}`, type: 'scope', kind: 'issuer', name: ISSUER, account: ACCOUNT, region: REGION, oidcIssuer: ISSUER });
    expect(items[1]).toEqual({
      pk: `SCOPE#issuer:${ISSUER}`,
      sk: 'SA#billing#api',
      type: 'sa',
      scope: `issuer:${ISSUER}`,
      account: ACCOUNT,
      region: REGION,
      namespace: 'billing',
      serviceAccount: 'api',
      oidcIssuer: ISSUER,
      roles: [IRSA_ROLE],
      places: [`${ACCOUNT}/${REGION}`],
      irsaOk: 1,
      irsaFailed: 0,
      irsaFirstOk: T0,
      irsaLastOk: T0,
      irsaFirstAttempt: T0,
      irsaLastAttempt: T0,
      irsaLastFailed: null,
      irsaLastError: null,
    });
    expect(items[2]).toEqual({
      pk: `SCOPE#issuer:${ISSUER}`,
      sk: 'DAY#billing#2024-05-15',
      type: 'day',
      scope: `issuer:${ISSUER}`,
      namespace: 'billing',
      day: '2024-05-15',
      irsaOk: 1,
      irsaFailed: 0,
    });
    // IRSA evidence is never filed under a cluster: the issuer is mapped through the inventory later.
    expect(items.every((i) => i['cluster'] === undefined && i['clusterArn'] === undefined)).toBe(true);
  });

  it('counts a denied IRSA assume as a failed attempt with its error', () => {
    const [, saItem, day] = itemsOf(irsa({ outcome: 'denied', errorCode: 'AccessDenied' }));

    expect(saItem).toMatchObject({ irsaOk: 0, irsaFailed: 1, irsaFirstOk: null, irsaLastOk: null, irsaFirstAttempt: T0, irsaLastAttempt: T0, irsaLastFailed: T0, irsaLastError: 'AccessDenied' });
    expect(day).toMatchObject({ irsaOk: 0, irsaFailed: 1 });
  });

  it('files an IRSA assume without a service-account subject under namespace "?"', () => {
    const items = itemsOf(irsa({ namespace: null, serviceAccount: null, roleArn: null }));

    expect(items.map((i) => i.sk)).toEqual([`issuer:${ISSUER}`, 'SA#?#?', 'DAY#?#2024-05-15']);
    expect(items[1]).toMatchObject({ namespace: '?', serviceAccount: '?', roles: [] });
  });

  it('files a tagged Pod Identity assume under its cluster, with the pod', () => {
    const items = itemsOf(podIdentity());

    expect(keys(items)).toEqual([
      `SCOPES cluster:${CLUSTER_ARN} scope`,
      `SCOPE#cluster:${CLUSTER_ARN} SA#billing#api sa`,
      `SCOPE#cluster:${CLUSTER_ARN} DAY#billing#2024-05-15 day`,
    ]);
    expect(items[0]).toMatchObject({ kind: 'cluster', name: CLUSTER_ARN, cluster: CLUSTER, clusterArn: CLUSTER_ARN });
    expect(items[1]).toMatchObject({
      scope: `cluster:${CLUSTER_ARN}`,
      cluster: CLUSTER,
      clusterArn: CLUSTER_ARN,
      roles: [PI_ROLE],
      lastPod: 'api-7d9f-abcde',
      piOk: 1,
      piFailed: 0,
      piFirstOk: T0,
      piLastOk: T0,
    });
    expect(items[1]!['irsaOk']).toBeUndefined();
    expect(items[2]).toEqual({
      pk: `SCOPE#cluster:${CLUSTER_ARN}`,
      sk: 'DAY#billing#2024-05-15',
      type: 'day',
      scope: `cluster:${CLUSTER_ARN}`,
      namespace: 'billing',
      day: '2024-05-15',
      piOk: 1,
      piFailed: 0,
    });
  });

  it('files an untagged Pod Identity assume (disableSessionTags) under its role as UNTAGGED', () => {
    const items = itemsOf(podIdentity({ cluster: null, clusterArn: null, namespace: null, serviceAccount: null, podName: null, podUid: null, sessionTagsMissing: true }));

    expect(keys(items)).toEqual([`SCOPES role:${PI_ROLE} scope`, `SCOPE#role:${PI_ROLE} UNTAGGED untagged`]);
    expect(items[0]).toMatchObject({ kind: 'role', name: PI_ROLE, roleArn: PI_ROLE });
    expect(items[1]).toEqual({
      pk: `SCOPE#role:${PI_ROLE}`,
      sk: 'UNTAGGED',
      type: 'untagged',
      scope: `role:${PI_ROLE}`,
      roleArn: PI_ROLE,
      account: ACCOUNT,
      region: REGION,
      piOk: 1,
      piFailed: 0,
      piFirstOk: T0,
      piLastOk: T0,
      piFirstAttempt: T0,
      piLastAttempt: T0,
      piLastFailed: null,
      piLastError: null,
    });
  });

  it('treats a Pod Identity assume that names a cluster but no namespace as untagged', () => {
    expect(itemsOf(podIdentity({ namespace: null })).map((i) => i.type)).toEqual(['scope', 'untagged']);
  });

  it('files a Pod Identity fetch as cluster scope, daily fetch counts, fetch by node role and the node role\'s clusters', () => {
    const items = itemsOf(fetch({ outcome: 'denied', errorCode: 'AccessDenied' }));

    expect(keys(items)).toEqual([
      `SCOPES cluster:${CLUSTER_ARN} scope`,
      `SCOPE#cluster:${CLUSTER_ARN} CDAY#2024-05-15 fetch-day`,
      `SCOPE#cluster:${CLUSTER_ARN} FETCH#${NODE_ROLE} fetch`,
      `SCOPE#noderole:${NODE_ROLE} CLUSTERS node-clusters`,
    ]);
    expect(items[1]).toMatchObject({ day: '2024-05-15', fetchOk: 0, fetchFailed: 1 });
    expect(items[2]).toMatchObject({
      nodeRoleArn: NODE_ROLE,
      fetchOk: 0,
      fetchFailed: 1,
      fetchLastFailed: T0,
      fetchLastError: 'AccessDenied',
      failedNodes: ['i-0aaa'],
      lastFailedNode: 'i-0aaa',
    });
    expect(items[3]).toEqual({
      pk: `SCOPE#noderole:${NODE_ROLE}`,
      sk: 'CLUSTERS',
      type: 'node-clusters',
      scope: `noderole:${NODE_ROLE}`,
      nodeRoleArn: NODE_ROLE,
      clusterArns: [CLUSTER_ARN],
    });
  });

  it('records no failed node for a successful fetch', () => {
    const [, day, fetchItem] = itemsOf(fetch());

    expect(day).toMatchObject({ fetchOk: 1, fetchFailed: 0 });
    expect(fetchItem).toMatchObject({ fetchOk: 1, fetchFailed: 0, failedNodes: [], lastFailedNode: null, fetchLastError: null });
  });

  it('files a fetch without a node role as cluster scope and daily counts only', () => {
    expect(keys(itemsOf(fetch({ nodeRoleArn: null })))).toEqual([
      `SCOPES cluster:${CLUSTER_ARN} scope`,
      `SCOPE#cluster:${CLUSTER_ARN} CDAY#2024-05-15 fetch-day`,
    ]);
  });

  it('files a node-role call under its node role: scope, call by action and day', () => {
    const items = itemsOf(nodeCall({ imdsVersion: '1.0', outcome: 'denied', errorCode: 'AccessDenied' }));

    expect(keys(items)).toEqual([
      `SCOPES noderole:${NODE_ROLE} scope`,
      `SCOPE#noderole:${NODE_ROLE} CALL#s3:ListBuckets node-call`,
      `SCOPE#noderole:${NODE_ROLE} NDAY#2024-05-15 node-day`,
    ]);
    expect(items[0]).toMatchObject({ kind: 'noderole', name: NODE_ROLE, roleArn: NODE_ROLE });
    expect(items[1]).toMatchObject({
      nodeRoleArn: NODE_ROLE,
      action: 's3:ListBuckets',
      callOk: 0,
      callFailed: 1,
      callLastAttempt: T0,
      callLastError: 'AccessDenied',
      instances: ['i-0aaa'],
      imdsVersions: ['1.0'],
      lastUserAgent: 'aws-cli/2.15',
      lastInstance: 'i-0aaa',
    });
    expect(items[2]).toEqual({ pk: `SCOPE#noderole:${NODE_ROLE}`, sk: 'NDAY#2024-05-15', type: 'node-day', scope: `noderole:${NODE_ROLE}`, day: '2024-05-15', callOk: 0, callFailed: 1 });
  });

  it('gives nothing for an event missing the id of its scope', () => {
    const orphans = [
      irsa({ oidcIssuer: null }),
      podIdentity({ clusterArn: null, roleArn: null }),
      podIdentity({ namespace: null, roleArn: null }),
      fetch({ clusterArn: null }),
      nodeCall({ nodeRoleArn: null }),
    ];

    for (const e of orphans) expect(itemsOf(e)).toEqual([]);
    expect(aggregate(orphans)).toEqual([]);
  });

  it('files a day by the UTC date of the event time', () => {
    expect(itemsOf(irsa({ eventTime: '2024-05-15T23:59:59Z' }))[2]!.sk).toBe('DAY#billing#2024-05-15');
    expect(itemsOf(irsa({ eventTime: '2024-05-16T00:00:00Z' }))[2]!.sk).toBe('DAY#billing#2024-05-16');
  });
});
