import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../functions/core/table-schema';
import { CutoverWatchStack } from '../../lib/cutover-watch-stack';

describe('evidence table', () => {
  const template = Template.fromStack(new CutoverWatchStack(new App(), 'Test'));

  it('deploys the key schema the embedded store uses', () => {
    const [table] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    expect(table?.['Properties']['KeySchema']).toEqual([
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
    ]);
    expect(table?.['Properties']['TimeToLiveSpecification']).toEqual({ AttributeName: TABLE_SCHEMA.timeToLiveAttribute, Enabled: true });
  });

  it('keeps the evidence when the stack goes, with point-in-time recovery and on-demand billing', () => {
    const [table] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    expect(table?.['DeletionPolicy']).toBe('Retain');
    expect(table?.['Properties']['BillingMode']).toBe('PAY_PER_REQUEST');
    expect(table?.['Properties']['Replicas'][0]['PointInTimeRecoverySpecification']).toEqual({ PointInTimeRecoveryEnabled: true });
  });
});
