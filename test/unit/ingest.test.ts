import { describe, expect, it } from 'vitest';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { ingestBatch } from '../../functions/core/ingest';
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

  it('releases the claims of the events behind a failed item and returns them as failedEventIds', async () => {
    const port = new MemoryPort();
    port.failing.add(`${SA_PK} DAY#billing#2024-05-15`);

    const result = await ingestBatch(batch(), port, NOW);

    expect(result.failedEventIds).toEqual(['e-2', 'e-3']);
    expect(result.errors).toEqual([new Error(`throttled: ${SA_PK} DAY#billing#2024-05-15`)]);
    expect(result).toMatchObject({ events: 4, replayed: 0, itemsWritten: 7 });
    expect(port.released).toEqual([['e-2', 'e-3']]);
    expect([...port.claimed].sort()).toEqual(['e-1', 'e-4']);
    expect(port.get(SA_PK, 'DAY#billing#2024-05-15')).toBeUndefined();
  });

  it('counts the failed item\'s events on retry, exactly once there', async () => {
    const port = new MemoryPort();
    port.failing.add(`${SA_PK} DAY#billing#2024-05-15`);
    await ingestBatch(batch(), port, NOW);

    const retry = await ingestBatch(batch(), port, NOW);

    expect(retry).toMatchObject({ events: 4, replayed: 2, failedEventIds: [], errors: [] });
    expect(port.get(SA_PK, 'DAY#billing#2024-05-15')).toMatchObject({ irsaOk: 1, irsaFailed: 1 });
    expect(port.get(SA_PK, 'DAY#billing#2024-05-14')).toMatchObject({ irsaOk: 1, irsaFailed: 0 });
    expect([...port.claimed].sort()).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
    // A third delivery changes nothing.
    const before = port.snapshot();
    expect(await ingestBatch(batch(), port, NOW)).toMatchObject({ replayed: 4, itemsWritten: 0 });
    expect(port.items).toEqual(before);
  });

  it('counts a retried event twice in items it had already written (documented approximation); timestamps stay put', async () => {
    const port = new MemoryPort();
    port.failing.add(`${SA_PK} DAY#billing#2024-05-15`);
    await ingestBatch(batch(), port, NOW);
    const apiBefore = port.get(SA_PK, 'SA#billing#api')!;

    await ingestBatch(batch(), port, NOW);

    // e-2 fed SA#billing#api (written) and the failed day item: its retry counts it again in the former.
    expect(apiBefore).toMatchObject({ irsaOk: 1, irsaFailed: 1 });
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({
      irsaOk: 1,
      irsaFailed: 2,
      irsaFirstAttempt: apiBefore['irsaFirstAttempt'],
      irsaLastAttempt: apiBefore['irsaLastAttempt'],
      irsaLastFailed: apiBefore['irsaLastFailed'],
    });
  });

  it('keeps returning the events of an item that keeps failing, so nothing is claimed without evidence', async () => {
    const port = new MemoryPort();
    port.failAlways = true;
    port.failing.add(`SCOPE#cluster:${CLUSTER_ARN} SA#billing#api`);

    const first = await ingestBatch(batch(), port, NOW);
    const second = await ingestBatch(batch(), port, NOW);

    expect(first.failedEventIds).toEqual(['e-4']);
    expect(second).toMatchObject({ replayed: 3, failedEventIds: ['e-4'] });
    expect(port.claimed.has('e-4')).toBe(false);
  });

  it('releases every claim of the batch when apply itself throws, so a retry writes the evidence', async () => {
    const port = new MemoryPort();
    port.applyThrows = new Error('ProvisionedThroughputExceededException');

    await expect(ingestBatch(batch(), port, NOW)).rejects.toThrow('ProvisionedThroughputExceededException');
    expect(port.claimed.size).toBe(0);

    const retry = await ingestBatch(batch(), port, NOW);
    expect(retry).toMatchObject({ events: 4, replayed: 0, itemsWritten: 8, failedEventIds: [] });
    expect(port.get(SA_PK, 'SA#billing#api')).toMatchObject({ irsaOk: 1, irsaFailed: 1 });
  });

  it('releases only the claims this batch made when apply throws, never those of earlier batches', async () => {
    const port = new MemoryPort();
    await ingestBatch([irsa('e-1')], port, NOW);
    port.applyThrows = new Error('boom');

    await expect(ingestBatch([irsa('e-1'), irsa('e-9')], port, NOW)).rejects.toThrow('boom');

    expect([...port.claimed]).toEqual(['e-1']);
    expect(port.released).toEqual([['e-9']]);
  });

  it('does nothing for an empty batch', async () => {
    const port = new MemoryPort();

    expect(await ingestBatch([], port, NOW)).toEqual({ events: 0, replayed: 0, itemsWritten: 0, itemsUnchanged: 0, failedEventIds: [], errors: [], alerts: [] });
    expect(port.items.size).toBe(0);
  });
});
