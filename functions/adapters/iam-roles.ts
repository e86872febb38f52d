import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  type IAMClientConfig,
  paginateListAttachedRolePolicies,
  paginateListRolePolicies,
} from '@aws-sdk/client-iam';
import { emptyInventory, mergeInventory, policyDocument, type Inventory, type InventoryPolicy } from '../core/inventory';
import type { DynamoEvidenceStore } from './dynamo-evidence-store';
import { defaultSleep, plain, problemReason, rethrowFatal, SDK_MAX_ATTEMPTS, UnexpectedResponse, withRetry, type Retry } from './aws-calls';
import { parsed, type InventoryProblem } from './eks-inventory';

/**
 * The IAM side of the preflight: each role's trust policy, inline policies and attached customer
 * managed policies (their default version), as `inventory import` reads them from the AWS CLI
 * (GetRole and GetRolePolicy responses go through `parseInventoryDocument`; the API returns
 * documents URL-encoded, which it decodes: https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html).
 *
 * Calls per role (IAM API reference): GetRole, ListRolePolicies + GetRolePolicy each,
 * ListAttachedRolePolicies + GetPolicy + GetPolicyVersion each customer managed policy. AWS managed
 * policies (`arn:aws:iam::aws:policy/…`) are listed, not read: they never key on a cluster's
 * session tags. IAM actions: iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy,
 * iam:ListAttachedRolePolicies, iam:GetPolicy, iam:GetPolicyVersion.
 */

export interface RoleSyncOptions {
  roleArns: readonly string[];
  /** One client per partition (IAM is global within it). @default iamClient */
  clientFor?: (partition: string) => IAMClient;
  sleep?: (ms: number) => Promise<void>;
  throttleRetries?: number;
}

export interface RoleSyncResult {
  inventory: Inventory;
  problems: InventoryProblem[];
  /** Roles read (GetRole answered for that ARN). */
  roles: number;
}

/** IAM's endpoint region per partition (IAM is global; its signing region is this one). */
const PARTITION_REGION: Record<string, string> = { aws: 'us-east-1', 'aws-cn': 'cn-north-1', 'aws-us-gov': 'us-gov-west-1' };

/** An IAM client of the partition, with the default credential chain or the given credentials. */
export function iamClient(partition: string, credentials?: IAMClientConfig['credentials']): IAMClient {
  return new IAMClient({ region: PARTITION_REGION[partition] ?? 'us-east-1', maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive', ...(credentials ? { credentials } : {}) });
}

/** `arn:aws:iam::111122223333:role/path/name` → its partition and name; null for anything else. */
export function parseRoleArn(arn: string): { partition: string; account: string; name: string } | null {
  const m = /^arn:(aws[\w-]*):iam::(\d{12}):role\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]{1,64})$/.exec(arn);
  return m ? { partition: m[1]!, account: m[2]!, name: m[3]! } : null;
}

const AWS_MANAGED = /^arn:aws[\w-]*:iam::aws:policy\//;

/**
 * The roles the preflight lints: every association's role, and every role a service account
 * assumed through IRSA (the store's evidence under its OIDC issuers): a straggler's role is the one
 * its switch will associate, a READY namespace's the one whose IRSA statement is left to remove.
 */
export async function rolesToRead(inventory: Inventory, store: Pick<DynamoEvidenceStore, 'snapshotReads'>): Promise<string[]> {
  // A day no evidence has: only the service-account items are read, no daily counts.
  const reads = await store.snapshotReads('9999-12-31');
  const irsa = reads.scopes
    .filter((s) => s.scope['kind'] === 'issuer')
    .flatMap((s) => s.items.filter((i) => i.type === 'sa').flatMap((i) => (i['roles'] as string[] | undefined) ?? []));
  const associated = inventory.associations.map((a) => a.roleArn).filter((r): r is string => r !== null);
  return [...new Set([...associated, ...irsa])].sort();
}

export async function syncRoles(options: RoleSyncOptions): Promise<RoleSyncResult> {
  const retry: Retry = { sleep: options.sleep ?? defaultSleep, retries: options.throttleRetries ?? 5 };
  const clients = new Map<string, IAMClient>();
  const clientOf = (partition: string) => {
    let c = clients.get(partition);
    if (!c) clients.set(partition, (c = (options.clientFor ?? iamClient)(partition)));
    return c;
  };
  const problems: InventoryProblem[] = [];
  let inventory = emptyInventory();
  let roles = 0;
  const policiesRead = new Set<string>();
  try {
    for (const arn of [...new Set(options.roleArns)].sort()) {
      const parts = parseRoleArn(arn);
      if (!parts) {
        problems.push({ region: 'iam', cluster: arn, operation: 'GetRole', reason: 'not an IAM role ARN' });
        continue;
      }
      const client = clientOf(parts.partition);
      const problem = (operation: string, e: unknown) => {
        rethrowFatal(e, 'iam', PARTITION_REGION[parts.partition] ?? 'us-east-1');
        const missing = (e as { name?: string } | null)?.name === 'NoSuchEntityException';
        problems.push({ region: 'iam', cluster: parts.name, operation, reason: missing ? `no role ${parts.name} in account ${parts.account}: deleted, or the ARN is wrong` : problemReason(e, operation, 'iam') });
      };
      let role: Inventory;
      try {
        const out = await withRetry(() => client.send(new GetRoleCommand({ RoleName: parts.name })), retry);
        if (out.Role?.Arn !== arn) {
          // GetRole takes a name: the credentials' account answered for a role of the same name elsewhere.
          problems.push({ region: 'iam', cluster: parts.name, operation: 'GetRole', reason: `the credentials read ${out.Role?.Arn ?? 'no role'}, not ${arn}: read account ${parts.account} with its own credentials` });
          continue;
        }
        role = parsed({ Role: plain(out.Role) });
        roles += 1;
      } catch (e) {
        problem('GetRole', e);
        continue;
      }

      let operation = 'ListRolePolicies';
      try {
        const names = await listAll((token) => paginateListRolePolicies({ client, startingToken: token }, { RoleName: parts.name }), (p) => p.PolicyNames, retry);
        operation = 'GetRolePolicy';
        for (const name of names) {
          const out = await withRetry(() => client.send(new GetRolePolicyCommand({ RoleName: parts.name, PolicyName: name })), retry);
          role = mergeInventory(role, parsed({ RoleName: parts.name, PolicyName: name, PolicyDocument: out.PolicyDocument }));
        }
        // A role without inline policies: say so (an empty list), not "never read" (null).
        if (names.length === 0) role = { ...role, roles: role.roles!.map((r) => ({ ...r, inlinePolicies: [] })) };
      } catch (e) {
        problem(operation, e);
      }

      operation = 'ListAttachedRolePolicies';
      try {
        const attached = await listAll((token) => paginateListAttachedRolePolicies({ client, startingToken: token }, { RoleName: parts.name }), (p) => p.AttachedPolicies, retry);
        const list = attached.filter((a) => a.PolicyArn && a.PolicyName).map((a) => ({ name: a.PolicyName!, arn: a.PolicyArn! }));
        role = { ...role, roles: role.roles!.map((r) => ({ ...r, attachedPolicies: list })) };
        const policies: InventoryPolicy[] = [];
        for (const p of list) {
          if (AWS_MANAGED.test(p.arn) || policiesRead.has(p.arn)) continue;
          policiesRead.add(p.arn);
          operation = 'GetPolicy';
          const meta = await withRetry(() => client.send(new GetPolicyCommand({ PolicyArn: p.arn })), retry);
          const versionId = meta.Policy?.DefaultVersionId;
          if (!versionId) continue;
          operation = 'GetPolicyVersion';
          const version = await withRetry(() => client.send(new GetPolicyVersionCommand({ PolicyArn: p.arn, VersionId: versionId })), retry);
          const document = policyDocument(version.PolicyVersion?.Document);
          if (typeof document === 'string') throw new UnexpectedResponse(`GetPolicyVersion ${p.arn}: ${document}`);
          policies.push({ arn: p.arn, name: p.name, document });
        }
        role = mergeInventory(role, { ...emptyInventory(), policies });
      } catch (e) {
        problem(operation, e);
      }
      inventory = mergeInventory(inventory, role);
    }
  } finally {
    for (const c of clients.values()) c.destroy();
  }
  return { inventory, problems, roles };
}

/** Every item of a paginated IAM list (Marker/IsTruncated, through the SDK paginator). */
async function listAll<P, T>(open: (token: string | undefined) => AsyncIterable<P>, pick: (page: P) => T[] | undefined, retry: Retry): Promise<T[]> {
  return withRetry(async () => {
    const items: T[] = [];
    for await (const page of open(undefined)) items.push(...(pick(page) ?? []));
    return items;
  }, retry);
}

