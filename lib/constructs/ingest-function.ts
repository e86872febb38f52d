import { Duration, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { WatchFunction } from './watch-function';

/** The ingest's timeout; the queue's visibility timeout is derived from it (IngestBuffer). */
export const INGEST_TIMEOUT = Duration.seconds(60);
/** How long the poller gathers messages before invoking (up to INGEST_BATCH_SIZE). */
export const INGEST_BATCHING_WINDOW = Duration.seconds(20);
/**
 * One batch aggregates its events per key and commits one journal before writing (docs/architecture.md
 * §4): bigger batches, fewer writes. 1,000 EventBridge events of CloudTrail records (2-4 KB
 * each) stay under the 6 MB invocation payload; at 20 s the window, not the size, ends most batches.
 */
export const INGEST_BATCH_SIZE = 1000;

export interface IngestFunctionProps {
  readonly queue: IQueue;
  readonly table: ITableV2;
  /** The policy file's document as written. @default - the handler's defaults */
  readonly policyDocument?: unknown;
  /** Node role ARNs the ingest treats as node roles besides those it observes. @default [] */
  readonly nodeRoleArns?: readonly string[];
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The ingest Lambda on the buffer queue: CloudTrail events → evidence and alert items. Partial
 * batch responses, so one bad message is retried (and finally parked in the redrive DLQ) without
 * its batch.
 */
export class IngestFunction extends Construct {
  readonly watchFunction: WatchFunction<'ingest'>;

  constructor(scope: Construct, id: string, props: IngestFunctionProps) {
    super(scope, id);
    this.watchFunction = new WatchFunction(this, 'Handler', {
      handler: 'ingest',
      description: 'cutover-watch: CloudTrail identity events from SQS into the evidence table',
      timeout: INGEST_TIMEOUT,
      memorySize: 1024,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: {
        TABLE_NAME: props.table.tableName,
        NODE_ROLE_ARNS: (props.nodeRoleArns ?? []).join(','),
        POLICY: props.policyDocument === undefined ? undefined : JSON.stringify(props.policyDocument),
      },
      invocation: { kind: 'event-source', failurePath: 'messages failing maxReceiveCount times move to the queue redrive DLQ' },
    });
    const fn = this.watchFunction.function;
    props.table.grantReadWriteData(fn);
    fn.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize: INGEST_BATCH_SIZE,
        maxBatchingWindow: INGEST_BATCHING_WINDOW,
        reportBatchItemFailures: true,
      }),
    );
    Validations.of(this).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason: 'an SQS event source has no OnFailure destination: a message failing maxReceiveCount times moves to the queue redrive DLQ (IngestBuffer), which is alarmed',
    });
  }
}
