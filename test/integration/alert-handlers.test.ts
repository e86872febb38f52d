import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, DynamoDBStreamEvent, SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { snsPublishInput } from '../../functions/adapters/alert-sinks';
import type { Alert } from '../../functions/core/alert';

// The two handlers behind the alerts topic: the stream → SNS publisher and the SNS → Slack notifier.
const alert: Alert = {
  id: 'irsa-regression:0011223344556677', detection: 'irsa-regression', severity: 'high', key: 'k', window: '2026-11-19',
  cluster: 'payments-prod', clusterArn: 'arn:aws:eks:us-east-1:111122223333:cluster/payments-prod', oidcIssuer: null,
  namespace: 'risk', serviceAccount: 'risk-batch', roleArn: 'arn:aws:iam::111122223333:role/risk-batch', nodeRoleArn: null,
  nodeInstanceId: null, action: 'sts:AssumeRoleWithWebIdentity', count: 1, firstEventTime: '2026-11-19T18:00:15Z',
  lastEventTime: '2026-11-19T18:00:15Z', sampleEventIds: ['e-1'], summary: 'IRSA is back in risk', likelyCause: 'an old CronJob',
  nextStep: 'remove the annotation', raisedAt: '2026-11-20T00:00:00Z',
};
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:cutover-watch-alerts';

function streamRecord(eventName: 'INSERT' | 'MODIFY', image: Record<string, unknown>, sequence: string) {
  return {
    eventName,
    dynamodb: { NewImage: marshall(image, { removeUndefinedValues: true }) as Record<string, AttributeValue>, SequenceNumber: sequence },
  } as DynamoDBStreamEvent['Records'][number];
}

beforeAll(() => {
  process.env['TOPIC_ARN'] = TOPIC;
  process.env['SLACK_SECRET_ARN'] = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:cutover-watch-slack';
  process.env['AWS_REGION'] = 'us-east-1';
  process.env['POWERTOOLS_DEV'] = 'true';
  vi.spyOn(console, 'info').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
});

describe('alert publisher (table stream → SNS)', () => {
  const sns = mockClient(SNSClient);
  afterEach(() => sns.reset());

  it('publishes each new alert item once, with its attributes, and ignores other items and updates', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const { handler } = await import('../../functions/handlers/alert-publisher');

    const result = await handler({
      Records: [
        streamRecord('INSERT', { pk: 'ALERTS#2026-11', sk: alert.id, type: 'alert', ...alert }, '1'),
        streamRecord('INSERT', { pk: 'SCOPE#x', sk: 'SA#a#b', type: 'sa' }, '2'),
        streamRecord('MODIFY', { pk: 'ALERTS#2026-11', sk: alert.id, type: 'alert', ...alert }, '3'),
      ],
    });

    expect(result.batchItemFailures).toEqual([]);
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual(snsPublishInput(alert, TOPIC));
  });

  it('reports the first record that failed so the stream retries from it', async () => {
    sns.on(PublishCommand).rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottledException' })).resolves({});
    const { handler } = await import('../../functions/handlers/alert-publisher');

    const result = await handler({
      Records: [
        streamRecord('INSERT', { pk: 'ALERTS#2026-11', sk: alert.id, type: 'alert', ...alert }, '7'),
        streamRecord('INSERT', { pk: 'ALERTS#2026-11', sk: 'other', type: 'alert', ...alert, id: 'other' }, '8'),
      ],
    });

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '7' }]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });
});

describe('Slack notifier (SNS → Slack)', () => {
  const secrets = mockClient(SecretsManagerClient);
  let server: Server;
  let received: { text: string; blocks: unknown[] }[] = [];
  let webhook: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    webhook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T1/B1/SECRET`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  afterEach(() => {
    secrets.reset();
    received = [];
  });

  it('posts the alert carried in the message attribute, with the webhook read from Secrets Manager', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ webhookUrl: webhook }) });
    const { handler } = await import('../../functions/handlers/slack-notifier');
    const input = snsPublishInput(alert, TOPIC);
    const attributes = Object.fromEntries(
      Object.entries(input.MessageAttributes ?? {}).map(([name, v]) => [name, { Type: v.DataType!, Value: v.StringValue! }]),
    );

    await handler({ Records: [{ Sns: { MessageId: 'm-1', Message: input.Message, MessageAttributes: attributes } }] } as unknown as SNSEvent);

    expect(received).toHaveLength(1);
    expect(JSON.stringify(received[0]!.blocks)).toContain('an old CronJob');
    expect(secrets.commandCalls(GetSecretValueCommand)[0]!.args[0].input.SecretId).toBe(process.env['SLACK_SECRET_ARN']);
  });
});
