import {
  AuthorizationErrorException,
  InvalidParameterException,
  KMSAccessDeniedException,
  KMSDisabledException,
  NotFoundException,
  PublishCommand,
  SNSClient,
  ThrottledException,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DeliveryError, SNS_MAX_MESSAGE_BYTES, SnsSink, truncateUtf8 } from '../../functions/adapters/alert-sinks';
import type { Alert } from '../../functions/core/alert';

const sns = mockClient(SNSClient);
afterEach(() => sns.reset());
// Unit files share a worker: put the client's real send back for the files after this one.
afterAll(() => sns.restore());

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:cutover-watch-alerts';
const sink = () => new SnsSink({ client: new SNSClient({ region: 'eu-west-1' }), topicArn: TOPIC });

function makeAlert(over: Partial<Alert> = {}): Alert {
  return {
    id: 'irsa-regression:00000000000000bb',
    detection: 'irsa-regression',
    severity: 'high',
    key: 'arn:aws:eks:eu-west-1:111122223333:cluster/payments-prod|orders|orders-api',
    window: '2026-11-20',
    cluster: 'payments-prod',
    clusterArn: 'arn:aws:eks:eu-west-1:111122223333:cluster/payments-prod',
    oidcIssuer: 'oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789',
    namespace: 'orders',
    serviceAccount: 'orders-api',
    roleArn: 'arn:aws:iam::111122223333:role/orders-api',
    nodeRoleArn: null,
    nodeInstanceId: null,
    action: 'sts:AssumeRoleWithWebIdentity',
    count: 1,
    firstEventTime: '2026-11-20T08:00:00Z',
    lastEventTime: '2026-11-20T08:00:00Z',
    sampleEventIds: ['0f0e0d0c-aaaa-bbbb-cccc-000011112222'],
    summary: 'IRSA is back in orders (payments-prod), which was READY',
    likelyCause: 'a pod started from an old spec still carrying the eks.amazonaws.com/role-arn annotation',
    nextStep: 'kubectl get sa orders-api -n orders -o yaml and remove the role-arn annotation',
    raisedAt: '2026-11-20T08:01:00Z',
    ...over,
  };
}

const publishedInput = () => sns.commandCalls(PublishCommand)[0]!.args[0].input;

describe('SnsSink publish request', () => {
  it('publishes subject, plain text and filterable attributes to the topic', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });

    await sink().send(makeAlert());

    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    const input = publishedInput();
    expect(input.TopicArn).toBe(TOPIC);
    expect(input.Subject).toBe('[HIGH] irsa-regression | payments-prod | IRSA is back in orders (payments-prod), which was READY');
    expect(input.MessageAttributes).toEqual({
      detection: { DataType: 'String', StringValue: 'irsa-regression' },
      severity: { DataType: 'String', StringValue: 'high' },
      cluster: { DataType: 'String', StringValue: 'payments-prod' },
      alert: { DataType: 'String', StringValue: expect.any(String) },
    });
    // the whole alert travels as an attribute, for programs subscribed to the topic
    expect(JSON.parse(input.MessageAttributes!['alert']!.StringValue!)).toEqual(makeAlert());
    expect(input.Message).toContain('Likely cause: a pod started from an old spec still carrying the eks.amazonaws.com/role-arn annotation');
    expect(input.Message).toContain('Next step: kubectl get sa orders-api -n orders -o yaml and remove the role-arn annotation');
    expect(input.Message).toContain(
      'aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventId,AttributeValue=0f0e0d0c-aaaa-bbbb-cccc-000011112222',
    );
  });

  it('leaves the cluster attribute out when the cluster is not known', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });

    await sink().send(makeAlert({ cluster: null }));

    expect(Object.keys(publishedInput().MessageAttributes ?? {})).toEqual(['detection', 'severity', 'alert']);
    expect(publishedInput().Subject).toBe('[HIGH] irsa-regression | IRSA is back in orders (payments-prod), which was READY');
  });

  it('keeps a huge alert under the 256 KiB limit with its sections intact', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-3' });
    const huge = '€'.repeat(200_000); // 600,000 bytes of UTF-8

    await sink().send(makeAlert({ summary: huge, likelyCause: huge, nextStep: `restart it ${huge}`, namespace: 'n'.repeat(50_000) }));

    const input = publishedInput();
    const attributeBytes = Object.entries(input.MessageAttributes ?? {}).reduce(
      (sum, [name, v]) => sum + Buffer.byteLength(name) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? ''),
      0,
    );
    expect(Buffer.byteLength(input.Message ?? '') + attributeBytes).toBeLessThanOrEqual(SNS_MAX_MESSAGE_BYTES);
    expect(input.Message).toContain('Likely cause: €€€');
    expect(input.Message).toContain('Next step: restart it €€€');
    expect(input.Message).toContain('AttributeValue=0f0e0d0c-aaaa-bbbb-cccc-000011112222');
  });
});

describe('truncateUtf8', () => {
  it('cuts on a character boundary and appends the note', () => {
    // '€' is 3 bytes: 10 bytes for text and note leave room for 2 of them (6 bytes) before '[t]' (3).
    expect(truncateUtf8('€€€€', 10, '[t]')).toBe('€€[t]');
    expect(truncateUtf8('short', 10, '[t]')).toBe('short');
  });
});

describe('SnsSink error translation', () => {
  const cases: [string, Error, RegExp][] = [
    [
      'a missing topic',
      new NotFoundException({ message: 'Topic does not exist', $metadata: {} }),
      /^SNS topic arn:aws:sns:eu-west-1:111122223333:cutover-watch-alerts does not exist \(NotFoundException\): check the configured topic ARN, and that the SNS client uses the topic's region \(eu-west-1\)$/,
    ],
    [
      'a missing sns:Publish permission',
      new AuthorizationErrorException({ message: 'User: arn:aws:sts::111122223333:assumed-role/watch/fn is not authorized to perform: SNS:Publish', $metadata: {} }),
      /^not allowed to publish to .*cutover-watch-alerts \(AuthorizationErrorException: User: arn:aws:sts::111122223333:assumed-role\/watch\/fn is not authorized.*\): grant sns:Publish on the topic to this role/,
    ],
    [
      'a KMS key policy that leaves the publisher out',
      new KMSAccessDeniedException({ message: 'denied', $metadata: {} }),
      /^SNS could not use the KMS key that encrypts topic .* \(KMSAccessDeniedException\): the key policy must allow this role kms:GenerateDataKey\* and kms:Decrypt$/,
    ],
    ['a disabled KMS key', new KMSDisabledException({ message: 'disabled', $metadata: {} }), /is disabled \(KMSDisabledException\): enable the key/],
    ['throttling after the SDK retried', new ThrottledException({ message: 'Rate exceeded', $metadata: {} }), /throttled .* check the account's Publish quota for eu-west-1$/],
    [
      'a request SNS rejects',
      new InvalidParameterException({ message: 'Invalid parameter: Subject', $metadata: {} }),
      /^SNS rejected the alert .* \(InvalidParameterException: Invalid parameter: Subject\): cutover-watch built a request SNS does not accept; report it$/,
    ],
    ['anything else', Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }), /^publishing to .*cutover-watch-alerts failed \(TimeoutError: socket hang up\)$/],
  ];

  it.each(cases)('turns %s into a DeliveryError that says what to check', async (_what, thrown, expected) => {
    sns.on(PublishCommand).rejects(thrown);

    const error = await sink().send(makeAlert()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).sink).toBe('sns');
    expect((error as DeliveryError).message).toMatch(expected);
    expect((error as DeliveryError).message).not.toContain('\n');
    expect((error as DeliveryError).cause).toBe(thrown);
  });
});
