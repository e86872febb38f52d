/**
 * The evidence table's single-table layout, defined once: the CDK table, the embedded store and
 * the DynamoDB adapter all read it from here.
 *
 * | pk                         | sk                       | item                                           |
 * |----------------------------|--------------------------|------------------------------------------------|
 * | `SCOPES`                   | scope id                 | one per cluster / OIDC issuer / role / node role seen |
 * | `SCOPE#cluster:<arn>`      | `SA#<ns>#<sa>`           | Pod Identity evidence of one service account    |
 * | `SCOPE#issuer:<issuer>`    | `SA#<ns>#<sa>`           | IRSA evidence of one service account            |
 * | `SCOPE#…`                  | `DAY#<ns>#<yyyy-mm-dd>`  | daily counts per namespace                      |
 * | `SCOPE#cluster:<arn>`      | `FETCH#<node role arn>`  | Pod Identity agent fetches by one node role     |
 * | `SCOPE#cluster:<arn>`      | `CDAY#<yyyy-mm-dd>`      | daily fetch counts                              |
 * | `SCOPE#role:<arn>`         | `UNTAGGED`               | Pod Identity assumes without session tags       |
 * | `SCOPE#noderole:<arn>`     | `CALL#<service:Event>`   | calls outside expected node traffic             |
 * | `SCOPE#noderole:<arn>`     | `NDAY#<yyyy-mm-dd>`      | daily node-role call counts                     |
 * | `SCOPE#noderole:<arn>`     | `CLUSTERS`               | clusters the role fetched Pod Identity for      |
 * | `INVENTORY`                | `CLUSTER#<arn>` …        | imported or synced EKS inventory                |
 * | `EVENTS#<yyyy-mm-ddThh>`   | `S#<nnnn>`               | replay guards: eventIDs of that hour counted (and claimed) |
 * | `JOURNAL`                  | `B#<batch>` / `C#<batch>#<n>` | a batch's journal head (state) and chunks: the commit point (`kind: stage`: a single writer's write-out) |
 * | `EVENT#<eventID>`          | `EVENT`                  | legacy replay guard, one per event (read, never written) |
 * | `FORMAT`                   | `GUARDS`                 | this table never held legacy guards: they are not looked up |
 * | `COVERAGE`                 | `<acct>|<region>|<day>`  | hours and slices of complete CloudTrail read; log files read and listed by digests, and those listed not read (`unreadFiles`, what readers load) |
 * | `LEASE`                    | `WRITER`                 | the writer lease: who may write batches now (several writers) |
 * | `SOURCES#s3://<bucket>`    | object key               | an S3 log object read whole, its events stored: its ETag |
 * | `SOURCES#files`            | sha256 of the file's bytes | a local log file read whole, its events stored  |
 * | `ALERTS#<yyyy-mm>`         | alert id                 | an alert, recorded once (the month of its window) |
 * | `OUTBOX`                   | alert id                 | an alert the CLI recorded and has not delivered yet (`alertPk`: where it is) |
 *
 * Every access is a Query on one partition, a GetItem/BatchGetItem, a conditional PutItem or a
 * BatchWriteItem: all of them exist in dynalite and DynamoDB alike (no transactions, no PartiQL).
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB TTL deletes replay guards after this (dynalite keeps them). */
  timeToLiveAttribute: 'expiresAt',
} as const;

export const DEFAULT_TABLE_NAME = 'cutover-watch-evidence';

/** Replay guards outlive CloudTrail's 90-day LookupEvents window, so backfills stay deduplicated. */
export const EVENT_GUARD_TTL_DAYS = 120;

/**
 * A guard shard holds about this many eventIDs (~80 KB with UUIDs), far below the 400 KB item
 * limit; an hour with more events spills into the next shard.
 */
export const GUARD_SHARD_IDS = 2000;

/**
 * With several writers, a batch whose journal is younger than this may still be running: it is
 * left alone. Above the ingest Lambda's timeout (60 s, lib/constructs/ingest-function.ts), so a
 * journal this old belongs to a writer that was killed.
 */
export const JOURNAL_LEASE_SECONDS = 120;

export const JOURNAL_PK = 'JOURNAL';

/**
 * The table's writer lease (docs/RELIABILITY.md, "Several writers"): a writer holds it for one
 * batch, and while it does it writes like the only writer (BatchWriteItem, no claims). It lasts
 * longer than the ingest Lambda's timeout (60 s), so an invocation cannot outlive a lease it took.
 */
export const WRITER_LEASE_PK = 'LEASE';
export const WRITER_LEASE_SK = 'WRITER';
export const WRITER_LEASE_SECONDS = 120;
/**
 * A holder sends a write only within this many seconds of taking or renewing the lease (it renews
 * past half of it): the other half of WRITER_LEASE_SECONDS is the margin a request in flight, its
 * SDK retries and clock differences between writers must fit in.
 */
export const WRITER_LEASE_WRITE_SECONDS = 60;

export const SCOPES_PK = 'SCOPES';
export const OUTBOX_PK = 'OUTBOX';
export const INVENTORY_PK = 'INVENTORY';
export const COVERAGE_PK = 'COVERAGE';
export const coverageSk = (account: string, region: string, day: string): string => `${account}|${region}|${day}`;
/** The S3 log objects of one bucket that `analyze s3://…` read (sk: the object key, at most 1,024 bytes like a sort key). */
export const sourcesPk = (bucket: string): string => `SOURCES#s3://${bucket}`;
/**
 * The local log files `analyze` read, by content (sk: the sha256 of the bytes on disk, hex): moving
 * or renaming a folder keeps them skipped, changing a file reads it again.
 */
export const FILES_READ_PK = 'SOURCES#files';

export type ScopeKind = 'cluster' | 'issuer' | 'role' | 'noderole';

export const scopeId = (kind: ScopeKind, name: string): string => `${kind}:${name}`;
export const scopePk = (scope: string): string => `SCOPE#${scope}`;
/** Pre-journal stores kept one guard item per event; they are still read so old evidence is not counted again. */
export const legacyEventGuardPk = (eventId: string): string => `EVENT#${eventId}`;
/**
 * Present when the table held no counted event when a journal-era writer first claimed in it: no
 * per-event guard can exist, and claims skip looking them up (one read per event on a fleet run).
 */
export const GUARD_FORMAT_PK = 'FORMAT';
export const GUARD_FORMAT_SK = 'GUARDS';
/** The guard bucket of an event: its hour (`2026-11-10T10`), so one batch touches few buckets. */
export const guardHour = (eventTime: string): string => eventTime.slice(0, 13);
export const guardPk = (hour: string): string => `EVENTS#${hour}`;
export const guardShardSk = (n: number): string => `S#${String(n).padStart(4, '0')}`;
