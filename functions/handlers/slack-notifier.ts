import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { SNSEvent } from 'aws-lambda';
import { ALERT_ATTRIBUTE, SlackSink } from '../adapters/alert-sinks';
import type { Alert } from '../core/alert';
import { logger, requiredEnv } from './runtime';

const secretArn = requiredEnv('SLACK_SECRET_ARN');

/**
 * Posts each alert of the topic to Slack. The webhook URL is a credential: it lives in Secrets
 * Manager (SecretString = the URL, or {"webhookUrl": …}), cached for 5 minutes by Powertools.
 * A failed post throws, so Lambda's asynchronous retries and then the on-failure destination keep it.
 */
export const handler = async (event: SNSEvent): Promise<void> => {
  const webhookUrl = webhookFrom(await getSecret<string>(secretArn, { maxAge: 300 }));
  const sink = new SlackSink({ webhookUrl });
  for (const record of event.Records) {
    const attribute = record.Sns.MessageAttributes[ALERT_ATTRIBUTE]?.Value;
    if (!attribute) {
      logger.warn('message without an alert attribute skipped', { messageId: record.Sns.MessageId });
      continue;
    }
    const alert = JSON.parse(attribute) as Alert;
    await sink.send(alert);
    logger.info('alert posted to Slack', { alertId: alert.id, detection: alert.detection });
  }
};

function webhookFrom(secret: string | undefined): string {
  if (!secret) throw new Error(`secret ${secretArn} has no SecretString: store the Slack incoming webhook URL in it`);
  const trimmed = secret.trim();
  if (trimmed.startsWith('{')) {
    const url = (JSON.parse(trimmed) as { webhookUrl?: unknown }).webhookUrl;
    if (typeof url !== 'string') throw new Error(`secret ${secretArn} is JSON without a "webhookUrl" string`);
    return url;
  }
  return trimmed;
}
