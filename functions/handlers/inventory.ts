import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { eksClientWith, resolveAccounts, syncAccounts, syncRolesOfAccounts, type AccountCredentials, type AccountProblem } from '../adapters/aws-accounts';
import { DynamoEvidenceStore } from '../adapters/dynamo-evidence-store';
import { eksClient } from '../adapters/eks-inventory';
import { rolesToRead } from '../adapters/iam-roles';
import { mergeInventory } from '../core/inventory';
import { placeParked } from '../adapters/placement';
import { listEnv, logger, metrics, policyFromEnv, requiredEnv } from './runtime';

const store = new DynamoEvidenceStore({ client: new DynamoDBClient({}), tableName: requiredEnv('TABLE_NAME'), writerLease: true });
const regions = listEnv('EKS_REGIONS');
const policy = policyFromEnv();
/** Member accounts read through their read role (lib/member-read-role-stack.ts); none: this account only. */
const memberAccounts = listEnv('MEMBER_ACCOUNTS');
/** The read role's ARN with `{account}` for the member's id. */
const memberRoleArn = process.env['MEMBER_READ_ROLE_ARN'] ?? '';

/**
 * Scheduled: the EKS side of the fleet (issuer → cluster, associations, node roles, the Pod Identity
 * Agent add-on) and the IAM roles the preflight lints into the table, with the same code as
 * `cutover-watch inventory sync`: this account with the function's role, then each member account
 * through its read role (each role read in its own account). Accounts, clusters and roles that could
 * not be read are logged and counted; the job fails (and goes to its failure destination) only when
 * nothing could be read.
 */
export const handler = async (): Promise<{ clusters: number; problems: number; accounts: number; accountsNotRead: number }> => {
  if (regions.length === 0) throw new Error('EKS_REGIONS is empty: the stack must pass the regions to read');
  if (memberAccounts.length > 0 && !memberRoleArn.includes('{account}')) throw new Error('MEMBER_READ_ROLE_ARN must name the member read role with {account}');
  const home: AccountCredentials = { label: 'this account', account: null, profile: null, roleArn: null, credentials: undefined, regions };
  const members =
    memberAccounts.length > 0
      ? await resolveAccounts({ source: { kind: 'roles', roleArnTemplate: memberRoleArn, accounts: memberAccounts }, regions })
      : { sets: [], problems: [] as AccountProblem[], close: () => undefined };
  let result;
  try {
    result = await syncAccounts([home, ...members.sets], {
      clientFor: (region, account) => (account.credentials ? eksClientWith(region, account.credentials) : eksClient(region)),
      labelProblems: memberAccounts.length > 0,
    });
  } finally {
    members.close();
  }
  const notRead = [...members.problems, ...result.notRead];
  if (result.clusters > 0) {
    const roles = await syncRolesOfAccounts(result.read, await rolesToRead(result.inventory, store));
    result.inventory = mergeInventory(result.inventory, roles.inventory);
    result.problems.push(...roles.problems);
    metrics.addMetric('InventoryRoles', MetricUnit.Count, roles.roles);
  }
  await store.saveInventory(result.inventory);
  // Alerts that waited for IRSA to be placed: recorded in the table, published by the outbox on its stream.
  const placement = await placeParked(store, policy, new Date());
  if (placement.placed > 0) logger.info('parked IRSA placed', { events: placement.placed, alerts: placement.alerts.length });
  for (const problem of result.problems) logger.warn('cluster not read', { ...problem });
  for (const problem of notRead) logger.warn('account not read', { ...problem });
  metrics.addMetric('InventoryClusters', MetricUnit.Count, result.clusters);
  metrics.addMetric('InventoryProblems', MetricUnit.Count, result.problems.length);
  metrics.addMetric('InventoryAccountsNotRead', MetricUnit.Count, notRead.length);
  metrics.publishStoredMetrics();
  logger.info('inventory synced', {
    regions,
    accounts: result.read.length,
    clusters: result.clusters,
    associations: result.inventory.associations.length,
    nodegroups: result.inventory.nodegroups.length,
    problems: result.problems.length,
    accountsNotRead: notRead.length,
  });
  if (result.clusters === 0 && (result.problems.length > 0 || notRead.length > 0)) {
    throw new Error(`no cluster could be read: ${(result.problems[0] ?? notRead[0])!.reason}`);
  }
  return { clusters: result.clusters, problems: result.problems.length, accounts: result.read.length, accountsNotRead: notRead.length };
};
