import { describe, expect, it } from 'vitest';
import { logicalId, only, resources, synth, template } from './app';

describe('operations', () => {
  // GIVEN a deployment with every optional function
  const { home } = synth({ slackSecretName: 'cutover-watch/slack' });
  const t = template(home);
  const alarms = resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const topic = { Ref: logicalId(home.alerts.topic) };

  it('alarms on any message in each dead-letter queue', () => {
    const dlqs = [
      home.buffer!.deadLetterQueue,
      home.buffer!.deliveryDeadLetterQueue,
      home.alerts.publishDeadLetterQueue,
      home.alerts.notifyDeadLetterQueue,
      home.jobs.deadLetterQueue,
    ];
    for (const dlq of dlqs) {
      const alarm = alarms.find((a) => a['MetricName'] === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a['Dimensions']).includes(logicalId(dlq)));
      expect(alarm, dlq.node.path).toMatchObject({ Namespace: 'AWS/SQS', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    }
  });

  it('alarms on ingest errors, ingest p99 duration and a backlog older than 15 minutes', () => {
    const fn = JSON.stringify([{ Name: 'FunctionName', Value: { Ref: logicalId(home.ingest!.watchFunction.function) } }]);
    expect(alarms).toContainEqual(expect.objectContaining({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Threshold: 0 }));
    expect(alarms.find((a) => a['MetricName'] === 'Errors')!['Dimensions']).toEqual(JSON.parse(fn));
    expect(alarms).toContainEqual(expect.objectContaining({ MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: 48_000 }));
    expect(alarms).toContainEqual(expect.objectContaining({ Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 900 }));
  });

  it('alarms per watched region when no identity event arrived for 6 hours, silence counting as breaching', () => {
    const { home: multi } = synth({ homeRegion: 'eu-west-1', collectorRegions: ['eu-central-1'], noEventsAlarmHours: 4 });
    const silent = resources(template(multi), 'AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .filter((a) => a['MetricName'] === 'IdentityEventsByRegion');

    expect(silent.map((a) => (a['Dimensions'] as { Name: string; Value: string }[]).find((d) => d.Name === 'region')!.Value).sort()).toEqual(['eu-central-1', 'eu-west-1']);
    for (const a of silent) {
      expect(a).toMatchObject({ Namespace: 'CutoverWatch', Statistic: 'Sum', Period: 4 * 3600, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
    }
    expect(alarms.filter((a) => a['MetricName'] === 'IdentityEventsByRegion').map((a) => a['Period'])).toEqual([6 * 3600]);
  });

  it('sends every alarm to the alerts topic', () => {
    expect(alarms.length).toBeGreaterThanOrEqual(8);
    for (const alarm of alarms) expect(alarm['AlarmActions']).toEqual([topic]);
  });

  it('charts the handlers\' metrics by their dimensions, including the Powertools service dimension', () => {
    const [, dashboard] = only(t, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties['DashboardBody']);
    for (const search of [
      '{CutoverWatch,kind,outcome,service} MetricName=\\\\\\"Events\\\\\\"',
      '{CutoverWatch,detection,service} MetricName=\\\\\\"AlertsRaised\\\\\\"',
      '{CutoverWatch,cluster,service} MetricName=\\\\\\"IrsaAssumes\\\\\\"',
      '{CutoverWatch,cluster,service} MetricName=\\\\\\"PodIdentityAssumes\\\\\\"',
    ]) {
      expect(body).toContain(search);
    }
    expect(body).toContain('RejectedRecords');
    expect(body).toContain('cutover-watch');
  });
});
