import { SNSClient } from '@aws-sdk/client-sns';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { SnsSink } from '../adapters/alert-sinks';
import type { Alert } from '../core/alert';
import { logger, requiredEnv } from './runtime';

const sink = new SnsSink({ client: new SNSClient({}), topicArn: requiredEnv('TOPIC_ARN') });

/**
 * The outbox: an alert is written to the table once (a conditional put by the ingest), and its
 * INSERT on the stream is published here, so a retried ingest batch never publishes twice and a
 * failed publish is retried from the stream without re-running any detection.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const batchItemFailures: DynamoDBBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || image?.['type']?.S !== 'alert') continue;
    const { pk: _pk, sk: _sk, type: _type, version: _version, ...alert } = unmarshall(image as Record<string, AttributeValue>);
    try {
      await sink.send(alert as Alert);
      logger.info('alert published', { alertId: alert['id'], detection: alert['detection'], severity: alert['severity'] });
    } catch (error) {
      logger.error('alert not published', { alertId: alert['id'], error });
      // Records of a shard are in order: report the first failure, the stream retries from there.
      batchItemFailures.push({ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' });
      break;
    }
  }
  return { batchItemFailures };
};
