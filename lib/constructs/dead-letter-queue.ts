import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export interface DeadLetterQueueProps {
  /** What lands here, for the queue's operators (kept in the acknowledgement reasons). */
  readonly holds: string;
  /**
   * Whether another queue's redrive policy names this one (cdk-nag then sees it as a DLQ).
   * @default false - EventBridge, an event source mapping, SNS or Lambda destinations name it
   */
  readonly redriveTarget?: boolean;
}

/**
 * A dead-letter queue with the house defaults: SQS-managed encryption (EventBridge, SNS and Lambda
 * can send without a key grant), TLS only, and the longest retention SQS allows, so a failure
 * found on Monday is still there to redrive.
 */
export class DeadLetterQueue extends Queue {
  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    // A dead-letter queue is the end of the line: redriving it further would only move the problem.
    Validations.of(this).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: `this queue is itself a dead-letter queue (alarmed when not empty): it holds ${props.holds}` });
    // AwsSolutions-SQS3 recognises a DLQ only when a queue's RedrivePolicy or a function's
    // DeadLetterConfig names it; EventBridge targets, event source mappings, SNS subscriptions and
    // Lambda destinations name theirs elsewhere.
    if (!props.redriveTarget) {
      Validations.of(this).acknowledge({ id: 'AwsSolutions-SQS3', reason: `this queue is itself a dead-letter queue (alarmed when not empty): it holds ${props.holds}` });
    }
  }
}
