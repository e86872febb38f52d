import { InvalidArgumentError, type Command } from 'commander';
// The clients that resolve accounts (STS, Organizations) load when a command resolves them.
import type {
  AccountCredentials,
  AccountProblem,
  AccountSource,
  ResolveAccountsOptions,
  ResolvedAccounts,
} from '../../adapters/aws-accounts';
import { AccountsError, AwsFatalError } from '../../adapters/aws-calls';
import { ACCOUNT_ID_PATTERN, ACCOUNT_PLACEHOLDER } from '../../core/aws-names';
import { UsageError, type Io } from './io';
import { collect } from './options';
import { plural } from './render';

/**
 * The options that choose whose AWS accounts a command reads (`inventory sync`, `backfill`):
 * named profiles, or a role assumed in each account named or in the whole organization.
 */

export interface AccountFlags {
  profile?: string[];
  roleArn?: string;
  accounts?: string[];
  organization?: boolean;
}

/** `arn:aws:iam::{account}:role/cutover-watch-read` (any partition, any role path). */
const ROLE_ARN_TEMPLATE = /^arn:aws[a-z-]*:iam::\{account\}:role\/[\w+=,.@/-]+$/;

export function withAccountOptions(command: Command): Command {
  return command
    .option('--profile <name>', "a named profile of the AWS config files, with its region unless --region is given (repeatable: one credential set each)", collectProfile)
    .option('--role-arn <arn>', `a role to assume in each account, ${ACCOUNT_PLACEHOLDER} where its id goes (with --accounts or --organization; one --profile may name the credentials that assume it)`, roleArnTemplate)
    .option('--accounts <ids>', 'the accounts to assume --role-arn in (comma-separated or repeatable)', collectAccounts)
    .option('--organization', "every ACTIVE account of the AWS Organization (organizations:ListAccounts, from the management or a delegated administrator account)");
}

/** The help paragraph both commands print: how the accounts are read, and what each needs. */
export const ACCOUNTS_HELP =
  '\nAccounts: the default credentials read one account. --profile P (repeatable) reads each profile\'s account in its own region ' +
  '(--region overrides it for all). --role-arn with --accounts or --organization assumes the role (session name cutover-watch) in each account; ' +
  'an account that cannot be read is one line naming the missing permission (sts:AssumeRole, …) and the others are still read.';

export function accountSourceOf(flags: AccountFlags): AccountSource {
  const profiles = flags.profile ?? [];
  const accounts = flags.accounts ?? [];
  if (flags.roleArn === undefined) {
    if (accounts.length > 0 || flags.organization) throw new UsageError(`--${accounts.length > 0 ? 'accounts' : 'organization'} needs --role-arn: the role to assume in each account (e.g. --role-arn 'arn:aws:iam::{account}:role/cutover-watch-read')`);
    return profiles.length > 0 ? { kind: 'profiles', profiles } : { kind: 'default' };
  }
  if (accounts.length > 0 && flags.organization) throw new UsageError('--accounts and --organization: pass one (the accounts named, or every account of the organization)');
  if (accounts.length === 0 && !flags.organization) throw new UsageError('--role-arn needs --accounts A,B or --organization: the accounts to assume it in');
  if (profiles.length > 1) throw new UsageError(`--role-arn takes at most one --profile (the credentials that assume the role), got ${profiles.length}`);
  return { kind: 'roles', roleArnTemplate: flags.roleArn, accounts: flags.organization ? 'organization' : accounts, sourceProfile: profiles[0] };
}

export type AccountDeps = Pick<ResolveAccountsOptions, 'stsClient' | 'organizationsClient' | 'readConfigFile'>;

/** The credential sets to read with; argument and credential problems as usage errors (exit 2). */
export async function resolveAccountSets(flags: AccountFlags & { region?: string[] }, deps: AccountDeps & { env?: NodeJS.ProcessEnv } = {}): Promise<ResolvedAccounts> {
  try {
    const { resolveAccounts } = await import('../../adapters/aws-accounts');
    return await resolveAccounts({ source: accountSourceOf(flags), regions: flags.region ?? [], ...deps });
  } catch (e) {
    if (e instanceof AccountsError || e instanceof AwsFatalError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

/** Whether the run reads more than the default credentials' account (its lines then name the account). */
export function readsManyAccounts(flags: AccountFlags): boolean {
  return (flags.profile?.length ?? 0) > 0 || flags.roleArn !== undefined;
}

/** One line per account that could not be read, then which ones were (exit 1 is the caller's). */
export function printAccountProblems(problems: readonly AccountProblem[], read: readonly AccountCredentials[], io: Io): void {
  if (problems.length === 0) return;
  for (const p of problems) io.err(`${p.label}: not read: ${p.reason}`);
  io.err(
    `read ${read.length} of ${plural(read.length + problems.length, 'account')}` +
      `${read.length > 0 ? ` (${read.map((s) => s.label).join(', ')})` : ''}; not read: ${problems.map((p) => p.label).join(', ')}`,
  );
}

/** The account flags as typed, for a command line the CLI suggests (resume). */
export function accountArgs(flags: AccountFlags): string[] {
  const args = (flags.profile ?? []).flatMap((p) => ['--profile', p]);
  if (flags.roleArn !== undefined) args.push('--role-arn', flags.roleArn);
  if (flags.accounts?.length) args.push('--accounts', flags.accounts.join(','));
  if (flags.organization) args.push('--organization');
  return args;
}

function collectProfile(value: string, previous: string[] | undefined): string[] {
  if (!/^[\w.@+=,/-]+$/.test(value)) throw new InvalidArgumentError(`expected a profile name of the AWS config files, got ${JSON.stringify(value)}`);
  return collect(value, previous);
}

function roleArnTemplate(value: string): string {
  if (!ROLE_ARN_TEMPLATE.test(value)) {
    throw new InvalidArgumentError(`expected an IAM role ARN with ${ACCOUNT_PLACEHOLDER} for the account id, such as 'arn:aws:iam::{account}:role/cutover-watch-read', got ${JSON.stringify(value)}`);
  }
  return value;
}

function collectAccounts(value: string, previous: string[] | undefined): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = ids.find((id) => !ACCOUNT_ID_PATTERN.test(id));
  if (ids.length === 0 || bad !== undefined) throw new InvalidArgumentError(`expected 12-digit AWS account ids, comma-separated, got ${JSON.stringify(bad ?? value)}`);
  return [...(previous ?? []), ...ids];
}
