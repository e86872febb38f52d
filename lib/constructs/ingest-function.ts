import { Duration, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INGEST_BATCH_SIZE } from './ingest-batching';
import { WatchFunction } from './watch-function';

/** The ingest's timeout; the queue's visibility timeout is derived from it (IngestBuffer). */
export const INGEST_TIMEOUT = Duration.seconds(60);
/**
 * How long the poller gathers messages before invoking (at most 300 s,
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html). A batch's writes grow
 * with the keys it touches, not its events (docs/architecture.md §4), and each batch has a fixed
 * part (the writer lease, the journal, the heartbeat): the longer window is what makes the write
 * cost per event fall (docs/deploy.md §7); alerts wait for it, at most five minutes more.
 */
export const INGEST_BATCHING_WINDOW = Duration.seconds(300);
/**
 * Batches are written one at a time under the table's writer lease, so more concurrent invocations
 * would only wait for it; 2 is the least the setting takes
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html#events-sqs-max-concurrency).
 */
export const INGEST_MAX_CONCURRENCY = 2;

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
        maxConcurrency: INGEST_MAX_CONCURRENCY,
        reportBatchItemFailures: true,
      }),
    );
    Validations.of(this).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason: 'an SQS event source has no OnFailure destination: a message failing maxReceiveCount times moves to the queue redrive DLQ (IngestBuffer), which is alarmed',
    });
  }
}
