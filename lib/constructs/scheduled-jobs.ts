import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Aws, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { inventoryReadGrants } from '../inventory-read-grants';
import { acknowledgeWildcards, nagRef } from '../nag';
import { DeadLetterQueue } from './dead-letter-queue';
import { invokeOnSchedules } from './scheduled-invocations';
import { REPORTS_PREFIX } from './reports-bucket';
import { WatchFunction } from './watch-function';

export interface ScheduledJobsProps {
  readonly table: ITableV2;
  readonly topic: ITopic;
  readonly reportsBucket: Bucket;
  /** Regions whose EKS clusters the inventory lists (home first). */
  readonly eksRegions: readonly string[];
  /** Soak period of the report's readiness verdicts. */
  readonly soakDays: number;
  /** The detections' policy (as the ingest gets it): the inventory job runs the placement detections. */
  readonly policyDocument?: unknown;
  /** Live heartbeats further apart leave a hole in coverage: the no-events alarm's threshold. */
  readonly liveGapHours: number;
  /** @default 'rate(6 hours)' */
  readonly inventorySchedule?: string;
  /** Member accounts the inventory reads through their read role (MemberReadRoleStack). @default none */
  readonly members?: MemberAccess;
  /** @default 'cron(0 8 ? * MON *)' - Mondays 08:00 UTC */
  readonly reportSchedule?: string;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

export interface MemberAccess {
  readonly accounts: readonly string[];
  /** The read role's name in every member account. */
  readonly readRoleName: string;
  /** The inventory role's fixed name, which the read roles trust. */
  readonly inventoryRoleName: string;
}

/**
 * The EKS inventory sync and the straggler report, each on an EventBridge Scheduler schedule,
 * both reading and writing the evidence table.
 * Two failure paths end in one DLQ: the schedule's own (Lambda could not be invoked) and the
 * function's on-failure destination (the asynchronous invocation failed every retry).
 */
export class ScheduledJobs extends Construct {
  readonly inventory: WatchFunction<'inventory'>;
  readonly report: WatchFunction<'report'>;
  readonly deadLetterQueue: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: ScheduledJobsProps) {
    super(scope, id);
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetterQueue', {
      holds: 'scheduled inventory and report runs that could not be invoked or failed every retry',
    });
    const onFailure = new SqsDestination(this.deadLetterQueue);

    const members = props.members && props.members.accounts.length > 0 ? props.members : undefined;
    const memberRoleArn = (account: string) => `arn:${Aws.PARTITION}:iam::${account}:role/${members!.readRoleName}`;
    this.inventory = new WatchFunction(this, 'Inventory', {
      handler: 'inventory',
      description: 'cutover-watch: syncs EKS clusters, node groups, Pod Identity associations, the agent add-on and their IAM roles into the table',
      roleName: members?.inventoryRoleName,
      // Accounts are read one after another: more of them need Lambda's longest run.
      timeout: Duration.minutes(members ? 15 : 5),
      memorySize: 512,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: {
        TABLE_NAME: props.table.tableName,
        EKS_REGIONS: props.eksRegions.join(','),
        POLICY: props.policyDocument === undefined ? undefined : JSON.stringify(props.policyDocument),
        MEMBER_ACCOUNTS: members?.accounts.join(','),
        MEMBER_READ_ROLE_ARN: members ? memberRoleArn('{account}') : undefined,
      },
      // An inventory sync is idempotent: a retry rewrites the same items; parked IRSA it places
      // raises its alerts once (recorded by id) and is then dropped.
      invocation: { kind: 'asynchronous', onFailure, retryAttempts: 2 },
    });
    // The sync merges with the stored inventory (a query of its partition) before writing it back.
    props.table.grantReadWriteData(this.inventory.function);
    this.inventory.role.addToPrincipalPolicy(new PolicyStatement({ sid: 'ListClusters', actions: ['eks:ListClusters'], resources: ['*'] }));
    const reads = inventoryReadGrants(props.eksRegions);
    for (const statement of reads.statements) this.inventory.role.addToPrincipalPolicy(statement);
    if (members) {
      // Named roles in named accounts: no wildcard to acknowledge.
      this.inventory.role.addToPrincipalPolicy(new PolicyStatement({ sid: 'AssumeMemberReadRoles', actions: ['sts:AssumeRole'], resources: members.accounts.map(memberRoleArn) }));
    }
    acknowledgeWildcards(this.inventory.role, [
      ['Resource::*', 'eks:ListClusters supports no resource-level permissions (Service Authorization Reference, Amazon EKS); it only lists names'],
      ...reads.wildcards,
    ]);

    this.report = new WatchFunction(this, 'Report', {
      handler: 'report',
      description: 'cutover-watch: weekly IRSA straggler report to S3 and SNS',
      timeout: Duration.minutes(5),
      memorySize: 1024,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: {
        TABLE_NAME: props.table.tableName,
        TOPIC_ARN: props.topic.topicArn,
        REPORT_BUCKET: props.reportsBucket.bucketName,
        SOAK_DAYS: String(props.soakDays),
        LIVE_GAP_HOURS: String(props.liveGapHours),
        // its owners: every row names its owner and the report has a section per owner, as
        // `cutover-watch report --by owner` with the same policy file
        POLICY: props.policyDocument === undefined ? undefined : JSON.stringify(props.policyDocument),
      },
      // One retry: a report that failed after publishing is sent twice, one that is never sent is worse.
      invocation: { kind: 'asynchronous', onFailure, retryAttempts: 1 },
      // The HTML report inlines Chart.js's UMD build, read beside the handler (functions/handlers/report.ts).
      copyIntoBundle: [CHART_JS_UMD],
    });
    // Reads the evidence; writes the report's summary, the next report's baseline.
    props.table.grantReadWriteData(this.report.function);
    props.topic.grantPublish(this.report.function);
    props.reportsBucket.grantPut(this.report.function, `${REPORTS_PREFIX}*`);
    acknowledgeWildcards(this.report.role, [
      [`Resource::${nagRef(props.reportsBucket)}/${REPORTS_PREFIX}*`, 'the report writes one new object per run under reports/ (dated key); it can write nothing else in the bucket'],
      ['Action::s3:Abort*', 'added by grantPut so a multipart upload of the report can be aborted; limited to reports/*'],
      ['Action::kms:GenerateDataKey*', 'publishing to the KMS-encrypted alerts topic needs a data key (SNS developer guide, "Encryption at rest"); granted on that one key only'],
    ]);

    invokeOnSchedules(this, {
      roleDescription: 'cutover-watch: EventBridge Scheduler invokes the inventory and report functions',
      deadLetterQueue: this.deadLetterQueue,
      schedules: [
        { id: 'InventorySchedule', function: this.inventory.function, expression: props.inventorySchedule ?? 'rate(6 hours)', description: 'cutover-watch inventory' },
        { id: 'ReportSchedule', function: this.report.function, expression: props.reportSchedule ?? 'cron(0 8 ? * MON *)', description: 'cutover-watch report' },
      ],
      why: "added by grantInvoke for the function's versions and aliases; the schedules invoke $LATEST of these two functions only",
    });
  }
}

/** Chart.js's UMD build, as the CLI finds it (functions/local/report.ts). */
const CHART_JS_UMD = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');
