import { describe, expect, it } from 'vitest';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { eventIdOfGuardKey, ingestBatch } from '../../functions/core/ingest';
import { emptyInventory } from '../../functions/core/inventory';
import { assessReadiness } from '../../functions/core/readiness';
import { identityEvent } from '../support/events';
import { MemoryStore as MemoryPort } from '../support/memory-store';

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const CLUSTER_ARN = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/payments`;
const ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/PAYMENTS0000000000000000000000001`;
const NOW = new Date('2024-05-15T12:00:00Z');

function event(kind: IdentityEvent['kind'], fields: Partial<IdentityEvent>): IdentityEvent {
  return identityEvent(kind, { eventId: 'e-?', eventTime: '2024-05-15T09:00:00Z', account: ACCOUNT, region: REGION, ...fields });
}

const irsa = (eventId: string, fields: Partial<IdentityEvent> = {}) =>
  event('irsa', {
    eventId,
    action: 'sts:AssumeRoleWithWebIdentity',
    oidcIssuer: ISSUER,
    namespace: 'billing',
    serviceAccount: 'api',
    roleArn: `arn:aws:iam::${ACCOUNT}:role/api-irsa`,
    ...fields,
  });
const podIdentity = (eventId: string, fields: Partial<IdentityEvent> = {}) =>
  event('pod-identity', {
    eventId,
    cluster: 'payments',
    clusterArn: CLUSTER_ARN,
    namespace: 'billing',
    serviceAccount: 'api',
    roleArn: `arn:aws:iam::${ACCOUNT}:role/api-pi`,
    podName: 'api-1',
    sessionTagsMissing: false,
    ...fields,
  });


const SA_PK = `SCOPE#issuer:${ISSUER}`;

const batch = (): IdentityEvent[] => [
  irsa('e-1', { eventTime: '2024-05-14T08:00:00Z' }),
  irsa('e-2', { eventTime: '2024-05-15T09:00:00Z', outcome: 'denied', errorCode: 'AccessDenied' }),
  irsa('e-3', { eventTime: '2024-05-15T10:00:00Z', serviceAccount: 'worker' }),
  podIdentity('e-4', { eventTime: '2024-05-15T11:00:00Z' }),
];

describe('ingestBatch', () => {
  it('writes each item key of a batch once, from all its events', async () => {
    const port = new MemoryPort();

    const result = await ingestBatch(batch(), port, NOW);

    expect(result).toEqual({ events: 4, replayed: 0, itemsWritten: 8, itemsUnchanged: 0, failedEventIds: [], errors: [], alerts: [] });
    expect([...port.items.keys()].sort()).toEqual(
      [
        `SCOPES issuer:${ISSUER}`,
        `SCOPES cluster:${CLUSTER_ARN}`,
        `${SA_PK} SA#billing#api`,
        `${SA_PK} SA#billing#worker`,
        `${SA_PK} DAY#billing#2024-05-14`,
        `${SA_PK} DAY#billing#2024-05-15`,
        `SCOPE#cluster:${CLUSTER_ARN} SA#billing#api`,
        `SCOPE#cluster:${CLUSTER_ARN} DAY#billing#2024-05-15`,
      ].sort(),
    );
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({
      irsaOk: 1,
      irsaFailed: 1,
      irsaFirstAttempt: '2024-05-14T08:00:00Z',
      irsaLastAttempt: '2024-05-15T09:00:00Z',
      irsaLastError: 'AccessDenied',
    });
  });

  it('leaves every item identical when the same batch is replayed, and reports all of it as replayed', async () => {
    const port = new MemoryPort();
    await ingestBatch(batch(), port, NOW);
    const before = port.snapshot();
    const verdictsBefore = assessReadiness({ items: [...before.values()], inventory: emptyInventory(), coverage: [] }, { asOf: NOW });

    const replay = await ingestBatch(batch(), port, new Date('2024-05-16T00:00:00Z'));

    expect(replay).toEqual({ events: 4, replayed: 4, itemsWritten: 0, itemsUnchanged: 0, failedEventIds: [], errors: [], alerts: [] });
    expect(port.items).toEqual(before);
    expect(assessReadiness({ items: [...port.items.values()], inventory: emptyInventory(), coverage: [] }, { asOf: NOW })).toEqual(verdictsBefore);
  });

  it('counts an event once when a replay overlaps new events, and moves only what the new events tell', async () => {
    const port = new MemoryPort();
    await ingestBatch(batch(), port, NOW);

    const result = await ingestBatch([...batch(), irsa('e-5', { eventTime: '2024-05-15T11:30:00Z' })], port, NOW);

    expect(result).toMatchObject({ events: 5, replayed: 4, failedEventIds: [] });
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({ irsaOk: 2, irsaFailed: 1, irsaLastAttempt: '2024-05-15T11:30:00Z', irsaFirstAttempt: '2024-05-14T08:00:00Z' });
    expect(port.get(SA_PK, 'DAY#billing#2024-05-15')).toMatchObject({ irsaOk: 2, irsaFailed: 1 });
    expect(port.get(SA_PK, 'SA#billing#worker')).toMatchObject({ irsaOk: 1 });
  });

  it('counts a duplicate within one batch once, and reports the duplicate as replayed', async () => {
    const port = new MemoryPort();
    const e1 = irsa('e-1');

    const result = await ingestBatch([e1, e1, irsa('e-2'), e1], port, NOW);

    expect(result).toMatchObject({ events: 4, replayed: 2, failedEventIds: [] });
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({ irsaOk: 2, irsaFailed: 0 });
    expect(port.get(SA_PK, 'DAY#billing#2024-05-15')).toMatchObject({ irsaOk: 2 });
  });

  it('keeps the journal of a batch whose item write failed and returns those events as failedEventIds', async () => {
    const port = new MemoryPort();
    port.failing.add(`${SA_PK} DAY#billing#2024-05-15`);

    const result = await ingestBatch(batch(), port, NOW);

    expect(result.failedEventIds).toEqual(['e-2', 'e-3']);
    expect(result.errors).toEqual([new Error(`throttled: ${SA_PK} DAY#billing#2024-05-15`)]);
    expect(result).toMatchObject({ events: 4, replayed: 0, itemsWritten: 7 });
    expect(port.get(SA_PK, 'DAY#billing#2024-05-15')).toBeUndefined();
    // committed, not completed: nobody may count these events again, and the journal still has them
    expect(port.journals.size).toBe(1);
    expect([...port.pending.keys()].map(eventIdOfGuardKey).sort()).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
  });

  it('finishes a failed batch from its journal at the next batch, counting nothing twice', async () => {
    const port = new MemoryPort();
    port.failing.add(`${SA_PK} DAY#billing#2024-05-15`);
    await ingestBatch(batch(), port, NOW);
    const apiBefore = port.get(SA_PK, 'SA#billing#api');

    const retry = await ingestBatch(batch(), port, NOW);

    expect(retry).toMatchObject({ events: 4, replayed: 4, itemsWritten: 0, failedEventIds: [], errors: [] });
    expect(port.get(SA_PK, 'DAY#billing#2024-05-15')).toMatchObject({ irsaOk: 1, irsaFailed: 1 });
    expect(port.get(SA_PK, 'DAY#billing#2024-05-14')).toMatchObject({ irsaOk: 1, irsaFailed: 0 });
    // e-2 fed SA#billing#api (written the first time) and the failed day item: counted once in each
    expect(port.get(SA_PK, 'SA#billing#api')).toEqual(apiBefore);
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({ irsaOk: 1, irsaFailed: 1 });
    expect([...port.claimed].map(eventIdOfGuardKey).sort()).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
    expect(port.journals.size).toBe(0);
    // A third delivery changes nothing.
    const before = port.snapshot();
    expect(await ingestBatch(batch(), port, NOW)).toMatchObject({ replayed: 4, itemsWritten: 0 });
    expect(port.items).toEqual(before);
  });

  it('refuses new batches while a committed journal cannot be finished, and counts exactly once after', async () => {
    const port = new MemoryPort();
    port.failAlways = true;
    port.failing.add(`SCOPE#cluster:${CLUSTER_ARN} SA#billing#api`);

    const first = await ingestBatch(batch(), port, NOW);
    await expect(ingestBatch(batch(), port, NOW)).rejects.toThrow('throttled');

    expect(first.failedEventIds).toEqual(['e-4']);
    expect([...port.claimed].map(eventIdOfGuardKey)).not.toContain('e-4');
    port.failing.clear();
    expect(await ingestBatch(batch(), port, NOW)).toMatchObject({ replayed: 4, failedEventIds: [] });
    expect(port.get(`SCOPE#cluster:${CLUSTER_ARN}`, 'SA#billing#api')).toMatchObject({ piOk: 1 });
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({ irsaOk: 1, irsaFailed: 1 });
  });

  it('reports every event of a batch whose apply threw after its commit, and finishes it at the next batch: the retry is a replay', async () => {
    const port = new MemoryPort();
    port.applyThrows = new Error('ProvisionedThroughputExceededException');

    const first = await ingestBatch(batch(), port, NOW);
    expect(first.failedEventIds).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
    expect(first.errors).toEqual([new Error('ProvisionedThroughputExceededException')]);
    expect(port.journals.size).toBe(1);

    const retry = await ingestBatch(batch(), port, NOW);
    expect(retry).toMatchObject({ events: 4, replayed: 4, itemsWritten: 0, failedEventIds: [] });
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({ irsaOk: 1, irsaFailed: 1 });
    expect(port.get(SA_PK, 'DAY#billing#2024-05-15')).toMatchObject({ irsaOk: 1, irsaFailed: 1 });
  });

  it('drops only this batch\'s claims when it fails before its commit, so a retry counts its events', async () => {
    const port = new MemoryPort();
    await ingestBatch([irsa('e-1')], port, NOW);
    port.commitThrows = new Error('boom');

    await expect(ingestBatch([irsa('e-1'), irsa('e-9')], port, NOW)).rejects.toThrow('boom');

    expect([...port.claimed].map(eventIdOfGuardKey)).toEqual(['e-1']);
    expect(port.pending.size).toBe(0);
    expect(await ingestBatch([irsa('e-1'), irsa('e-9')], port, NOW)).toMatchObject({ replayed: 1, failedEventIds: [] });
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({ irsaOk: 2 });
  });

  it('counts the events of a batch that died before its commit on the retry, once', async () => {
    const port = new MemoryPort();
    // a claim left by a run killed before its journal was written
    await port.claimEvents([{ eventId: 'e-1', eventTime: '2024-05-15T09:00:00Z' }]);

    const retry = await ingestBatch([irsa('e-1')], port, NOW);

    expect(retry).toMatchObject({ replayed: 0, failedEventIds: [] });
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({ irsaOk: 1 });
  });

  it('does nothing for an empty batch', async () => {
    const port = new MemoryPort();

    expect(await ingestBatch([], port, NOW)).toEqual({ events: 0, replayed: 0, itemsWritten: 0, itemsUnchanged: 0, failedEventIds: [], errors: [], alerts: [] });
    expect(port.items.size).toBe(0);
  });
});
