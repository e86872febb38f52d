import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SubscriptionFilter } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription, LambdaSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { ALERT_ATTRIBUTE } from '../../functions/adapters/alert-sinks';
import { Construct } from 'constructs';
import { acknowledgeWildcards } from '../nag';
import { DeadLetterQueue } from './dead-letter-queue';
import { WatchFunction } from './watch-function';

export interface AlertsProps {
  /** The evidence table; its stream must carry new images. */
  readonly table: ITableV2;
  /** Addresses subscribed by email (each confirms the subscription). @default [] */
  readonly emails?: readonly string[];
  /** Secrets Manager secret holding the Slack incoming-webhook URL. @default - no Slack notifier */
  readonly slackSecretName?: string;
  /** For the topic key and the log groups. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The alert outbox and its deliveries: the SNS topic (customer-managed key, TLS only), the alert
 * publisher on the evidence table's stream (only inserted alert items reach it), email
 * subscriptions and the optional Slack notifier.
 */
export class Alerts extends Construct {
  readonly topic: Topic;
  readonly key: Key;
  readonly publisher: WatchFunction<'alert-publisher'>;
  /** Stream batches the publisher failed after bounded retries (the mapping's on-failure destination). */
  readonly publishDeadLetterQueue: DeadLetterQueue;
  /** Notifications SNS could not deliver, and Slack posts that failed every retry. */
  readonly notifyDeadLetterQueue: DeadLetterQueue;
  readonly slackNotifier?: WatchFunction<'slack-notifier'>;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.key = new Key(this, 'TopicKey', {
      description: 'cutover-watch alerts topic',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.topic = new Topic(this, 'Topic', {
      displayName: 'cutover-watch alerts',
      masterKey: this.key,
      enforceSSL: true,
    });
    // The Operations alarms publish here too. CloudWatch needs the topic policy to let it publish
    // and the key policy to let it use the key (SNS developer guide, "Enable compatibility between
    // event sources from AWS services and encrypted topics"), both only for this account's alarms.
    const fromThisAccountsAlarms = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
    };
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisAccountsAlarms,
      }),
    );
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsUseKey',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, "*" is this key
        conditions: fromThisAccountsAlarms,
      }),
    );

    this.publishDeadLetterQueue = new DeadLetterQueue(this, 'PublishDeadLetterQueue', {
      holds: 'stream records of alerts the publisher could not publish after bounded retries',
    });
    this.publisher = new WatchFunction(this, 'Publisher', {
      handler: 'alert-publisher',
      description: 'cutover-watch: publishes alerts inserted in the evidence table to SNS',
      timeout: Duration.seconds(30),
      memorySize: 256,
      logRemovalPolicy: removalPolicy,
      environment: { TOPIC_ARN: this.topic.topicArn },
      invocation: { kind: 'event-source', failurePath: 'batches failing their bounded retries go to the mapping on-failure SQS destination' },
    });
    this.topic.grantPublish(this.publisher.function);
    this.publisher.function.addEventSource(
      new DynamoEventSource(props.table, {
        // From the oldest record: alerts inserted while the mapping is being created are not lost.
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        bisectBatchOnError: true,
        retryAttempts: 5,
        maxRecordAge: Duration.hours(24),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.publishDeadLetterQueue),
        // Evidence updates and replay guards never invoke the publisher (filtered records are not billed).
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { type: { S: FilterRule.isEqual('alert') } } },
          }),
        ],
      }),
    );
    acknowledgeWildcards(this.publisher.role, [
      ['Action::kms:GenerateDataKey*', 'publishing to the KMS-encrypted alerts topic needs a data key (SNS developer guide, "Encryption at rest"); granted on that one key only'],
    ]);

    this.notifyDeadLetterQueue = new DeadLetterQueue(this, 'NotifyDeadLetterQueue', {
      holds: 'alert notifications SNS could not deliver to a subscription, and Slack posts that failed every retry',
    });
    for (const email of props.emails ?? []) {
      this.topic.addSubscription(new EmailSubscription(email, { deadLetterQueue: this.notifyDeadLetterQueue }));
    }

    if (props.slackSecretName !== undefined) {
      const secret = Secret.fromSecretNameV2(this, 'SlackWebhook', props.slackSecretName);
      this.slackNotifier = new WatchFunction(this, 'SlackNotifier', {
        handler: 'slack-notifier',
        description: 'cutover-watch: posts alerts from the topic to Slack',
        timeout: Duration.seconds(30),
        memorySize: 256,
        logRemovalPolicy: removalPolicy,
        environment: { SLACK_SECRET_ARN: secret.secretArn },
        invocation: { kind: 'asynchronous', onFailure: new SqsDestination(this.notifyDeadLetterQueue), retryAttempts: 2 },
      });
      secret.grantRead(this.slackNotifier.function);
      // Only alerts reach Slack: alarm notifications and the weekly report carry no `alert` attribute.
      this.topic.addSubscription(
        new LambdaSubscription(this.slackNotifier.function, {
          deadLetterQueue: this.notifyDeadLetterQueue,
          filterPolicy: { [ALERT_ATTRIBUTE]: SubscriptionFilter.existsFilter() },
        }),
      );
    }
  }
}
