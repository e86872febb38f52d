import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../functions/core/table-schema';
import { only, synth, template } from './app';

describe('evidence table', () => {
  const { home } = synth();
  const [, table] = only(template(home), 'AWS::DynamoDB::GlobalTable');

  it('deploys the key schema the embedded store uses', () => {
    expect(table.Properties['KeySchema']).toEqual([
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
    ]);
    expect(table.Properties['TimeToLiveSpecification']).toEqual({ AttributeName: TABLE_SCHEMA.timeToLiveAttribute, Enabled: true });
  });

  it('keeps the evidence when the stack goes, with point-in-time recovery, encryption and on-demand billing', () => {
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties['BillingMode']).toBe('PAY_PER_REQUEST');
    expect(table.Properties['SSESpecification']).toMatchObject({ SSEEnabled: true });
    expect(table.Properties['Replicas'][0]['PointInTimeRecoverySpecification']).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('streams new images, the alert outbox the publisher reads', () => {
    expect(table.Properties['StreamSpecification']).toEqual({ StreamViewType: 'NEW_IMAGE' });
  });

  it('is deleted with the stack only when retainData is false', () => {
    const { home: disposable } = synth({ retainData: false });
    const [, t] = only(template(disposable), 'AWS::DynamoDB::GlobalTable');
    expect(t.DeletionPolicy).toBe('Delete');
  });
});
