import { Aws, Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
  type AlarmProps,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { IDENTITY_EVENTS_BY_REGION, TRAIL_EVENTS_BY_KIND, TRAIL_OBJECTS_BY_REGION } from '../../functions/core/coverage';
import { METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME } from './watch-function';

/** A queue of messages the ingest buffer holds; older than this and the pipeline is falling behind. */
export const MAX_MESSAGE_AGE = Duration.minutes(15);

export interface OperationsProps {
  /** Where alarms notify. */
  readonly alarmTopic: ITopic;
  /** The live path (EventBridge → SQS → ingest), when it is deployed. Its timeout: the duration alarm fires at 80 % of it. */
  readonly ingest?: { readonly function: IFunction; readonly timeout: Duration; readonly queue: IQueue };
  /** The trail fold, when it is deployed. */
  readonly trailFold?: { readonly function: IFunction; readonly timeout: Duration };
  /** Every dead-letter queue, by a readable name: any message in one is an alarm. */
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  /** Every function, by a readable name, for the Lambda widgets. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** Regions whose identity events must keep arriving (the regions with EKS clusters). */
  readonly watchedRegions: readonly string[];
  /** Hours without an identity event from a watched region before its alarm fires. */
  readonly noEventsAlarmHours: number;
}

/**
 * Alarms and the dashboard. Custom metrics are the ones the handlers emit through Powertools
 * (namespace CutoverWatch, every metric also carrying the `service` dimension Powertools adds);
 * the rest are SQS and Lambda built-ins.
 */
export class Operations extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const action = new SnsAction(props.alarmTopic);
    const alarm = (alarmId: string, a: AlarmProps) => {
      const created = new Alarm(this, alarmId, { treatMissingData: TreatMissingData.NOT_BREACHING, ...a });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };

    /** Fires when `metric` goes above `threshold` for `evaluationPeriods` periods. */
    const above = (alarmId: string, alarmDescription: string, metric: IMetric, threshold: number, evaluationPeriods = 1) =>
      alarm(alarmId, { alarmDescription, metric, threshold, comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods });
    /** Fires when a region's heartbeat metric sums to nothing over `noEventsAlarmHours`, or is missing. */
    const silent = (alarmId: string, alarmDescription: string, metricName: string, region: string) =>
      alarm(alarmId, {
        alarmDescription,
        metric: new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: POWERTOOLS_SERVICE_NAME, region }, statistic: 'Sum', period: Duration.hours(props.noEventsAlarmHours) }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.BREACHING,
      });

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      above(
        `${name}NotEmpty`,
        `cutover-watch: messages in the ${name} dead-letter queue; inspect them, fix the cause, then redrive`,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        0,
      );
    }
    const ingest = props.ingest;
    if (ingest) {
      above('IngestErrors', 'cutover-watch: the ingest function threw (a whole batch returned to the queue)', ingest.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 0);
      above(
        'IngestDurationP99',
        `cutover-watch: ingest p99 duration above 80 % of its ${ingest.timeout.toSeconds()} s timeout`,
        ingest.function.metricDuration({ period: Duration.minutes(5), statistic: 'p99' }),
        ingest.timeout.toMilliseconds() * 0.8,
        3,
      );
      above(
        'IngestQueueBacklog',
        `cutover-watch: the oldest ingest message is older than ${MAX_MESSAGE_AGE.toMinutes()} minutes; the ingest is falling behind or failing`,
        ingest.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
        MAX_MESSAGE_AGE.toSeconds(),
      );
    }
    const fold = props.trailFold;
    if (fold) {
      above(
        'TrailFoldErrors',
        'cutover-watch: a trail fold run failed (reading the trail stopped: permissions, KMS; or evidence not stored); the next run retries what was not recorded',
        fold.function.metricErrors({ period: Duration.hours(1), statistic: 'Sum' }),
        0,
      );
      above(
        'TrailFoldNearTimeout',
        `cutover-watch: trail fold runs near their ${fold.timeout.toSeconds()} s timeout; they stop taking objects before it, but a trail that keeps them there is falling behind`,
        fold.function.metricDuration({ period: Duration.hours(1), statistic: 'Maximum' }),
        fold.timeout.toMilliseconds() * 0.8,
        3,
      );
    }
    // Silence is not evidence: a disabled rule, a full DLQ or a broken collector stops events
    // without an error anywhere. EKS nodes fetch Pod Identity credentials and pods refresh IRSA
    // tokens around the clock, so a watched region without one identity event for N hours is broken.
    // Without the live path, the heartbeat is the trail fold's: log objects read (a trail that logs
    // a region writes objects every few minutes).
    for (const region of props.watchedRegions) {
      if (ingest) {
        silent(
          `NoIdentityEvents-${region}`,
          `cutover-watch: no identity event from ${region} for ${props.noEventsAlarmHours} h: check the EventBridge rules and the collector there; ` +
            'readiness treats the silence as a hole in coverage (UNKNOWN), not as no IRSA',
          IDENTITY_EVENTS_BY_REGION,
          region,
        );
      } else if (fold) {
        silent(
          `NoTrailObjects-${region}`,
          `cutover-watch: the trail fold read no log object of ${region} for ${props.noEventsAlarmHours} h: check the trail still logs the region, ` +
            "the fold's read access to the bucket (and kms:Decrypt), and its errors; readiness treats the hours without objects as a hole (UNKNOWN), not as no IRSA",
          TRAIL_OBJECTS_BY_REGION,
          region,
        );
      }
    }

    // SEARCH: one series per dimension value (kinds, outcomes, detections, clusters) as they appear.
    const search = (dimensions: string, metric: string, period = Duration.minutes(5)) =>
      new MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},${dimensions}} MetricName="${metric}"', 'Sum', ${period.toSeconds()})`,
        period,
        usingMetrics: {},
      });
    const custom = (metricName: string) =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: POWERTOOLS_SERVICE_NAME }, statistic: 'Sum', period: Duration.minutes(5) });
    const perFunction = (build: (fn: IFunction) => IMetric) => Object.entries(props.functions).map(([name, fn]) => withLabel(build(fn), name));

    const pipelines = [
      ...(ingest ? ['CloudTrail → EventBridge → SQS → ingest → DynamoDB evidence'] : []),
      ...(fold ? ["the trail's S3 log objects → trail fold (scheduled) → DynamoDB evidence"] : []),
    ].join('; ');
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `cutover-watch-${Aws.REGION}`,
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `## cutover-watch\n${pipelines}; alerts from the table stream to SNS. Any message in a dead-letter queue is an alarm.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: ingest ? 'Events by kind and outcome' : 'Events by kind (trail fold)',
        left: [...(ingest ? [search('kind,outcome,service', 'Events')] : []), ...(fold ? [search('kind,service', TRAIL_EVENTS_BY_KIND, Duration.hours(1))] : [])],
        width: 12,
        stacked: true,
      }),
      new GraphWidget({ title: 'Alerts raised by detection', left: [search('detection,service', 'AlertsRaised')], width: 12, stacked: true }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'IRSA assumes by cluster', left: [search('cluster,service', 'IrsaAssumes', Duration.hours(1))], width: 8 }),
      new GraphWidget({ title: 'Pod Identity assumes by cluster', left: [search('cluster,service', 'PodIdentityAssumes', Duration.hours(1))], width: 8 }),
      new GraphWidget({ title: 'Parked and replayed records', left: [withLabel(custom('RejectedRecords'), 'parked (unparseable)'), withLabel(custom('Replayed'), 'replayed (already counted)')], width: 8 }),
    );
    this.dashboard.addWidgets(
      ingest
        ? new GraphWidget({
            title: 'Ingest queue',
            left: [
              withLabel(ingest.queue.metricNumberOfMessagesSent({ period: Duration.minutes(5) }), 'sent'),
              withLabel(ingest.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }), 'visible'),
            ],
            right: [withLabel(ingest.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }), 'age of oldest (s)')],
            width: 12,
          })
        : new GraphWidget({ title: 'Trail log objects read by region', left: [search('region,service', TRAIL_OBJECTS_BY_REGION, Duration.hours(1))], width: 12 }),
      new SingleValueWidget({
        title: 'Dead-letter queues (messages)',
        metrics: Object.entries(props.deadLetterQueues).map(([name, q]) =>
          withLabel(q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), name),
        ),
        width: 12,
      }),
    );
    // With both paths, the fold's heartbeat gets a row of its own (without the live path it took the queue's place).
    if (ingest && fold) {
      this.dashboard.addWidgets(new GraphWidget({ title: 'Trail log objects read by region', left: [search('region,service', TRAIL_OBJECTS_BY_REGION, Duration.hours(1))], width: 24 }));
    }
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Lambda invocations', left: perFunction((fn) => fn.metricInvocations({ period: Duration.minutes(5) })), width: 8 }),
      new GraphWidget({ title: 'Lambda errors', left: perFunction((fn) => fn.metricErrors({ period: Duration.minutes(5) })), width: 8 }),
      new GraphWidget({ title: 'Lambda duration p99 (ms)', left: perFunction((fn) => fn.metricDuration({ period: Duration.minutes(5), statistic: 'p99' })), width: 8 }),
    );
  }
}

function withLabel(metric: IMetric, label: string): IMetric {
  return metric instanceof Metric ? metric.with({ label }) : metric;
}
