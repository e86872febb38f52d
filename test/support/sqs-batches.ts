import type { SQSEvent } from 'aws-lambda';
import { DEFAULT_NODE_ROLE_PATTERNS } from '../../functions/core/node-roles';
import { cloudTrailEnvelope, matchingRules, rulePatterns } from '../../functions/core/rule-patterns';
import type { generateSampleFleet } from '../../functions/local/sample-fleet';
import { INGEST_BATCH_PAYLOAD_BYTES, INGEST_BATCH_SIZE } from '../../lib/constructs/ingest-batching';

/**
 * A sample fleet's CloudTrail as the deployed pipeline delivers it to the ingest Lambda: the
 * records the EventBridge rules route, as SQS messages, in batches as large as the event source's.
 * Shared by the files that push the fleet through the Lambda path (write-path, ingest-handler).
 */

/** An SQS record as the event source delivers it: the body and its envelope (ids, receipt handle, attributes). */
export const sqsRecord = (body: unknown, n: number): SQSEvent['Records'][number] => ({
  messageId: `0b0c1d2e-3f40-4152-8364-${String(n).padStart(12, '0')}`,
  receiptHandle: `AQEB${'x'.repeat(168)}${n}`,
  body: JSON.stringify(body),
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1763596800000', SenderId: 'AIDAEXAMPLEEXAMPLE', ApproximateFirstReceiveTimestamp: '1763596800001' },
  messageAttributes: {},
  md5OfBody: '0123456789abcdef0123456789abcdef',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:111122223333:cutover-watch-ingest',
  awsRegion: 'us-east-1',
});

export const sqsBatch = (bodies: readonly unknown[], offset = 0): SQSEvent => ({ Records: bodies.map((body, n) => sqsRecord(body, offset + n)) });

/** The fleet's records the rules route, oldest first, as EventBridge events. */
export function routedFleet(fleet: ReturnType<typeof generateSampleFleet>): Record<string, unknown>[] {
  const patterns = rulePatterns({ nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS });
  return fleet.files
    .flatMap((f) => f.records)
    .sort((a, b) => String(a['eventTime']).localeCompare(String(b['eventTime'])))
    .map(cloudTrailEnvelope)
    .filter((envelope) => matchingRules(envelope, patterns).length > 0) as Record<string, unknown>[];
}

/**
 * Routed events as the event source would batch them: INGEST_BATCH_SIZE messages or 6 MB, whichever
 * ends first (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
 */
export function fullBatches<T>(routed: readonly T[]): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const body of routed) {
    const size = JSON.stringify(sqsRecord(body, batches.length * INGEST_BATCH_SIZE + batch.length)).length + 1;
    if (batch.length === INGEST_BATCH_SIZE || bytes + size > INGEST_BATCH_PAYLOAD_BYTES) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(body);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
