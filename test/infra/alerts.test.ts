import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { asList, logicalId, only, roleStatements, synth, template } from './app';

describe('alerts', () => {
  // GIVEN alerts by email and Slack
  const { home } = synth({ alertEmails: ['secops@example.com'], slackSecretName: 'cutover-watch/slack' });
  const t = template(home);
  const topicId = logicalId(home.alerts.topic);
  const keyId = logicalId(home.alerts.key);

  it('encrypts the topic with a rotating customer-managed key', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    expect(t.findResources('AWS::KMS::Key')[keyId]!['DeletionPolicy']).toBe('Retain');
  });

  it('refuses publishing without TLS and lets only this account\'s alarms publish as a service', () => {
    const [, policy] = only(t, 'AWS::SNS::TopicPolicy');
    const statements = policy.Properties['PolicyDocument']['Statement'] as Record<string, any>[];
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 'sns:Publish', Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    const allows = statements.filter((s) => s['Effect'] === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' });
    expect(allows[0]!['Condition']['StringEquals']).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
  });

  it('publishes from the table stream: inserted alert items only, bounded retries, failures to a DLQ', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(home.alerts.publisher.function) },
      EventSourceArn: { 'Fn::GetAtt': [logicalId(home.evidence.table), 'StreamArn'] },
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: ['alert'] } } } }) }] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: Match.anyValue(),
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(home.alerts.publishDeadLetterQueue), 'Arn'] } } },
    });
  });

  it('lets the publisher publish to the alerts topic only, and write nothing', () => {
    const statements = roleStatements(t, logicalId(home.alerts.publisher.role));
    const sns = statements.filter((s) => asList(s['Action']).some((a: string) => a.startsWith('sns:')));
    expect(sns).toEqual([expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: topicId } })]);
    const kms = statements.filter((s) => asList(s['Action']).some((a: string) => a.startsWith('kms:')));
    for (const s of kms) expect(s['Resource']).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const actions = statements.flatMap((s) => asList(s['Action']) as string[]);
    expect(actions.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a))).toEqual([]);
    expect(actions).not.toContain('*');
  });

  it('lets the Slack notifier read its secret and nothing else', () => {
    const statements = roleStatements(t, logicalId(home.alerts.slackNotifier!.role));
    const secrets = statements.filter((s) => asList(s['Action']).some((a: string) => a.startsWith('secretsmanager:')));
    expect(secrets).toHaveLength(1);
    expect(asList(secrets[0]!['Action'])).toContain('secretsmanager:GetSecretValue');
    expect(JSON.stringify(secrets[0]!['Resource'])).toContain(':secret:cutover-watch/slack-??????');
    const other = statements.flatMap((s) => asList(s['Action']) as string[]).filter((a) => !/^(secretsmanager|logs|sqs):/.test(a));
    expect(other).toEqual([]);
  });

  it('subscribes email and Slack with a delivery DLQ, and sends failed Slack posts to the same DLQ', () => {
    const dlq = { 'Fn::GetAtt': [logicalId(home.alerts.notifyDeadLetterQueue), 'Arn'] };
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'secops@example.com', RedrivePolicy: { deadLetterTargetArn: dlq } });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'lambda', RedrivePolicy: { deadLetterTargetArn: dlq } });
    // only alerts (with their `alert` attribute) reach Slack, not alarm notifications or the weekly report
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'lambda', FilterPolicy: { alert: [{ exists: true }] } });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(home.alerts.slackNotifier!.function) },
      DestinationConfig: { OnFailure: { Destination: dlq } },
    });
  });

  it('has no Slack notifier unless a secret is configured', () => {
    const { home: plain } = synth();
    expect(plain.alerts.slackNotifier).toBeUndefined();
    template(plain).resourceCountIs('AWS::SNS::Subscription', 0);
  });
});
