import { Duration } from 'aws-cdk-lib';
import type { IRuleTarget } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DeadLetterQueue } from './dead-letter-queue';

export interface IngestBufferProps {
  /** The consuming function's timeout; the queue's visibility timeout is derived from it. */
  readonly consumerTimeout: Duration;
  /** The event source mapping's batching window, added to the visibility timeout. */
  readonly consumerBatchingWindow: Duration;
  /** A message goes to the DLQ after this many receives. @default 5 */
  readonly maxReceiveCount?: number;
  /** EventBridge retries of a delivery to the queue before the event goes to the delivery DLQ. @default 8 */
  readonly deliveryRetryAttempts?: number;
  /** How long EventBridge keeps retrying a delivery. @default Duration.hours(2) */
  readonly deliveryMaxEventAge?: Duration;
}

/**
 * The SQS buffer between the EventBridge rules and the ingest function, with its two failure
 * paths kept apart (as aws-solutions-constructs' EventbridgeToSqs does): the delivery DLQ catches
 * events EventBridge could not put on the queue, the redrive DLQ catches messages the function
 * failed `maxReceiveCount` times.
 */
export class IngestBuffer extends Construct {
  readonly queue: Queue;
  /** Messages the ingest failed to process `maxReceiveCount` times (queue redrive). */
  readonly deadLetterQueue: DeadLetterQueue;
  /** Events EventBridge failed to deliver to the queue (rule target DLQ). */
  readonly deliveryDeadLetterQueue: DeadLetterQueue;
  readonly visibilityTimeout: Duration;
  private readonly props: IngestBufferProps;

  constructor(scope: Construct, id: string, props: IngestBufferProps) {
    super(scope, id);
    this.props = props;
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetterQueue', {
      holds: 'ingest messages the function failed to process maxReceiveCount times',
      redriveTarget: true,
    });
    this.deliveryDeadLetterQueue = new DeadLetterQueue(this, 'DeliveryDeadLetterQueue', {
      holds: 'CloudTrail events the EventBridge rules could not deliver to the ingest queue after bounded retries',
    });
    // Lambda's guidance for SQS event sources: a visibility timeout of at least 6× the function
    // timeout (room to retry a throttled batch before the message reappears), plus the batching
    // window during which the poller already holds the messages (Lambda developer guide, "Using
    // Lambda with Amazon SQS"). Shorter, and a slow batch is delivered twice while still running.
    this.visibilityTimeout = Duration.seconds(props.consumerTimeout.toSeconds() * 6 + props.consumerBatchingWindow.toSeconds());
    this.queue = new Queue(this, 'Queue', {
      // Encrypted at rest with SQS-managed keys: EventBridge can send without a key grant (a
      // customer key would need a key policy for events.amazonaws.com in every collector path).
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: this.visibilityTimeout,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
  }

  /**
   * The target every CloudTrail rule delivers to. Binding it to a rule adds a queue policy
   * statement for events.amazonaws.com conditioned on that rule's ARN, so only the rules can send.
   */
  ruleTarget(): IRuleTarget {
    return new SqsQueue(this.queue, {
      deadLetterQueue: this.deliveryDeadLetterQueue,
      retryAttempts: this.props.deliveryRetryAttempts ?? 8,
      maxEventAge: this.props.deliveryMaxEventAge ?? Duration.hours(2),
    });
  }
}
