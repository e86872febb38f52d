import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Node } from 'constructs';
import { z } from 'zod';
import { DEFAULT_NODE_ROLE_PATTERNS } from '../functions/core/node-roles';
import { parsePolicy, type Policy } from '../functions/core/policy';
import { S3_BUCKET_NAME_ONLY } from '../functions/core/s3-names';

/**
 * The deployment's configuration, from the CDK context: either an object under `cutoverWatch`
 * (cdk.json, or `-c cutoverWatch='{"…"}'`) or a JSON file named by `cutoverWatchConfig`.
 * Checked strictly at synth, so a typo stops the deploy with the key and the fix in the message.
 */

export const CONFIG_CONTEXT_KEY = 'cutoverWatch';
export const CONFIG_FILE_CONTEXT_KEY = 'cutoverWatchConfig';

/** Where global-endpoint STS calls (`sts.amazonaws.com`) are recorded (docs/cloudtrail.md §4c). */
export const GLOBAL_STS_REGION = 'us-east-1';

const region = z
  .string()
  .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/, { error: (i) => `expected an AWS region such as eu-west-1, got ${JSON.stringify(i.input)}` });
const account = z
  .string()
  .regex(/^\d{12}$/, { error: (i) => `expected a 12-digit AWS account id in quotes, got ${JSON.stringify(i.input)}` });
const roleArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, { error: (i) => `expected an IAM role ARN (arn:aws:iam::111122223333:role/NAME), got ${JSON.stringify(i.input)}` });
// EventBridge's `wildcard` operator knows only `*`: no `?`, brackets or braces (docs/cloudtrail.md §5; EventBridge user guide, "Comparison operators for use in event patterns").
const roleNameGlob = z
  .string()
  .regex(/^[\w+=,.@/*-]+$/, { error: (i) => `expected a role name glob using only * as wildcard (EventBridge wildcard), got ${JSON.stringify(i.input)}` });
// EventBridge Scheduler expressions: rate(…), cron(…) or at(…).
const scheduleExpression = z
  .string()
  .regex(/^(rate|cron|at)\(.+\)$/, { error: (i) => `expected rate(…), cron(…) or at(…), e.g. "rate(6 hours)", got ${JSON.stringify(i.input)}` });

export const ConfigSchema = z.strictObject({
  /** Region of the home stack (table, alerts, central bus). @default CDK_DEFAULT_REGION, else us-east-1 */
  homeRegion: region.optional(),
  /** Account of the home stack; needed when collectors in other accounts must name its bus. @default CDK_DEFAULT_ACCOUNT */
  homeAccount: account.optional(),
  /** More regions with EKS clusters: each gets a collector stack forwarding to the central bus. @default [] */
  collectorRegions: z.array(region).default([]),
  /** Accounts allowed to put events on the central bus; each gets collector stacks in every region. @default [] */
  collectorAccounts: z.array(account).default([]),
  /** An AWS Organization whose accounts may put events on the central bus (aws:PrincipalOrgID). */
  organizationId: z
    .string()
    .regex(/^o-[a-z0-9]{10,32}$/, { error: (i) => `expected an organization id such as o-a1b2c3d4e5, got ${JSON.stringify(i.input)}` })
    .optional(),
  /** Exact node role ARNs for the node-role fallthrough rule. @default [] */
  nodeRoleArns: z.array(roleArn).default([]),
  /** Node role name globs for the node-role fallthrough rule. @default DEFAULT_NODE_ROLE_PATTERNS */
  nodeRolePatterns: z.array(roleNameGlob).default([...DEFAULT_NODE_ROLE_PATTERNS]),
  /** The detections' policy file (core/policy.ts), checked at synth and passed to the ingest. @default built-in defaults */
  policyFile: z.string().min(1).optional(),
  /** Secrets Manager secret whose SecretString is a Slack incoming-webhook URL. @default no Slack notifier */
  slackSecretName: z
    .string()
    .regex(/^[\w/+=.@-]{1,512}$/, { error: (i) => `expected a Secrets Manager secret name, got ${JSON.stringify(i.input)}` })
    .optional(),
  /** Email addresses subscribed to the alerts topic (each must confirm). @default [] */
  alertEmails: z.array(z.email({ error: (i) => `expected an email address, got ${JSON.stringify(i.input)}` })).default([]),
  /** When the straggler report runs. @default cron(0 8 ? * MON *) - Mondays 08:00 UTC */
  reportSchedule: scheduleExpression.default('cron(0 8 ? * MON *)'),
  /** When the EKS inventory is synced. @default rate(6 hours) */
  inventorySchedule: scheduleExpression.default('rate(6 hours)'),
  /** Soak period of the readiness verdicts in the report. @default the policy's soak.soakDays (14) */
  soakDays: z.number().int().positive().max(365).optional(),
  /**
   * Hours without an identity event from a watched region before its alarm fires; the report job
   * marks verdicts UNKNOWN on the same rule (live coverage bridges no longer gap). At most 24: a
   * CloudWatch alarm period is at most one day. @default 6
   */
  noEventsAlarmHours: z.number().int().min(1).max(24).default(6),
  /**
   * Member accounts the scheduled inventory reads through a read role (MemberReadRoleStack, one
   * stack per account or one StackSet). @default [] - the home account only
   */
  memberAccounts: z.array(account).default([]),
  /** The read role's name in every member account. @default cutover-watch-read */
  memberReadRoleName: z
    .string()
    .regex(/^[\w+=,.@-]{1,64}$/, { error: (i) => `expected an IAM role name (letters, digits and +=,.@_-, at most 64), got ${JSON.stringify(i.input)}` })
    .default('cutover-watch-read'),
  /**
   * Evidence from the trail's own S3 log objects, read on a schedule (the trail fold): CloudTrail's
   * record, where EventBridge delivers its events best effort. @default none
   */
  trailLogs: z
    .strictObject({
      /** The trail's bucket. @default with createTrail, the created trail's */
      bucket: z.string().regex(S3_BUCKET_NAME_ONLY, { error: (i) => `expected an S3 bucket name, got ${JSON.stringify(i.input)}` }).optional(),
      /** Above the account folders. @default AWSLogs/ (an organization trail: AWSLogs/o-…/) */
      prefix: z
        .string()
        // CloudTrail writes under `[the trail's key prefix/]AWSLogs/[organization id/]ACCOUNT/CloudTrail/…`
        // (CloudTrail User Guide, "Finding your CloudTrail log files").
        .regex(/^(?:[^/\s]+\/)*AWSLogs\/(?:o-[a-z0-9]{10,32}\/)?$/, {
          error: (i) => `expected the key prefix above the account folders, ending in AWSLogs/ or AWSLogs/o-…/ (an organization trail), got ${JSON.stringify(i.input)}`,
        })
        .default('AWSLogs/'),
      /** Accounts whose folders are read. @default the home, collector and member accounts; every account folder when none is known */
      accounts: z.array(account).optional(),
      /** When the fold runs. @default rate(1 hour) */
      schedule: scheduleExpression.default('rate(1 hour)'),
      /** Days before today whose folders each run lists too (late deliveries, failed runs). @default 2 */
      lookbackDays: z.number().int().min(1).max(14).default(2),
      /** The trail's KMS key, when its objects are SSE-KMS encrypted. */
      kmsKeyArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/, { error: (i) => `expected a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), got ${JSON.stringify(i.input)}` })
        .optional(),
    })
    .optional(),
  /** Identity events through EventBridge rules, SQS and the ingest (alerts within minutes). Off only with trailLogs. @default true */
  liveEvents: z.boolean().default(true),
  /** Create a CloudTrail trail logging management events. @default false - use the account's trail */
  createTrail: z.boolean().default(false),
  /** Keep the table, reports, trail bucket, keys and logs when the stack is deleted. @default true */
  retainData: z.boolean().default(true),
});

export type ConfigInput = z.input<typeof ConfigSchema>;

/** One collector stack: a region (and account, when it is not the home account) forwarding to the central bus. */
export interface CollectorTarget {
  /** @default undefined - the home account (the deployer's credentials) */
  readonly account?: string;
  readonly region: string;
}

/** The configuration with every default applied and the policy file read. */
export interface CutoverWatchConfig {
  readonly homeRegion: string;
  readonly homeAccount?: string;
  readonly collectorRegions: readonly string[];
  readonly collectorAccounts: readonly string[];
  readonly organizationId?: string;
  readonly nodeRoleArns: readonly string[];
  readonly nodeRolePatterns: readonly string[];
  /** The policy as the ingest will apply it (defaults filled in). */
  readonly policy: Policy;
  /** The policy file's document as written, passed to the ingest (the handler fills the defaults); undefined without a file. */
  readonly policyDocument?: unknown;
  readonly slackSecretName?: string;
  readonly alertEmails: readonly string[];
  readonly reportSchedule: string;
  readonly inventorySchedule: string;
  readonly soakDays: number;
  readonly noEventsAlarmHours: number;
  /** Regions with clusters (home and the configured collector regions): each has a no-events alarm. */
  readonly watchedRegions: readonly string[];
  /** The trail fold's source, when configured; accounts resolved (empty: every account folder). */
  readonly trailLogs?: TrailLogs;
  /** Whether the EventBridge → SQS → ingest path (and its collector stacks) is deployed. */
  readonly liveEvents: boolean;
  readonly createTrail: boolean;
  readonly retainData: boolean;
  /** Every (account, region) that needs a collector stack: collector regions, us-east-1 for global STS, collector accounts. */
  readonly collectors: readonly CollectorTarget[];
  /** Regions whose EKS clusters the inventory lists: home first, then the collector regions. */
  readonly eksRegions: readonly string[];
  /** Member accounts read through the read role (never the home account). */
  readonly memberAccounts: readonly string[];
  readonly memberReadRoleName: string;
  /** The inventory job role's fixed name, which the member read roles trust; set when there are members. */
  readonly inventoryRoleName?: string;
}

export interface TrailLogs {
  /** Undefined: the bucket of the trail the stack creates (`createTrail`). */
  readonly bucket?: string;
  readonly prefix: string;
  readonly accounts: readonly string[];
  readonly schedule: string;
  readonly lookbackDays: number;
  readonly kmsKeyArn?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** What the configuration is read from besides the context: the deployer's environment. */
export interface ConfigEnvironment {
  readonly CDK_DEFAULT_REGION?: string;
  readonly CDK_DEFAULT_ACCOUNT?: string;
}

/** Reads and validates the configuration from a construct's context (normally the App's). */
export function loadConfig(node: Node, env: ConfigEnvironment = process.env): CutoverWatchConfig {
  const inline = node.tryGetContext(CONFIG_CONTEXT_KEY) as unknown;
  const file = node.tryGetContext(CONFIG_FILE_CONTEXT_KEY) as unknown;
  if (inline !== undefined && file !== undefined) {
    throw new ConfigError(`both context ${CONFIG_CONTEXT_KEY} and ${CONFIG_FILE_CONTEXT_KEY} are set; keep one (the object, or the path of a JSON file)`);
  }
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') throw new ConfigError(`context ${CONFIG_FILE_CONTEXT_KEY} must be the path of a JSON file, got ${JSON.stringify(file)}`);
    return parseConfig(readJson(file, `config file ${file}`), `config file ${file}`, env);
  }
  // `-c cutoverWatch='{…}'` arrives as a string; cdk.json gives the object.
  const doc = typeof inline === 'string' ? parseJsonText(inline, `context ${CONFIG_CONTEXT_KEY}`) : (inline ?? {});
  return parseConfig(doc, `context ${CONFIG_CONTEXT_KEY}`, env);
}

/** Validates a configuration document; `source` names where it came from in every error. */
export function parseConfig(doc: unknown, source: string, env: ConfigEnvironment = {}): CutoverWatchConfig {
  const result = ConfigSchema.safeParse(doc);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const at = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => unknownSetting(at ? `${at}.${k}` : k, k)).join('; ');
      return `${at || '(top level)'}: ${issue.message}`;
    });
    throw new ConfigError(`${source}: ${problems.join('; ')}`);
  }
  const c = result.data;

  const homeRegion = c.homeRegion ?? env.CDK_DEFAULT_REGION ?? 'us-east-1';
  const homeAccount = c.homeAccount ?? env.CDK_DEFAULT_ACCOUNT;
  if (c.collectorAccounts.length > 0 && homeAccount === undefined) {
    throw new ConfigError(
      `${source}: homeAccount: required when collectorAccounts is set (their rules target the central bus in the home account); set homeAccount or run with credentials so CDK_DEFAULT_ACCOUNT is known`,
    );
  }

  if (c.memberAccounts.length > 0 && homeAccount === undefined) {
    throw new ConfigError(
      `${source}: homeAccount: required when memberAccounts is set (their read roles trust the inventory job role of the home account); set homeAccount or run with credentials so CDK_DEFAULT_ACCOUNT is known`,
    );
  }
  const memberAccounts = unique(c.memberAccounts).filter((a) => a !== homeAccount);
  if (c.trailLogs !== undefined && c.trailLogs.bucket === undefined && !c.createTrail) {
    throw new ConfigError(`${source}: trailLogs.bucket: required (the bucket your trail writes to), unless createTrail makes the trail and its bucket`);
  }
  if (!c.liveEvents && c.trailLogs === undefined) {
    throw new ConfigError(`${source}: liveEvents: false leaves nothing reading CloudTrail; set trailLogs (the trail's bucket) or keep liveEvents`);
  }

  let policy: Policy | undefined;
  let policyDocument: unknown;
  if (c.policyFile !== undefined) {
    policyDocument = readJson(c.policyFile, `${source}: policyFile ${c.policyFile}`);
    try {
      policy = parsePolicy(policyDocument, c.policyFile);
    } catch (e) {
      throw new ConfigError(`${source}: policyFile: ${(e as Error).message}`);
    }
  }
  policy ??= parsePolicy({}, 'the default policy');

  // Global STS endpoint calls are recorded in us-east-1 only: without a collector there, an IRSA
  // workload on the global endpoint would look retired while it still assumes its role.
  const collectorRegions = unique([...c.collectorRegions, ...(homeRegion === GLOBAL_STS_REGION ? [] : [GLOBAL_STS_REGION])]).filter((r) => r !== homeRegion);
  const collectorAccounts = unique(c.collectorAccounts).filter((a) => a !== homeAccount);
  // Collectors forward EventBridge events: without the live path there is nothing to forward.
  const collectors: CollectorTarget[] = c.liveEvents
    ? [...collectorRegions.map((r) => ({ region: r })), ...collectorAccounts.flatMap((a) => [homeRegion, ...collectorRegions].map((r) => ({ account: a, region: r })))]
    : [];
  // The accounts with clusters, unless named: an organization trail holds every account's folder,
  // and reading them all would read every account's management events.
  const trailLogs: TrailLogs | undefined = c.trailLogs && {
    ...c.trailLogs,
    accounts: c.trailLogs.accounts ?? unique([...(homeAccount ? [homeAccount] : []), ...collectorAccounts, ...memberAccounts]),
  };

  return {
    homeRegion,
    homeAccount,
    collectorRegions,
    watchedRegions: unique([homeRegion, ...c.collectorRegions]),
    collectorAccounts,
    organizationId: c.organizationId,
    nodeRoleArns: c.nodeRoleArns,
    nodeRolePatterns: c.nodeRolePatterns,
    policy,
    policyDocument,
    slackSecretName: c.slackSecretName,
    alertEmails: c.alertEmails,
    reportSchedule: c.reportSchedule,
    inventorySchedule: c.inventorySchedule,
    soakDays: c.soakDays ?? policy.soak.soakDays,
    noEventsAlarmHours: c.noEventsAlarmHours,
    trailLogs,
    liveEvents: c.liveEvents,
    createTrail: c.createTrail,
    retainData: c.retainData,
    collectors,
    eksRegions: [homeRegion, ...collectorRegions],
    memberAccounts,
    memberReadRoleName: c.memberReadRoleName,
    // Role names are global to an account: the home region keeps two homes of one account apart.
    inventoryRoleName: memberAccounts.length > 0 ? `cutover-watch-inventory-${homeRegion}` : undefined,
  };
}

const KNOWN_SETTINGS = Object.keys(ConfigSchema.shape);

/** `alertEmail` → "did you mean alertEmails?"; without a close setting, the list of known ones. */
function unknownSetting(shown: string, key: string): string {
  const close = closestSetting(key, KNOWN_SETTINGS);
  return close === undefined ? `unknown setting ${shown} (known settings: ${KNOWN_SETTINGS.join(', ')})` : `unknown setting ${shown}: did you mean ${close}?`;
}

/**
 * The known name a typo most likely meant: case-insensitive edit distance (a swap of two
 * neighbours counts as one edit), at most one edit per four characters and at least one; none
 * when two names are equally close.
 */
export function closestSetting(key: string, known: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(key.length / 4));
  const scored = known.map((name) => ({ name, distance: editDistance(key.toLowerCase(), name.toLowerCase()) })).filter((s) => s.distance <= limit);
  const best = Math.min(...scored.map((s) => s.distance));
  const closest = scored.filter((s) => s.distance === best);
  return closest.length === 1 ? closest[0]!.name : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch (e) {
    throw new ConfigError(`${what}: cannot read ${resolve(path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a path relative to the project root`);
  }
  return parseJsonText(text, what);
}

function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
