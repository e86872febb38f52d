import { DEFAULT_NODE_ROLE_PATTERNS, EXPECTED_NODE_CALLS } from './node-roles';
import { S3_URL } from './s3-names';
import { CLOUDTRAIL_DETAIL_TYPE, matchesPattern, rulePatterns, type EventPattern, type NodeRoleRuleConfig, type RuleName } from './rule-patterns';

/**
 * The rule patterns (core/rule-patterns.ts: the EventBridge rules and `analyze` read them) as a SQL
 * WHERE clause, for reading history where it already sits: Athena over a trail's S3 logs, CloudTrail
 * Lake, and DuckDB (which runs the same predicate over local log files in the tests, so the SQL is
 * checked against what `analyze` keeps instead of being trusted).
 *
 * The predicate selects a superset of what the ingest keeps, never less: every row still goes
 * through the same rule match and normalizer. Where a dialect cannot say something exactly (Lake has
 * no LIKE ESCAPE and no lower()), it says more, and the ingest drops the extra rows.
 *
 * Pure: no I/O, no clock.
 */

export type SqlDialect = 'athena' | 'lake' | 'duckdb';

export interface TrailPredicateConfig extends NodeRoleRuleConfig {
  /**
   * `eventSource:eventName` globs the normalizer drops as expected node traffic (the policy's
   * `nodeRoleFallthrough.expectedCalls`): left out of the node-role rule's rows, which would
   * otherwise be every ECR pull and CNI call of every node. @default EXPECTED_NODE_CALLS
   */
  expectedNodeCalls?: readonly string[];
}

export class TrailSqlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrailSqlError';
  }
}

// ---------------------------------------------------------------------------------------------
// Fields

/**
 * Columns holding JSON text rather than structure. In Athena's CloudTrail SerDe these four are
 * declared STRING and hold the record's object as JSON text (Athena user guide, "Create the table
 * for CloudTrail logs in Athena using partition projection"); in CloudTrail Lake they are
 * map<string,string> ("Supported SQL schemas for event data stores").
 */
export const JSON_TEXT_COLUMNS = ['requestParameters', 'responseElements', 'additionalEventData', 'serviceEventDetails'] as const;

/**
 * The struct fields of the Athena table (lower case, as Hive stores them), by record path. The
 * documented table, plus `useridentity.identityprovider`, which IRSA records carry (WebIdentityUser)
 * and the IRSA rule matches on.
 */
const ATHENA_STRUCT_FIELDS = new Set([
  'eventversion',
  'useridentity.type',
  'useridentity.principalid',
  'useridentity.arn',
  'useridentity.accountid',
  'useridentity.invokedby',
  'useridentity.accesskeyid',
  'useridentity.username',
  'useridentity.identityprovider',
  'useridentity.sessioncontext.sessionissuer.type',
  'useridentity.sessioncontext.sessionissuer.principalid',
  'useridentity.sessioncontext.sessionissuer.arn',
  'useridentity.sessioncontext.sessionissuer.accountid',
  'useridentity.sessioncontext.sessionissuer.username',
  'useridentity.sessioncontext.ec2roledelivery',
  'eventtime',
  'eventsource',
  'eventname',
  'awsregion',
  'sourceipaddress',
  'useragent',
  'errorcode',
  'errormessage',
  'requestid',
  'eventid',
  'readonly',
  'eventtype',
  'apiversion',
  'recipientaccountid',
  'sharedeventid',
  'vpcendpointid',
  'eventcategory',
]);

/**
 * CloudTrail Lake's schema (CloudTrail user guide, "Supported SQL schemas for event data stores",
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/query-supported-event-schemas.html)
 * has the same struct paths, `useridentity.identityprovider` and `invokedby` included.
 */
const LAKE_STRUCT_FIELDS = ATHENA_STRUCT_FIELDS;

/** A record path (`userIdentity.sessionContext.sessionIssuer.arn`) as a VARCHAR expression, NULL when absent. */
export function fieldSql(dialect: SqlDialect, path: readonly string[]): string {
  if (path.length === 0) throw new TrailSqlError('an empty field path');
  for (const part of path) {
    if (!/^[A-Za-z0-9_-]+$/.test(part)) throw new TrailSqlError(`field ${path.join('.')}: ${JSON.stringify(part)} is not a CloudTrail field name`);
  }
  if (dialect === 'duckdb') return `(r->>'$.${path.join('.')}')`;
  const [top, ...rest] = path as [string, ...string[]];
  if ((JSON_TEXT_COLUMNS as readonly string[]).includes(top)) {
    if (rest.length === 0) throw new TrailSqlError(`field ${top}: a JSON column is matched on its fields, not whole`);
    if (dialect === 'athena') return `json_extract_scalar(${top.toLowerCase()}, '$.${rest.join('.')}')`;
    if (rest.length > 1) throw new TrailSqlError(`field ${path.join('.')}: CloudTrail Lake keeps ${top} as a map of strings, one level deep`);
    return `element_at(${top.toLowerCase()}, ${literal(rest[0]!)})`;
  }
  const column = path.map((p) => p.toLowerCase()).join('.');
  const known = dialect === 'athena' ? ATHENA_STRUCT_FIELDS : LAKE_STRUCT_FIELDS;
  if (!known.has(column)) throw new TrailSqlError(`field ${path.join('.')} is not a column of the ${dialect === 'athena' ? 'Athena CloudTrail table' : 'CloudTrail Lake schema'}`);
  return column;
}

// ---------------------------------------------------------------------------------------------
// Patterns → predicates

type Matcher = unknown;

/** The SQL of one EventBridge pattern over a CloudTrail record (its `detail`). */
export function patternSql(dialect: SqlDialect, pattern: EventPattern): string {
  const parts: string[] = [];
  for (const [key, expected] of Object.entries(pattern)) {
    if (key === 'detail-type') {
      // The envelope of a CloudTrail record always has this detail-type (rule-patterns.ts cloudTrailEnvelope).
      if (!matchesPattern({ 'detail-type': CLOUDTRAIL_DETAIL_TYPE }, { [key]: expected } as EventPattern)) return 'FALSE';
      continue;
    }
    if (key === 'source') {
      if (redundantSource(pattern)) continue;
      parts.push(leafSql(dialect, ['eventSource'], sourceMatchers(expected)));
      continue;
    }
    if (key === 'account') parts.push(leafSql(dialect, ['recipientAccountId'], asList(expected, key)));
    else if (key === 'region') parts.push(leafSql(dialect, ['awsRegion'], asList(expected, key)));
    else if (key === 'detail') parts.push(objectSql(dialect, [], expected as EventPattern));
    else if (key === '$or') parts.push(or((expected as EventPattern[]).map((p) => patternSql(dialect, p))));
    else throw new TrailSqlError(`pattern key ${JSON.stringify(key)} has no CloudTrail column`);
  }
  return and(parts);
}

function objectSql(dialect: SqlDialect, path: readonly string[], pattern: EventPattern): string {
  const parts: string[] = [];
  for (const [key, expected] of Object.entries(pattern)) {
    if (key === '$or') parts.push(or((expected as EventPattern[]).map((p) => objectSql(dialect, path, p))));
    else if (Array.isArray(expected)) parts.push(leafSql(dialect, [...path, key], expected));
    else parts.push(objectSql(dialect, [...path, key], expected as EventPattern));
  }
  return and(parts);
}

/** A list of matchers: any of them (EventBridge's OR within a field). */
function leafSql(dialect: SqlDialect, path: readonly string[], matchers: readonly Matcher[]): string {
  const field = fieldSql(dialect, path);
  const exact = matchers.filter((m): m is string => typeof m === 'string');
  const others = matchers.filter((m) => typeof m !== 'string');
  const parts: string[] = [];
  if (exact.length === 1) parts.push(`${field} = ${literal(exact[0]!)}`);
  else if (exact.length > 1) parts.push(`${field} IN (${exact.map(literal).join(', ')})`);
  for (const m of others) parts.push(matcherSql(dialect, field, m, path));
  return or(parts);
}

function matcherSql(dialect: SqlDialect, field: string, m: Matcher, path: readonly string[]): string {
  const where = path.join('.');
  if (m === null) return `${field} IS NULL`;
  if (typeof m === 'number' || typeof m === 'boolean') throw new TrailSqlError(`${where}: a ${typeof m} matcher has no string column to compare with`);
  if (typeof m !== 'object' || Array.isArray(m)) throw new TrailSqlError(`${where}: unsupported matcher ${JSON.stringify(m)}`);
  const o = m as Record<string, unknown>;
  if ('exists' in o) return `${field} IS ${o['exists'] ? 'NOT ' : ''}NULL`;
  if ('prefix' in o) return like(dialect, field, `${escapeLike(dialect, String(o['prefix']))}%`);
  if ('suffix' in o) return like(dialect, field, `%${escapeLike(dialect, String(o['suffix']))}`);
  if ('wildcard' in o) return like(dialect, field, wildcardLike(dialect, String(o['wildcard'])));
  if ('equals-ignore-case' in o) {
    // Lake has no lower(): the row is kept and the ingest decides.
    if (dialect === 'lake') return `${field} IS NOT NULL`;
    return `lower(${field}) = ${literal(String(o['equals-ignore-case']).toLowerCase())}`;
  }
  if ('anything-but' in o) {
    const but = o['anything-but'];
    const list = Array.isArray(but) ? but : [but];
    // EventBridge: anything-but never matches an absent field.
    const strings = list.filter((x): x is string => typeof x === 'string');
    const rest = list.filter((x) => typeof x !== 'string').map((x) => matcherSql(dialect, field, x, path));
    const excluded = strings.length === 0 ? [] : [strings.length === 1 ? `${field} = ${literal(strings[0]!)}` : `${field} IN (${strings.map(literal).join(', ')})`];
    return `(${field} IS NOT NULL AND NOT ${or([...excluded, ...rest])})`;
  }
  throw new TrailSqlError(`${where}: unsupported matcher ${JSON.stringify(m)}`);
}

/** `source: ['aws.sts']` is what the envelope derives from `eventSource` (cloudTrailEnvelope). */
function sourceMatchers(expected: unknown): string[] {
  return asList(expected, 'source').flatMap((m) => {
    if (typeof m !== 'string' || !m.startsWith('aws.')) throw new TrailSqlError(`source matcher ${JSON.stringify(m)}: only aws.<service> names are supported`);
    const service = m.slice(4);
    return [`${service}.amazonaws.com`, service];
  });
}

/** `source` adds nothing when `detail.eventSource` already names its services exactly. */
function redundantSource(pattern: EventPattern): boolean {
  const detail = pattern['detail'];
  const sources = detail && !Array.isArray(detail) ? (detail as EventPattern)['eventSource'] : undefined;
  if (!Array.isArray(sources) || !sources.every((s) => typeof s === 'string')) return false;
  const wanted = new Set(asList(pattern['source'], 'source'));
  return (sources as string[]).every((s) => wanted.has(`aws.${s.replace(/\.amazonaws\.com$/, '')}`));
}

function asList(expected: unknown, key: string): Matcher[] {
  if (!Array.isArray(expected)) throw new TrailSqlError(`pattern key ${key}: expected a list of matchers`);
  return expected;
}

/** `eventSource:eventName` globs (case-insensitive, `*` and `?`: core/glob.ts) → a predicate on the two columns. */
export function callGlobsSql(dialect: SqlDialect, globs: readonly string[]): string {
  const bySource = new Map<string, string[]>();
  for (const glob of globs) {
    const at = glob.indexOf(':');
    if (at <= 0) throw new TrailSqlError(`expected node call ${JSON.stringify(glob)} is not eventSource:eventName`);
    const source = glob.slice(0, at);
    bySource.set(source, [...(bySource.get(source) ?? []), glob.slice(at + 1)]);
  }
  // Lake has no lower(): its match is case-sensitive, so it leaves out fewer rows (the ingest drops them).
  const fold = (sql: string) => (dialect === 'lake' ? sql : `lower(${sql})`);
  const value = (glob: string) => (dialect === 'lake' ? glob : glob.toLowerCase());
  const source = fold(fieldSql(dialect, ['eventSource']));
  const name = fold(fieldSql(dialect, ['eventName']));
  const parts: string[] = [];
  for (const [src, names] of bySource) {
    const sourceSql = /[*?]/.test(src) ? like(dialect, source, globLike(dialect, value(src))) : `${source} = ${literal(value(src))}`;
    if (names.includes('*')) {
      parts.push(sourceSql);
      continue;
    }
    const exact = names.filter((n) => !/[*?]/.test(n)).map(value);
    const globbed = names.filter((n) => /[*?]/.test(n)).map((n) => like(dialect, name, globLike(dialect, value(n))));
    const nameParts = [...(exact.length === 1 ? [`${name} = ${literal(exact[0]!)}`] : exact.length > 1 ? [`${name} IN (${exact.map(literal).join(', ')})`] : []), ...globbed];
    parts.push(`(${sourceSql} AND ${or(nameParts)})`);
  }
  return or(parts);
}

export interface RulePredicate {
  rule: RuleName;
  sql: string;
}

/** Each rule's predicate (the node-role one without the expected node calls), in the rules' order. */
export function rulePredicates(dialect: SqlDialect, config: TrailPredicateConfig = {}): RulePredicate[] {
  const patterns = rulePatterns({
    nodeRoleArns: config.nodeRoleArns ?? [],
    nodeRolePatterns: config.nodeRolePatterns ?? DEFAULT_NODE_ROLE_PATTERNS,
  });
  return (Object.entries(patterns) as [RuleName, EventPattern][]).map(([rule, pattern]) => {
    let sql = patternSql(dialect, pattern);
    if (rule === 'node-role') {
      const expected = config.expectedNodeCalls ?? EXPECTED_NODE_CALLS;
      if (expected.length > 0) sql = and([sql, `NOT ${callGlobsSql(dialect, expected)}`]);
    }
    return { rule, sql };
  });
}

/** The WHERE clause that keeps what any rule would deliver, one rule per line. */
export function trailPredicate(dialect: SqlDialect, config: TrailPredicateConfig = {}): string {
  const rules = rulePredicates(dialect, config);
  return `(\n${rules.map((r) => `    -- ${r.rule}\n    ${r.sql}`).join('\n    OR\n')}\n  )`;
}

// ---------------------------------------------------------------------------------------------
// The columns read back, and the record rebuilt from them

export interface SelectedField {
  /** Output column name. */
  column: string;
  /** Where it goes in the rebuilt record. */
  path: readonly string[];
  /** The column holds JSON text to parse (a JSON_TEXT_COLUMNS column selected whole). */
  json?: boolean;
}

/**
 * What the normalizer reads of a record (core/normalize.ts), and nothing else: responseElements
 * only for the IRSA provider and subject, never its credentials (docs/architecture.md §2).
 */
export const SELECTED_FIELDS: readonly SelectedField[] = [
  { column: 'eventid', path: ['eventID'] },
  { column: 'eventtime', path: ['eventTime'] },
  { column: 'eventsource', path: ['eventSource'] },
  { column: 'eventname', path: ['eventName'] },
  { column: 'awsregion', path: ['awsRegion'] },
  { column: 'recipientaccountid', path: ['recipientAccountId'] },
  { column: 'errorcode', path: ['errorCode'] },
  { column: 'sourceipaddress', path: ['sourceIPAddress'] },
  { column: 'useragent', path: ['userAgent'] },
  { column: 'ui_type', path: ['userIdentity', 'type'] },
  { column: 'ui_principalid', path: ['userIdentity', 'principalId'] },
  { column: 'ui_arn', path: ['userIdentity', 'arn'] },
  { column: 'ui_accountid', path: ['userIdentity', 'accountId'] },
  { column: 'ui_invokedby', path: ['userIdentity', 'invokedBy'] },
  { column: 'ui_username', path: ['userIdentity', 'userName'] },
  { column: 'ui_identityprovider', path: ['userIdentity', 'identityProvider'] },
  { column: 'ui_issuer_arn', path: ['userIdentity', 'sessionContext', 'sessionIssuer', 'arn'] },
  { column: 'ui_ec2roledelivery', path: ['userIdentity', 'sessionContext', 'ec2RoleDelivery'] },
  { column: 'requestparameters', path: ['requestParameters'], json: true },
  { column: 're_provider', path: ['responseElements', 'provider'] },
  { column: 're_subject', path: ['responseElements', 'subjectFromWebIdentityToken'] },
];

function selectedSql(dialect: 'athena' | 'duckdb', field: SelectedField): string {
  if (field.json) return dialect === 'duckdb' ? `CAST(r->'$.${field.path.join('.')}' AS VARCHAR)` : field.path.join('.').toLowerCase();
  return fieldSql(dialect, field.path);
}

/** The select list of the fields above (Athena and DuckDB; Lake reads each event's JSON whole). */
export function selectList(dialect: 'athena' | 'duckdb'): string {
  return SELECTED_FIELDS.map((f) => `${selectedSql(dialect, f)} AS ${f.column}`).join(',\n  ');
}

export type RebuiltRecord = { record: Record<string, unknown> } | { problem: string };

/**
 * A result row (column → text, null when SQL NULL) back into the CloudTrail record shape the
 * normalizer reads. A JSON column that does not parse is a problem naming the column, not a guess.
 */
export function rebuildRecord(row: Readonly<Record<string, string | null | undefined>>): RebuiltRecord {
  const record: Record<string, unknown> = {};
  for (const field of SELECTED_FIELDS) {
    const text = row[field.column];
    if (text === null || text === undefined) continue;
    let value: unknown = text;
    if (field.json) {
      try {
        value = JSON.parse(text);
      } catch {
        return { problem: `column ${field.column} is not JSON (${text.length > 60 ? `${text.slice(0, 60)}…` : text})` };
      }
      if (value === null) continue;
    }
    let at = record;
    for (const key of field.path.slice(0, -1)) {
      const next = at[key];
      at = (typeof next === 'object' && next !== null ? next : (at[key] = {})) as Record<string, unknown>;
    }
    at[field.path[field.path.length - 1]!] = value;
  }
  return { record };
}

// ---------------------------------------------------------------------------------------------
// Athena

export interface AthenaTableSpec {
  database: string;
  table: string;
  /** `s3://bucket/prefix/AWSLogs` or `s3://bucket/prefix/AWSLogs/o-…` (organization trail), no trailing slash. */
  location: string;
}

/** `s3://BUCKET/PREFIX` of a trail: where `<account>/CloudTrail/<region>/YYYY/MM/DD/` folders start. */
export function parseTrailLocation(text: string): { bucket: string; prefix: string; location: string } {
  const m = S3_URL.exec(text.trim());
  if (!m) throw new TrailSqlError(`--trail-bucket ${JSON.stringify(text)} is not s3://BUCKET/PREFIX (e.g. s3://my-org-trail/AWSLogs/o-a1b2c3d4e5)`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  // CloudTrail writes AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ under the trail's prefix
  // (CloudTrail user guide, "Finding your CloudTrail log files").
  if (!/(^|\/)AWSLogs(\/o-[a-z0-9]{10,32})?$/.test(prefix)) {
    throw new TrailSqlError(
      `--trail-bucket ${JSON.stringify(text)} must end where the account folders start: s3://BUCKET/[PREFIX/]AWSLogs for a trail of one account, s3://BUCKET/[PREFIX/]AWSLogs/o-ORGID for an organization trail`,
    );
  }
  if (/['\\]/.test(prefix)) throw new TrailSqlError(`--trail-bucket ${JSON.stringify(text)}: quotes and backslashes are not allowed in the prefix`);
  return { bucket: m[1]!, prefix, location: `s3://${m[1]}/${prefix}` };
}

/** One table per trail location (a hash of it in the name), so a second trail never reuses the first one's table. */
export function athenaTableName(location: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < location.length; i += 1) {
    hash ^= location.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `cutover_watch_trail_v1_${hash.toString(16).padStart(8, '0')}`;
}

const ATHENA_IDENTIFIER = /^[a-z0-9_]{1,255}$/;

export function checkAthenaIdentifier(what: string, name: string): string {
  if (!ATHENA_IDENTIFIER.test(name)) throw new TrailSqlError(`${what} ${JSON.stringify(name)}: Athena names are lower-case letters, digits and _`);
  return name;
}

/**
 * The table over the trail, with partition projection (no crawler, no ALTER TABLE ADD PARTITION):
 * the columns of the Athena user guide's "Create the table for CloudTrail logs in Athena using
 * partition projection" (https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html),
 * plus `useridentity.identityprovider`. `account` and `region` are `injected` (every query names
 * them: no list of the organization's accounts to keep in the table;
 * https://docs.aws.amazon.com/athena/latest/ug/partition-projection-dynamic-id-partitioning.html);
 * `timestamp` is the date folder. Idempotent: IF NOT EXISTS.
 */
export function athenaCreateTable(spec: AthenaTableSpec): string {
  const location = spec.location.replace(/\/+$/, '');
  return `CREATE EXTERNAL TABLE IF NOT EXISTS \`${checkAthenaIdentifier('--database', spec.database)}\`.\`${checkAthenaIdentifier('table', spec.table)}\` (
  eventversion STRING,
  useridentity STRUCT<
    type: STRING, principalid: STRING, arn: STRING, accountid: STRING, invokedby: STRING,
    accesskeyid: STRING, username: STRING, identityprovider: STRING,
    onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
    sessioncontext: STRUCT<
      attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
      sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
      ec2roledelivery: STRING,
      webidfederationdata: STRUCT<federatedprovider: STRING, attributes: MAP<STRING, STRING>>>>,
  eventtime STRING,
  eventsource STRING,
  eventname STRING,
  awsregion STRING,
  sourceipaddress STRING,
  useragent STRING,
  errorcode STRING,
  errormessage STRING,
  requestparameters STRING,
  responseelements STRING,
  additionaleventdata STRING,
  requestid STRING,
  eventid STRING,
  readonly STRING,
  resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
  eventtype STRING,
  apiversion STRING,
  recipientaccountid STRING,
  serviceeventdetails STRING,
  sharedeventid STRING,
  vpcendpointid STRING,
  eventcategory STRING
)
PARTITIONED BY (account STRING, region STRING, \`timestamp\` STRING)
ROW FORMAT SERDE 'com.amazon.emr.hive.serde.CloudTrailSerde'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '${location}/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.account.type' = 'injected',
  'projection.region.type' = 'injected',
  'projection.timestamp.type' = 'date',
  'projection.timestamp.format' = 'yyyy/MM/dd',
  'projection.timestamp.range' = '2014/01/01,NOW',
  'projection.timestamp.interval' = '1',
  'projection.timestamp.interval.unit' = 'DAYS',
  'storage.location.template' = '${location}/\${account}/CloudTrail/\${region}/\${timestamp}'
)`;
}

export interface AthenaSliceSpec extends AthenaTableSpec {
  accounts: readonly string[];
  regions: readonly string[];
  /** `YYYY-MM-DD`: the date folder read. */
  day: string;
  predicate: TrailPredicateConfig;
}

/** Marks the rows of a slice query that only count an hour's records (coverage), not a record. */
export const HOUR_ROW_COLUMNS = ['record_account', 'record_region', 'record_hour', 'records'] as const;

/**
 * One day folder of the trail, read once: every record the rules keep (one row each, the
 * SELECTED_FIELDS), and per (account, region, hour) how many records the folder had at all, for
 * coverage (the `files` rule: hours with records). One scan pays for both: the records the rules
 * drop collapse into their hour's row (selected fields NULL), so the bill is the folder's bytes once,
 * not twice as with a second GROUP BY query.
 */
export function athenaSliceQuery(spec: AthenaSliceSpec): string {
  for (const a of spec.accounts) if (!/^\d{12}$/.test(a)) throw new TrailSqlError(`account ${JSON.stringify(a)} is not a 12-digit AWS account id`);
  for (const r of spec.regions) if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(r)) throw new TrailSqlError(`region ${JSON.stringify(r)} is not an AWS region name`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(spec.day)) throw new TrailSqlError(`day ${JSON.stringify(spec.day)} is not YYYY-MM-DD`);
  if (spec.accounts.length === 0 || spec.regions.length === 0) throw new TrailSqlError('a slice needs at least one account and one region (the injected partitions)');
  return sliceQuery(
    'athena',
    spec.predicate,
    `\`${spec.database}\`.\`${spec.table}\`
  WHERE account IN (${spec.accounts.map(literal).join(', ')})
    AND region IN (${spec.regions.map(literal).join(', ')})
    AND "timestamp" = ${literal(spec.day.replaceAll('-', '/'))}`,
  );
}

/**
 * The same query over log files on disk (`glob`: one day folder's `.json.gz` files), for DuckDB:
 * the tests run it over the sample fleet to check the shape of the Athena query, not only its predicate.
 */
export function duckdbSliceQuery(glob: string, predicate: TrailPredicateConfig): string {
  return sliceQuery(
    'duckdb',
    predicate,
    `(
    SELECT unnest(Records) AS r
    FROM read_json(${literal(glob)}, columns = {Records: 'JSON[]'}, compression = 'gzip', maximum_object_size = 268435456)
  )`,
  );
}

function sliceQuery(dialect: 'athena' | 'duckdb', predicate: TrailPredicateConfig, from: string): string {
  const kept = SELECTED_FIELDS.map((f) => `CASE WHEN kept THEN ${selectedSql(dialect, f)} END AS ${f.column}`).join(',\n    ');
  const groupBy = [...HOUR_ROW_COLUMNS.slice(0, 3), ...SELECTED_FIELDS].map((_, i) => i + 1).join(', ');
  const field = (...path: string[]) => fieldSql(dialect, path);
  return `WITH folder AS (
  SELECT *, ${trailPredicate(dialect, predicate).replace(/\n/g, '\n  ')} AS kept
  FROM ${from}
)
SELECT
    coalesce(${field('recipientAccountId')}, ${field('userIdentity', 'accountId')}) AS record_account,
    ${field('awsRegion')} AS record_region,
    substr(${field('eventTime')}, 1, 13) AS record_hour,
    ${kept},
    count(*) AS records
FROM folder
GROUP BY ${groupBy}
ORDER BY record_hour, eventtime NULLS FIRST, eventid`;
}

// ---------------------------------------------------------------------------------------------
// CloudTrail Lake

export interface LakeSliceSpec {
  /** The event data store's id (the last part of its ARN). */
  eventDataStore: string;
  /** [start, end) as ISO instants (whole seconds). */
  start: string;
  end: string;
  predicate: TrailPredicateConfig;
}

/**
 * One time slice of an event data store: each kept event's JSON whole (`eventjson`, in the schema
 * of "Supported SQL schemas for event data stores"), in time order. Lake's SQL allows SELECT …
 * FROM <event data store id> WHERE … ORDER BY only ("CloudTrail Lake SQL constraints").
 */
export function lakeSliceQuery(spec: LakeSliceSpec): string {
  if (!/^[A-Za-z0-9-]{1,128}$/.test(spec.eventDataStore)) throw new TrailSqlError(`event data store ${JSON.stringify(spec.eventDataStore)} is not an id (the last part of its ARN)`);
  const at = (iso: string, what: string) => {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$/.exec(iso);
    if (!m) throw new TrailSqlError(`${what} ${JSON.stringify(iso)} is not an ISO UTC instant`);
    return `'${m[1]} ${m[2]}'`;
  };
  return `SELECT eventid, eventtime, eventjson
FROM ${spec.eventDataStore}
WHERE eventtime >= ${at(spec.start, 'start')} AND eventtime < ${at(spec.end, 'end')}
  AND ${trailPredicate('lake', spec.predicate).replace(/\n/g, '\n  ')}
ORDER BY eventtime, eventid`;
}

// ---------------------------------------------------------------------------------------------
// DuckDB (tests, and anyone with the logs on disk)

/** Every record of the CloudTrail log files matched by `glob` (`.json.gz`), as JSON `r`, with the rules' predicate. */
export function duckdbQuery(glob: string, predicate: TrailPredicateConfig, select = 'r->>\'$.eventID\' AS eventid'): string {
  return `WITH records AS (
  SELECT unnest(Records) AS r
  FROM read_json(${literal(glob)}, columns = {Records: 'JSON[]'}, compression = 'gzip', maximum_object_size = 268435456)
)
SELECT ${select}
FROM records
WHERE ${trailPredicate('duckdb', predicate).replace(/\n/g, '\n  ')}`;
}

// ---------------------------------------------------------------------------------------------
// SQL text

export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function and(parts: readonly string[]): string {
  const kept = parts.filter((p) => p !== 'TRUE');
  if (kept.includes('FALSE')) return 'FALSE';
  if (kept.length === 0) return 'TRUE';
  return kept.length === 1 ? kept[0]! : `(${kept.join(' AND ')})`;
}

function or(parts: readonly string[]): string {
  if (parts.length === 0) return 'FALSE';
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

/** Lake's LIKE has no ESCAPE: `_` and `%` stay wildcards there (more rows, never fewer). */
function like(dialect: SqlDialect, field: string, pattern: string): string {
  return dialect === 'lake' ? `${field} LIKE ${literal(pattern)}` : `${field} LIKE ${literal(pattern)} ESCAPE '\\'`;
}

function escapeLike(dialect: SqlDialect, text: string): string {
  return dialect === 'lake' ? text : text.replace(/[\\%_]/g, '\\$&');
}

/** EventBridge wildcard: `*` any run of characters (crossing `/`). */
function wildcardLike(dialect: SqlDialect, pattern: string): string {
  return pattern
    .split('*')
    .map((part) => escapeLike(dialect, part))
    .join('%');
}

/** core/glob.ts: `*` any run, `?` one character (neither crosses `/`; event sources and names have none). */
function globLike(dialect: SqlDialect, glob: string): string {
  return glob
    .split('*')
    .map((part) =>
      part
        .split('?')
        .map((p) => escapeLike(dialect, p))
        .join('_'),
    )
    .join('%');
}
