import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, StreamViewType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../../functions/core/table-schema';

export interface EvidenceTableProps {
  /**
   * What happens to the evidence when the stack is deleted.
   * @default RemovalPolicy.RETAIN - evidence outlives the stack; delete the table by hand
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The evidence table, with the key schema the CLI's embedded store uses (core/table-schema.ts):
 * on-demand, point-in-time recovery, encrypted, TTL on replay guards. Its stream (new images) is
 * the alerts outbox: the ingest records an alert once with a conditional put, the alert publisher
 * publishes it from the stream.
 */
export class EvidenceTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: EvidenceTableProps = {}) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryptionV2.awsManagedKey(),
      timeToLiveAttribute: TABLE_SCHEMA.timeToLiveAttribute,
      dynamoStream: StreamViewType.NEW_IMAGE,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
