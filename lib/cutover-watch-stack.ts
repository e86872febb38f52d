import { Annotations, CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { rulePatterns } from '../functions/core/rule-patterns';
import type { CutoverWatchConfig } from './config';
import { Alerts } from './constructs/alerts';
import { CentralBus } from './constructs/central-bus';
import { CloudTrailRules } from './constructs/cloudtrail-rules';
import { EvidenceTable } from './constructs/evidence-table';
import { IngestBuffer } from './constructs/ingest-buffer';
import { INGEST_BATCHING_WINDOW, INGEST_TIMEOUT, IngestFunction } from './constructs/ingest-function';
import { ManagementTrail } from './constructs/management-trail';
import { Operations } from './constructs/operations';
import { ReportsBucket } from './constructs/reports-bucket';
import { ScheduledJobs } from './constructs/scheduled-jobs';
import { TRAIL_FOLD_TIMEOUT, TrailFold } from './constructs/trail-fold';

export interface CutoverWatchStackProps extends StackProps {
  readonly config: CutoverWatchConfig;
}

/**
 * The home stack: the rules on the default bus and on the central bus, the ingest pipeline, the
 * evidence table, alerts, scheduled jobs and their operations. Collector stacks (other regions and
 * accounts) forward to its central bus.
 */
export class CutoverWatchStack extends Stack {
  readonly evidence: EvidenceTable;
  /** The live path (absent with `liveEvents: false`): the rules, the buffer and the ingest. */
  readonly buffer?: IngestBuffer;
  readonly ingest?: IngestFunction;
  readonly centralBus?: CentralBus;
  readonly defaultBusRules?: CloudTrailRules;
  readonly centralBusRules?: CloudTrailRules;
  /** Present with `trailLogs`. */
  readonly trailFold?: TrailFold;
  readonly alerts: Alerts;
  readonly reports: ReportsBucket;
  readonly jobs: ScheduledJobs;
  readonly operations: Operations;
  readonly trail?: ManagementTrail;

  constructor(scope: Construct, id: string, props: CutoverWatchStackProps) {
    super(scope, id, { description: 'cutover-watch: IRSA → EKS Pod Identity cutover evidence and alerts from CloudTrail', ...props });
    const { config } = props;
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.evidence = new EvidenceTable(this, 'Evidence', { removalPolicy });
    if (config.liveEvents) {
      this.buffer = new IngestBuffer(this, 'IngestBuffer', { consumerTimeout: INGEST_TIMEOUT, consumerBatchingWindow: INGEST_BATCHING_WINDOW });
      this.ingest = new IngestFunction(this, 'Ingest', {
        queue: this.buffer.queue,
        table: this.evidence.table,
        policyDocument: config.policyDocument,
        nodeRoleArns: config.nodeRoleArns,
        logRemovalPolicy: removalPolicy,
      });

      const patterns = rulePatterns({ nodeRoleArns: config.nodeRoleArns, nodeRolePatterns: config.nodeRolePatterns });
      // The rule picks node-role calls by `nodeRolePatterns`; the ingest recognises node roles by the
      // policy's `nodeRoleFallthrough.nodeRolePatterns`. Both default to the core's list; a role only
      // one of them knows is either never delivered or delivered and not attributed.
      const ingestGlobs = config.policy.nodeRoleFallthrough.nodeRolePatterns;
      if ([...config.nodeRolePatterns].sort().join('\n') !== [...ingestGlobs].sort().join('\n')) {
        Annotations.of(this).addWarningV2(
          'cutover-watch:nodeRolePatterns',
          `nodeRolePatterns (the EventBridge rule) and the policy's nodeRoleFallthrough.nodeRolePatterns (the ingest) differ; give both the same globs`,
        );
      }
      const target = this.buffer.ruleTarget();
      this.defaultBusRules = new CloudTrailRules(this, 'Rules', { patterns, target });
      this.centralBus = new CentralBus(this, 'CentralBus', { collectorAccounts: config.collectorAccounts, organizationId: config.organizationId });
      // The same rules on the central bus, for what collectors forward. An event can arrive twice
      // (a cross-account STS call is delivered to both accounts; a backfill replays a window):
      // the ingest counts each CloudTrail eventID once (its replay guard), so duplicates are harmless.
      this.centralBusRules = new CloudTrailRules(this, 'CentralBusRules', { patterns, target, eventBus: this.centralBus.bus });
    }
    if (config.createTrail) this.trail = new ManagementTrail(this, 'Trail', { removalPolicy });
    if (config.trailLogs) {
      // Beside the live path too: the trail's objects hold every event EventBridge may have missed,
      // and the replay guards count an event both paths read once.
      this.trailFold = new TrailFold(this, 'TrailFold', {
        table: this.evidence.table,
        bucket: config.trailLogs.bucket ?? this.trail!.bucket,
        prefix: config.trailLogs.prefix,
        accounts: config.trailLogs.accounts,
        regions: config.eksRegions,
        lookbackDays: config.trailLogs.lookbackDays,
        kmsKeyArn: config.trailLogs.kmsKeyArn,
        schedule: config.trailLogs.schedule,
        nodeRoleArns: config.nodeRoleArns,
        policyDocument: config.policyDocument,
        logRemovalPolicy: removalPolicy,
      });
    }

    this.alerts = new Alerts(this, 'Alerts', {
      table: this.evidence.table,
      emails: config.alertEmails,
      slackSecretName: config.slackSecretName,
      removalPolicy,
    });
    this.reports = new ReportsBucket(this, 'Reports', { removalPolicy });
    this.jobs = new ScheduledJobs(this, 'Jobs', {
      policyDocument: config.policyDocument,
      liveGapHours: config.noEventsAlarmHours,
      table: this.evidence.table,
      topic: this.alerts.topic,
      reportsBucket: this.reports.bucket,
      eksRegions: config.eksRegions,
      members: config.inventoryRoleName
        ? { accounts: config.memberAccounts, readRoleName: config.memberReadRoleName, inventoryRoleName: config.inventoryRoleName }
        : undefined,
      soakDays: config.soakDays,
      inventorySchedule: config.inventorySchedule,
      reportSchedule: config.reportSchedule,
      logRemovalPolicy: removalPolicy,
    });

    this.operations = new Operations(this, 'Operations', {
      alarmTopic: this.alerts.topic,
      ingest: this.ingest && this.buffer && { function: this.ingest.watchFunction.function, timeout: INGEST_TIMEOUT, queue: this.buffer.queue },
      trailFold: this.trailFold && { function: this.trailFold.fold.function, timeout: TRAIL_FOLD_TIMEOUT },
      // The regions with clusters, not the us-east-1 collector added only for the global STS endpoint.
      watchedRegions: config.watchedRegions,
      noEventsAlarmHours: config.noEventsAlarmHours,
      deadLetterQueues: {
        ...(this.buffer ? { IngestDlq: this.buffer.deadLetterQueue, RuleDeliveryDlq: this.buffer.deliveryDeadLetterQueue } : {}),
        ...(this.trailFold ? { TrailFoldDlq: this.trailFold.deadLetterQueue } : {}),
        AlertPublishDlq: this.alerts.publishDeadLetterQueue,
        NotifyDlq: this.alerts.notifyDeadLetterQueue,
        JobsDlq: this.jobs.deadLetterQueue,
      },
      functions: {
        ...(this.ingest ? { ingest: this.ingest.watchFunction.function } : {}),
        ...(this.trailFold ? { 'trail-fold': this.trailFold.fold.function } : {}),
        'alert-publisher': this.alerts.publisher.function,
        ...(this.alerts.slackNotifier ? { 'slack-notifier': this.alerts.slackNotifier.function } : {}),
        inventory: this.jobs.inventory.function,
        report: this.jobs.report.function,
      },
    });

    new CfnOutput(this, 'EvidenceTableName', {
      value: this.evidence.table.tableName,
      description: 'pass to the CLI: cutover-watch readiness --table <this> --table-region <region>',
    });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn, description: 'subscribe more endpoints here' });
    if (this.centralBus) new CfnOutput(this, 'CentralBusArn', { value: this.centralBus.bus.eventBusArn, description: 'collectors forward CloudTrail events here' });
    new CfnOutput(this, 'ReportsBucketName', { value: this.reports.bucket.bucketName, description: 'weekly reports under reports/' });
    new CfnOutput(this, 'DashboardName', { value: this.operations.dashboard.dashboardName });
    if (this.trailFold) {
      new CfnOutput(this, 'TrailFoldRoleArn', {
        value: this.trailFold.fold.role.roleArn,
        description: "a trail bucket (and its KMS key) in another account must allow this role to list the prefix and read its objects",
      });
    }
  }
}
