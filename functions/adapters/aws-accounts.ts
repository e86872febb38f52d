import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EKSClient } from '@aws-sdk/client-eks';
import { paginateListAccounts, OrganizationsClient, type Account } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { fromIni } from '@aws-sdk/credential-providers';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IAMClient } from '@aws-sdk/client-iam';
import { emptyInventory, mergeInventory } from '../core/inventory';
import { iamClient, parseRoleArn, syncRoles, type RoleSyncResult } from './iam-roles';
import { AccountsError, AwsFatalError, fatalReason, oneLine, problemReason, SDK_MAX_ATTEMPTS } from './aws-calls';
import { ACCOUNT_PLACEHOLDER, REGION_PATTERN } from '../core/aws-names';
import { syncInventory, type InventoryProblem, type SyncOptions, type SyncResult } from './eks-inventory';
import { mapLimit } from './map-limit';

/**
 * The credential sets of a run that reads many accounts: one per named profile (`--profile`), or
 * one per account reached by assuming a role (`--role-arn` with `{account}`, the accounts named or
 * listed from AWS Organizations). Each set carries the regions to read with it, so a profile's own
 * `region` is honoured. An account that cannot be reached is a problem naming the permission it
 * lacks; the others are still returned. Free of CLI concerns: the CLI and the inventory Lambda both
 * call it.
 */

/** Credentials as an SDK client takes them; undefined is the SDK's default chain. */
export type AwsCredentials = STSClientConfig['credentials'];

/** What the user asked to read. */
export type AccountSource =
  | { kind: 'default' }
  | { kind: 'profiles'; profiles: readonly string[] }
  | {
      kind: 'roles';
      /** A role ARN with `{account}` where the account id goes. */
      roleArnTemplate: string;
      /** The accounts, or every ACTIVE account of the organization. */
      accounts: readonly string[] | 'organization';
      /** The profile whose credentials assume the role and list the organization. @default the default chain */
      sourceProfile?: string;
    };

export interface AccountCredentials {
  /** For messages: `profile prod (111122223333)`, `account 111122223333`, or `default credentials`. */
  label: string;
  /** Null only for the default credentials, whose account is never looked up. */
  account: string | null;
  profile: string | null;
  roleArn: string | null;
  credentials: AwsCredentials;
  /** Regions to read with these credentials. */
  regions: string[];
}

export interface AccountProblem {
  /** `profile prod`, `account 222233334444`. */
  label: string;
  operation: string;
  reason: string;
}

export interface ResolvedAccounts {
  sets: AccountCredentials[];
  problems: AccountProblem[];
  /** Releases the STS clients that renew assumed-role sessions: call once the reading is done. */
  close(): void;
}

export interface ResolveAccountsOptions {
  source: AccountSource;
  /** `--region` as given; empty: each profile's region, else AWS_REGION. */
  regions: readonly string[];
  env?: NodeJS.ProcessEnv;
  stsClient?: (region: string, credentials: AwsCredentials) => STSClient;
  organizationsClient?: (region: string, credentials: AwsCredentials) => OrganizationsClient;
  /** Reads the shared config file; null when it does not exist. @default node:fs */
  readConfigFile?: (file: string) => Promise<string | null>;
}

/** The session name of every assumed role: what CloudTrail shows as the caller in member accounts. */
export const ROLE_SESSION_NAME = 'cutover-watch';
/** Assumed-role sessions are renewed this long before they expire (a backfill runs for hours). */
const RENEW_BEFORE_MS = 5 * 60_000;
/** AssumeRole calls in flight while the accounts are resolved. */
const ASSUME_CONCURRENCY = 8;


export function stsClient(region: string, credentials: AwsCredentials): STSClient {
  return new STSClient({ region, credentials, maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive' });
}

export function organizationsClient(region: string, credentials: AwsCredentials): OrganizationsClient {
  return new OrganizationsClient({ region, credentials, maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive' });
}

/** An EKS client of one credential set: adaptive retry, as `eksClient`. */
export function eksClientWith(region: string, credentials: AwsCredentials): EKSClient {
  return new EKSClient({ region, credentials, maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive' });
}

/** A CloudTrail client of one credential set: adaptive retry, as `cloudTrailClient`. */
export function cloudTrailClientWith(region: string, credentials: AwsCredentials): CloudTrailClient {
  return new CloudTrailClient({ region, credentials, maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive' });
}

export async function resolveAccounts(options: ResolveAccountsOptions): Promise<ResolvedAccounts> {
  const env = options.env ?? process.env;
  const envRegion = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || undefined;
  const config = await sharedConfig(env, options.readConfigFile ?? readIfExists);
  const source = options.source;

  if (source.kind === 'default') {
    const regions = regionsFor(options.regions, envRegion ?? config.get(env['AWS_PROFILE'] || 'default')?.['region'], 'no region: pass --region (e.g. --region us-east-1) or set AWS_REGION');
    return { sets: [{ label: 'default credentials', account: null, profile: null, roleArn: null, credentials: undefined, regions }], problems: [], close: () => undefined };
  }

  const clients: { destroy(): void }[] = [];
  const close = () => {
    for (const c of clients.splice(0)) c.destroy();
  };
  const sts = (region: string, credentials: AwsCredentials) => track(clients, (options.stsClient ?? stsClient)(region, credentials));
  try {
    if (source.kind === 'profiles') {
      const sets: AccountCredentials[] = [];
      const problems: AccountProblem[] = [];
      for (const profile of unique(source.profiles)) {
        const profileRegion = config.get(profile)?.['region'];
        const regions = regionsFor(
          options.regions,
          profileRegion ?? envRegion,
          `no region for profile ${profile}: pass --region (e.g. --region us-east-1), or set region in [profile ${profile}] of ${configFilePath(env)} or AWS_REGION`,
        );
        const credentials = fromIni({ profile });
        try {
          // Loaded first, so a profile that is missing or whose SSO session expired says so by name.
          await credentials();
          // GetCallerIdentity needs no permission: it proves the profile's credentials and names the account.
          const identity = await sts(regions[0]!, credentials).send(new GetCallerIdentityCommand({}));
          const account = identity.Account ?? null;
          sets.push({ label: `profile ${profile}${account ? ` (${account})` : ''}`, account, profile, roleArn: null, credentials, regions });
        } catch (e) {
          problems.push({ label: `profile ${profile}`, operation: 'sts:GetCallerIdentity', reason: credentialReason(e, regions[0]!) });
        }
      }
      return { sets, problems, close };
    }

    const sourceCredentials = source.sourceProfile === undefined ? undefined : fromIni({ profile: source.sourceProfile });
    const profileRegion = source.sourceProfile === undefined ? config.get(env['AWS_PROFILE'] || 'default')?.['region'] : config.get(source.sourceProfile)?.['region'];
    const regions = regionsFor(
      options.regions,
      source.sourceProfile === undefined ? (envRegion ?? profileRegion) : (profileRegion ?? envRegion),
      'no region: pass --region (e.g. --region us-east-1) or set AWS_REGION',
    );
    const accounts =
      source.accounts === 'organization'
        ? await organizationAccounts(track(clients, (options.organizationsClient ?? organizationsClient)(regions[0]!, sourceCredentials)), regions[0]!)
        : unique(source.accounts);
    const client = sts(regions[0]!, sourceCredentials);
    const outcomes = await mapLimit(accounts, ASSUME_CONCURRENCY, async (account) => {
      const roleArn = source.roleArnTemplate.split(ACCOUNT_PLACEHOLDER).join(account);
      try {
        const credentials = await assumedRole(client, roleArn);
        return { set: { label: `account ${account}`, account, profile: null, roleArn, credentials, regions: [...regions] } };
      } catch (e) {
        // Expired or missing source credentials stop the run: no account could be reached.
        const fatal = fatalReason(e, 'sts', regions[0]!);
        if (fatal) throw new AwsFatalError(fatal, { cause: e });
        return { problem: { label: `account ${account}`, operation: 'sts:AssumeRole', reason: assumeRoleReason(e, roleArn) } };
      }
    });
    return {
      sets: outcomes.flatMap((o) => (o.set ? [o.set] : [])),
      problems: outcomes.flatMap((o) => (o.problem ? [o.problem] : [])),
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * A role's session, assumed once now (so a denial is known before anything is read) and renewed
 * shortly before it expires, with the same STS client (kept until `close`).
 */
async function assumedRole(client: STSClient, roleArn: string): Promise<NonNullable<AwsCredentials>> {
  const assume = async () => {
    const out = await client.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: ROLE_SESSION_NAME }));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`AssumeRole of ${roleArn} returned no credentials`);
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  };
  let current = await assume();
  let renewing: Promise<typeof current> | null = null;
  return async () => {
    if (current.expiration && current.expiration.getTime() - Date.now() < RENEW_BEFORE_MS) {
      renewing ??= assume().finally(() => (renewing = null));
      current = await renewing;
    }
    return current;
  };
}

/**
 * The organization's ACTIVE accounts (ListAccounts, every page). `State` replaces `Status`, which
 * AWS retires on 2026-09-09 (https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html).
 */
async function organizationAccounts(client: OrganizationsClient, region: string): Promise<string[]> {
  const accounts: string[] = [];
  try {
    for await (const page of paginateListAccounts({ client }, {})) {
      for (const a of page.Accounts ?? []) if (isActive(a) && a.Id) accounts.push(a.Id);
    }
  } catch (e) {
    const fatal = fatalReason(e, 'organizations', region);
    if (fatal) throw new AwsFatalError(fatal, { cause: e });
    const name = (e as { name?: string }).name;
    const hint =
      name === 'AWSOrganizationsNotInUseException'
        ? 'the credentials\' account is not in an organization'
        : name === 'AccessDeniedException'
          ? 'run from the management account or a delegated administrator'
          : null;
    throw new AwsFatalError(`cannot list the organization's accounts: ${problemReason(e, 'ListAccounts', 'organizations')}${hint ? `; ${hint}` : ''}`, { cause: e });
  }
  return accounts.sort();
}

function isActive(account: Account): boolean {
  return (account.State ?? account.Status) === 'ACTIVE';
}

/** A profile that could not be used: not found, SSO session expired, credentials refused. */
function credentialReason(error: unknown, region: string): string {
  const e = error as { name?: string; message?: string } | null;
  if (e?.name === 'CredentialsProviderError') return `its credentials cannot be loaded: ${oneLine(e.message)}`;
  return fatalReason(error, 'sts', region) ?? problemReason(error, 'GetCallerIdentity', 'sts');
}

/** AccessDenied on AssumeRole: the caller lacks sts:AssumeRole, or the role's trust policy does not name it. */
function assumeRoleReason(error: unknown, roleArn: string): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (e?.name === 'AccessDenied' || e?.$metadata?.httpStatusCode === 403) {
    return `missing permission sts:AssumeRole on ${roleArn} (${e?.name ?? 'AccessDenied'}: the role does not exist, its trust policy does not name the caller, or the caller may not assume it)`;
  }
  return `${roleArn}: ${problemReason(error, 'AssumeRole', 'sts')}`;
}

/** Regions to read: the explicit ones, else the one found (profile or environment); each must look like a region. */
function regionsFor(explicit: readonly string[], found: string | undefined, missing: string): string[] {
  const regions = explicit.length > 0 ? [...explicit] : found ? [found] : [];
  if (regions.length === 0) throw new AccountsError(missing);
  for (const region of regions) {
    if (!REGION_PATTERN.test(region)) throw new AccountsError(`${JSON.stringify(region)} is not an AWS region name such as us-east-1, eu-west-2 or us-gov-west-1`);
  }
  return unique(regions);
}

// ---------------------------------------------------------------------------------------------
// The inventory of several accounts

export type AccountInventoryProblem = InventoryProblem & { account?: string };

export interface AccountsSyncResult extends SyncResult {
  problems: AccountInventoryProblem[];
  /** The accounts whose clusters were listed (some clusters may still be problems). */
  read: AccountCredentials[];
  /** Accounts that could not be read at all: their credentials were refused (a region not enabled…). */
  notRead: AccountProblem[];
}

/**
 * `syncInventory` in each account, one after another (EKS throttles per account, not across
 * them), merged into one inventory. Problems name their account when there is more than one. A
 * fatal error of one account (credentials refused) is that account's problem; with a single set it
 * is thrown, as `syncInventory` does. A --cluster found in one account is no problem in the others.
 */
export async function syncAccounts(
  sets: readonly AccountCredentials[],
  options: Omit<SyncOptions, 'regions' | 'clientFor' | 'onCluster'> & {
    clientFor: (region: string, account: AccountCredentials) => EKSClient;
    onCluster?(account: AccountCredentials, region: string, cluster: string): void;
    /** Name the account in each problem. @default more than one set */
    labelProblems?: boolean;
  },
): Promise<AccountsSyncResult> {
  const label = options.labelProblems ?? sets.length > 1;
  let inventory = emptyInventory();
  let clusters = 0;
  const problems: AccountInventoryProblem[] = [];
  const read: AccountCredentials[] = [];
  const notRead: AccountProblem[] = [];
  for (const account of sets) {
    let result: SyncResult;
    try {
      result = await syncInventory({
        ...options,
        regions: account.regions,
        clientFor: (region) => options.clientFor(region, account),
        onCluster: (region, cluster) => options.onCluster?.(account, region, cluster),
      });
    } catch (e) {
      if (!(e instanceof AwsFatalError) || sets.length === 1) throw e;
      notRead.push({ label: account.label, operation: 'eks', reason: e.message });
      continue;
    }
    read.push(account);
    inventory = mergeInventory(inventory, result.inventory);
    clusters += result.clusters;
    problems.push(...result.problems.map((p) => (label ? { account: account.label, ...p } : p)));
  }
  const found = new Set(inventory.clusters.map((c) => c.name));
  const foundElsewhere = (p: InventoryProblem) => p.operation === 'ListClusters' && p.cluster !== null && found.has(p.cluster) && p.reason.startsWith('no cluster named');
  return { inventory, clusters, problems: read.length > 1 ? problems.filter((p) => !foundElsewhere(p)) : problems, read, notRead };
}

// ---------------------------------------------------------------------------------------------
// The shared config file: only each profile's `region` is needed from it.

/** `AWS_CONFIG_FILE`, else `~/.aws/config` (AWS SDKs and Tools reference guide, "Location of the shared files"). */
export function configFilePath(env: NodeJS.ProcessEnv): string {
  const file = env['AWS_CONFIG_FILE'];
  if (file) return file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : file;
  return path.join(env['HOME'] || os.homedir(), '.aws', 'config');
}

async function sharedConfig(env: NodeJS.ProcessEnv, read: (file: string) => Promise<string | null>): Promise<Map<string, Record<string, string>>> {
  const text = await read(configFilePath(env));
  return text === null ? new Map() : parseConfigProfiles(text);
}

/**
 * Profiles of a shared config file: `[default]` and `[profile NAME]` sections with their
 * `key = value` settings (https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html).
 * Other sections (`[sso-session …]`, `[services …]`) and indented sub-settings are skipped.
 */
export function parseConfigProfiles(text: string): Map<string, Record<string, string>> {
  const profiles = new Map<string, Record<string, string>>();
  let current: Record<string, string> | null = null;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*([#;].*)?$/.test(raw)) continue;
    const section = /^\s*\[\s*([^\]]+?)\s*\]/.exec(raw);
    if (section) {
      const name = section[1]!;
      const profile = name === 'default' ? 'default' : /^profile\s+(\S+)$/.exec(name)?.[1];
      if (profile === undefined) current = null;
      else {
        current = profiles.get(profile) ?? {};
        profiles.set(profile, current);
      }
      continue;
    }
    if (current === null || /^\s/.test(raw)) continue;
    const setting = /^([\w.-]+)\s*=\s*(.*?)\s*$/.exec(raw);
    if (setting) current[setting[1]!.toLowerCase()] = setting[2]!;
  }
  return profiles;
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AccountsError(`cannot read the AWS config file ${file}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------

function track<T extends { destroy(): void }>(list: { destroy(): void }[], client: T): T {
  list.push(client);
  return client;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}


/**
 * The roles the preflight lints (`rolesToRead`), each read with the credentials of its own account:
 * IAM's GetRole takes a name, so another account's credentials would read a namesake or nothing.
 * Roles of an account no set names go to the default credentials when a set has them; otherwise
 * each is a problem naming the account to add.
 */
export async function syncRolesOfAccounts(
  sets: readonly AccountCredentials[],
  roleArns: readonly string[],
  options: { clientFor?: (partition: string, account: AccountCredentials) => IAMClient } = {},
): Promise<RoleSyncResult> {
  const fallback = sets.find((s) => s.account === null);
  const byAccount = new Map<AccountCredentials, string[]>();
  const problems: InventoryProblem[] = [];
  for (const arn of roleArns) {
    const account = parseRoleArn(arn)?.account;
    const set = sets.find((s) => s.account !== null && s.account === account) ?? fallback;
    if (set) byAccount.set(set, [...(byAccount.get(set) ?? []), arn]);
    else problems.push({ region: 'iam', cluster: arn, operation: 'GetRole', reason: `no credentials of account ${account ?? '?'} were given: add it (--accounts, --profile) to lint this role` });
  }
  let inventory = emptyInventory();
  let roles = 0;
  for (const [set, arns] of byAccount) {
    const result = await syncRoles({ roleArns: arns, clientFor: (partition) => options.clientFor?.(partition, set) ?? iamClient(partition, set.credentials) });
    inventory = mergeInventory(inventory, result.inventory);
    problems.push(...result.problems);
    roles += result.roles;
  }
  return { inventory, problems, roles };
}
