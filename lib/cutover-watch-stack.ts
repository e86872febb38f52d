import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { EvidenceTable } from './evidence-table';

/**
 * The home-region stack. For now it holds the evidence table the CLI can query with
 * `--table NAME --region R`; the EventBridge rules, ingest and alerting come with the deployment issue.
 */
export class CutoverWatchStack extends Stack {
  readonly evidence: EvidenceTable;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.evidence = new EvidenceTable(this, 'Evidence');
    new CfnOutput(this, 'EvidenceTableName', {
      value: this.evidence.table.tableName,
      description: 'pass to the CLI: cutover-watch readiness --table <this> --region <region>',
    });
  }
}
