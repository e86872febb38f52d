import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoEvidenceStore } from '../adapters/dynamo-evidence-store';
import { eksClient, syncInventory } from '../adapters/eks-inventory';
import { rolesToRead, syncRoles } from '../adapters/iam-roles';
import { mergeInventory } from '../core/inventory';
import { placeParked } from '../adapters/placement';
import { listEnv, logger, metrics, policyFromEnv, requiredEnv } from './runtime';

const store = new DynamoEvidenceStore({ client: new DynamoDBClient({}), tableName: requiredEnv('TABLE_NAME'), writerLease: true });
const regions = listEnv('EKS_REGIONS');
const policy = policyFromEnv();

/**
 * Scheduled: the EKS side of the fleet (issuer → cluster, associations, node roles, the Pod Identity
 * Agent add-on) and the IAM roles the preflight lints into the table, with the same code as
 * `cutover-watch inventory sync`. Clusters and roles that could not be read are logged and counted;
 * the job fails (and goes to its failure destination) only when no cluster could be read.
 */
export const handler = async (): Promise<{ clusters: number; problems: number }> => {
  if (regions.length === 0) throw new Error('EKS_REGIONS is empty: the stack must pass the regions to read');
  const result = await syncInventory({ regions, clientFor: eksClient });
  if (result.clusters > 0) {
    const roles = await syncRoles({ roleArns: await rolesToRead(result.inventory, store) });
    result.inventory = mergeInventory(result.inventory, roles.inventory);
    result.problems.push(...roles.problems);
    metrics.addMetric('InventoryRoles', MetricUnit.Count, roles.roles);
  }
  await store.saveInventory(result.inventory);
  // Alerts that waited for IRSA to be placed: recorded in the table, published by the outbox on its stream.
  const placement = await placeParked(store, policy, new Date());
  if (placement.placed > 0) logger.info('parked IRSA placed', { events: placement.placed, alerts: placement.alerts.length });
  for (const problem of result.problems) logger.warn('cluster not read', { ...problem });
  metrics.addMetric('InventoryClusters', MetricUnit.Count, result.clusters);
  metrics.addMetric('InventoryProblems', MetricUnit.Count, result.problems.length);
  metrics.publishStoredMetrics();
  logger.info('inventory synced', {
    regions,
    clusters: result.clusters,
    associations: result.inventory.associations.length,
    nodegroups: result.inventory.nodegroups.length,
    problems: result.problems.length,
  });
  if (result.clusters === 0 && result.problems.length > 0) {
    throw new Error(`no cluster could be read: ${result.problems[0]!.reason}`);
  }
  return { clusters: result.clusters, problems: result.problems.length };
};
