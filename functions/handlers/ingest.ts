import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DynamoEvidenceStore } from '../adapters/dynamo-evidence-store';
import { assumesByCluster, countEvents, eventsByRegion, processSqsBatch } from '../adapters/sqs-ingest';
import { countedBy } from '../core/collections';
import { IDENTITY_EVENTS_BY_REGION } from '../core/coverage';
import { cached, countPerValue, listEnv, logger, metrics, policyFromEnv, requiredEnv } from './runtime';

// Built once per container: clients, the store, the policy.
// Several writers (concurrent invocations, a CLI on --table): each batch under the table's writer lease.
const store = new DynamoEvidenceStore({ client: new DynamoDBClient({}), tableName: requiredEnv('TABLE_NAME'), writerLease: true });
const policy = policyFromEnv();
const configuredNodeRoles = listEnv('NODE_ROLE_ARNS');
const context = cached(5 * 60_000, async () => {
  const [inventory, scopes] = await Promise.all([store.loadInventory(), store.scopes()]);
  const observed = scopes.filter((s) => s['kind'] === 'noderole').map((s) => String(s['name']));
  return { inventory, nodeRoleArns: [...configuredNodeRoles, ...observed] };
});

/** SQS batch of CloudTrail events from the rules → evidence, alerts (published from the table's stream). */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const { inventory, nodeRoleArns } = await context();
  const result = await processSqsBatch(event, { store, policy, inventory, nodeRoleArns, now: new Date() });

  for (const [key, count] of countEvents(result.events)) {
    const [kind, outcome] = key.split('|');
    const single = metrics.singleMetric();
    single.addDimensions({ kind: kind!, outcome: outcome! });
    single.addMetric('Events', MetricUnit.Count, count);
  }
  // One metric record per detection, not per alert: a spike can raise hundreds in one batch.
  countPerValue('AlertsRaised', 'detection', countedBy(result.alerts, (a) => a.detection));
  for (const [key, count] of assumesByCluster(result.events, inventory)) {
    const [metric, cluster] = key.split('|');
    const single = metrics.singleMetric();
    single.addDimension('cluster', cluster!);
    single.addMetric(metric!, MetricUnit.Count, count);
  }
  // The heartbeat the no-events alarms watch, per region the events were recorded in.
  countPerValue(IDENTITY_EVENTS_BY_REGION, 'region', eventsByRegion(result.events));
  metrics.addMetric('RejectedRecords', MetricUnit.Count, result.parked.length);
  metrics.addMetric('Replayed', MetricUnit.Count, result.replayed);
  metrics.publishStoredMetrics();

  // Never the record: CloudTrail STS records carry credentials.
  for (const p of result.parked) logger.warn('record parked', { messageId: p.messageId, where: p.where, reason: p.reason });
  for (const r of result.retried) logger.error('message returned for retry', { messageId: r.messageId, reason: r.reason });
  logger.info('batch ingested', {
    messages: event.Records.length,
    events: result.events.length,
    replayed: result.replayed,
    skipped: result.skipped,
    parked: result.parked.length,
    alerts: result.alerts.length,
    retried: result.response.batchItemFailures.length,
  });
  return result.response;
};
