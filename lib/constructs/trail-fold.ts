import { Aws, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Construct } from 'constructs';
import { acknowledgeWildcards, nagRef } from '../nag';
import { DeadLetterQueue } from './dead-letter-queue';
import { invokeOnSchedules } from './scheduled-invocations';
import { WatchFunction } from './watch-function';

/** The fold's longest run: Lambda's maximum, so a day of a large trail after an outage fits in few runs. */
export const TRAIL_FOLD_TIMEOUT = Duration.minutes(15);

export interface TrailFoldProps {
  readonly table: ITableV2;
  /** The trail's bucket: its name (in this account, or another whose bucket policy lets the fold's role read), or the stack's own trail bucket. */
  readonly bucket: string | IBucket;
  /** Above the account folders: `AWSLogs/`, or `AWSLogs/<organization id>/` for an organization trail. */
  readonly prefix: string;
  /** Accounts whose folders are read. Empty: every account folder under the prefix. */
  readonly accounts: readonly string[];
  /** Regions whose folders are read. */
  readonly regions: readonly string[];
  /** Days before today listed too. */
  readonly lookbackDays: number;
  /** The trail's KMS key, when it encrypts its objects with SSE-KMS. */
  readonly kmsKeyArn?: string;
  /** EventBridge Scheduler expression. */
  readonly schedule: string;
  /** The deployment's exact node role ARNs (besides the inventory's and those seen fetching). */
  readonly nodeRoleArns: readonly string[];
  readonly policyDocument?: unknown;
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The trail fold: a scheduled function that reads the trail's new log objects into the table
 * (functions/adapters/trail-fold.ts), with read-only access to the trail's prefix and its own
 * dead-letter queue for runs that could not be invoked or failed every retry.
 */
export class TrailFold extends Construct {
  readonly fold: WatchFunction<'trail-fold'>;
  readonly deadLetterQueue: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: TrailFoldProps) {
    super(scope, id);
    const bucketName = typeof props.bucket === 'string' ? props.bucket : props.bucket.bucketName;
    const bucketArn = typeof props.bucket === 'string' ? `arn:${Aws.PARTITION}:s3:::${props.bucket}` : props.bucket.bucketArn;
    // How cdk-nag writes the bucket's ARN in a finding: the partition as `<AWS::Partition>`, a bucket of the stack by its reference.
    const nagBucketArn = typeof props.bucket === 'string' ? `arn:<AWS::Partition>:s3:::${props.bucket}` : nagRef(props.bucket);
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetterQueue', { holds: 'scheduled trail fold runs that could not be invoked or failed every retry' });
    this.fold = new WatchFunction(this, 'Fold', {
      handler: 'trail-fold',
      description: "cutover-watch: reads the trail's new CloudTrail log objects from S3 into the evidence table",
      timeout: TRAIL_FOLD_TIMEOUT,
      memorySize: 1024,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: {
        TABLE_NAME: props.table.tableName,
        TRAIL_BUCKET: bucketName,
        TRAIL_PREFIX: props.prefix,
        TRAIL_ACCOUNTS: props.accounts.length > 0 ? props.accounts.join(',') : undefined,
        TRAIL_REGIONS: props.regions.join(','),
        TRAIL_LOOKBACK_DAYS: String(props.lookbackDays),
        NODE_ROLE_ARNS: props.nodeRoleArns.join(','),
        POLICY: props.policyDocument === undefined ? undefined : JSON.stringify(props.policyDocument),
      },
      // A retry is cheap and safe: objects recorded as read are skipped, events counted once.
      invocation: { kind: 'asynchronous', onFailure: new SqsDestination(this.deadLetterQueue), retryAttempts: 2 },
    });
    props.table.grantReadWriteData(this.fold.function);

    this.fold.role.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'ListTrailPrefix', actions: ['s3:ListBucket'], resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${props.prefix}*`] } } }),
    );
    this.fold.role.addToPrincipalPolicy(new PolicyStatement({ sid: 'ReadTrailObjects', actions: ['s3:GetObject'], resources: [`${bucketArn}/${props.prefix}*`] }));
    if (props.kmsKeyArn) {
      // SSE-KMS objects are decrypted by S3 on the reader's behalf (S3 user guide, "Using server-side encryption with AWS KMS keys").
      this.fold.role.addToPrincipalPolicy(
        new PolicyStatement({ sid: 'DecryptTrailObjects', actions: ['kms:Decrypt'], resources: [props.kmsKeyArn], conditions: { StringLike: { 'kms:ViaService': 's3.*.amazonaws.com' } } }),
      );
    }
    acknowledgeWildcards(this.fold.role, [
      [`Resource::${nagBucketArn}/${props.prefix}*`, "CloudTrail names every log object (account, region, date, random part): the fold reads any object under the trail's prefix, nothing else in the bucket"],
    ]);

    invokeOnSchedules(this, {
      roleDescription: 'cutover-watch: EventBridge Scheduler invokes the trail fold',
      deadLetterQueue: this.deadLetterQueue,
      schedules: [{ id: 'Schedule', function: this.fold.function, expression: props.schedule, description: 'cutover-watch trail fold' }],
      why: "added by grantInvoke for the function's versions and aliases; the schedule invokes $LATEST of the fold only",
    });
  }
}
