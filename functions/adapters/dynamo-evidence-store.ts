import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Alert } from '../core/alert';
import type { IdentityEvent } from '../core/identity-event';
import type { CoverageDay } from '../core/coverage';
import type { DetectionNeeds, DetectionState } from '../core/detections';
import { mergeItems, type EvidenceDelta, type EvidenceItem } from '../core/evidence';
import type { ApplyResult, EvidencePort } from '../core/ingest';
import { emptyInventory, mergeInventory, type Inventory } from '../core/inventory';
import type { EvidenceSnapshot } from '../core/readiness';
import {
  COVERAGE_PK,
  coverageSk,
  EVENT_GUARD_TTL_DAYS,
  eventGuardPk,
  INVENTORY_PK,
  scopePk,
  SCOPES_PK,
  TABLE_SCHEMA,
} from '../core/table-schema';

/** DynamoDB limits: BatchGetItem takes 100 keys, BatchWriteItem 25 requests (DynamoDB API reference). */
const BATCH_GET_LIMIT = 100;
const BATCH_WRITE_LIMIT = 25;
/** Parallel single-item writes per batch: enough to hide latency, few enough not to throttle a new table. */
const WRITE_CONCURRENCY = 16;
/** Hot items (one namespace's day) can see a few writers at once; each retry backs off further. */
const MAX_CONFLICT_RETRIES = 20;

export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/**
 * Evidence in one DynamoDB table (layout: core/table-schema.ts). Only single-item conditional
 * writes, batch reads/writes and queries, so the same code runs on dynalite and DynamoDB.
 */
export class DynamoEvidenceStore implements EvidencePort {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    private readonly deps: {
      client: DynamoDBClient;
      tableName: string;
      /**
       * Nobody else writes this table (the embedded store holds a process lock), so a guard read
       * as absent stays absent and guards can go in batches of 25 instead of one conditional
       * write each. @default false
       */
      singleWriter?: boolean;
    },
  ) {
    this.doc = DynamoDBDocumentClient.from(deps.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  get tableName(): string {
    return this.deps.tableName;
  }

  /** Creates the table if it is missing (embedded store); a deployed table is CDK's to create. */
  async ensureTable(): Promise<void> {
    try {
      await this.deps.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      return;
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
    await this.deps.client.send(
      new CreateTableCommand({
        TableName: this.tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_SCHEMA.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
        ],
      }),
    );
    // A new table answers "not found" until it is ACTIVE, on DynamoDB and dynalite alike.
    for (let waited = 0; ; waited += 50) {
      const { Table } = await this.deps.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      if (Table?.TableStatus === 'ACTIVE') return;
      if (waited > 60_000) throw new StoreError(`table ${this.tableName} did not become ACTIVE within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Fails with a message that says what to do when the table is not there. */
  async assertTable(region: string | undefined): Promise<void> {
    try {
      await this.deps.client.send(new DescribeTableCommand({ TableName: this.tableName }));
    } catch (e) {
      if (e instanceof ResourceNotFoundException) {
        throw new StoreError(
          `table ${this.tableName} does not exist${region ? ` in ${region}` : ''}: deploy the stack (npx cdk deploy) or pass the right --table and --region`,
          { cause: e },
        );
      }
      throw e;
    }
  }

  async claimEvents(eventIds: readonly string[], now: Date): Promise<Set<string>> {
    const unseen = new Set(eventIds);
    // A cheap read first: on replay nearly every id is known and nothing is written.
    const known = await this.batchGet(eventIds.map((id) => key(eventGuardPk(id), 'EVENT')));
    for (const item of known) unseen.delete(item.pk.slice('EVENT#'.length));
    const expiresAt = Math.floor(now.getTime() / 1000) + EVENT_GUARD_TTL_DAYS * 86_400;
    if (this.deps.singleWriter) {
      await this.batchWrite([...unseen].map((id) => ({ PutRequest: { Item: { pk: eventGuardPk(id), sk: 'EVENT', expiresAt } } })));
      return unseen;
    }
    const claimed = new Set<string>();
    await eachLimit([...unseen], WRITE_CONCURRENCY, async (id) => {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk: eventGuardPk(id), sk: 'EVENT', expiresAt },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        claimed.add(id);
      } catch (e) {
        // Another writer counted it between our read and our write: a replay after all.
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    });
    return claimed;
  }

  async releaseEvents(eventIds: readonly string[]): Promise<void> {
    await this.batchWrite(eventIds.map((id) => ({ DeleteRequest: { Key: key(eventGuardPk(id), 'EVENT') } })));
  }

  /**
   * Read, merge, write back with an optimistic lock on `version`: min/max of timestamps cannot be
   * expressed in an UpdateExpression, and no transaction is needed for one item.
   */
  async apply(deltas: readonly EvidenceDelta[]): Promise<ApplyResult> {
    const current = new Map<string, EvidenceItem>();
    for (const item of await this.batchGet(deltas.map((d) => key(d.item.pk, d.item.sk)))) {
      current.set(itemKey(item), item);
    }
    const result: ApplyResult = { written: 0, unchanged: 0, failed: [] };
    await eachLimit(deltas, WRITE_CONCURRENCY, async (delta) => {
      try {
        const wrote = await this.mergeOne(delta.item, current.get(itemKey(delta.item)));
        if (wrote) result.written += 1;
        else result.unchanged += 1;
      } catch (error) {
        result.failed.push({ item: delta.item, eventIds: delta.eventIds, error });
      }
    });
    return result;
  }

  private async mergeOne(delta: EvidenceItem, existing: EvidenceItem | undefined): Promise<boolean> {
    let stored = existing;
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt += 1) {
      const merged = mergeItems(stored, delta);
      const version = typeof stored?.['version'] === 'number' ? stored['version'] : 0;
      if (stored !== undefined && sameContent(stored, merged)) return false;
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...merged, version: version + 1 },
            ...(stored === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': version } }),
          }),
        );
        return true;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        // Another writer merged first: back off (jittered, so racing writers spread out) and re-read.
        await backoff(attempt + 1);
        const fresh = await this.doc.send(
          new GetCommand({ TableName: this.tableName, Key: key(delta.pk, delta.sk), ConsistentRead: true }),
        );
        stored = fresh.Item as EvidenceItem | undefined;
      }
    }
    throw new StoreError(`item ${delta.pk} ${delta.sk} kept changing under ${MAX_CONFLICT_RETRIES} attempts to merge into it`);
  }

  /**
   * What a readiness run needs: every scope's current evidence, daily fetch and node-role counts
   * from `fromDay`, and the per-namespace daily counts only when an as-of in the past needs them.
   */
  async snapshot(options: { fromDay: string; namespaceDays: boolean }): Promise<EvidenceSnapshot> {
    const scopes = (await this.query({ pk: SCOPES_PK })) as EvidenceItem[];
    const items: EvidenceItem[] = [...scopes];
    const reads: Promise<EvidenceItem[]>[] = [];
    for (const scope of scopes) {
      const pk = scopePk(scope.sk);
      switch (scope['kind']) {
        case 'cluster':
          reads.push(this.query({ pk, prefix: 'SA#' }), this.query({ pk, prefix: 'FETCH#' }), this.query({ pk, from: `CDAY#${options.fromDay}`, to: 'CDAY#~' }));
          break;
        case 'issuer':
          reads.push(this.query({ pk, prefix: 'SA#' }));
          break;
        case 'role':
          reads.push(this.query({ pk, prefix: 'UNTAGGED' }));
          break;
        case 'noderole':
          reads.push(this.query({ pk, prefix: 'CALL#' }), this.query({ pk, prefix: 'CLUSTERS' }), this.query({ pk, from: `NDAY#${options.fromDay}`, to: 'NDAY#~' }));
          break;
      }
      if (options.namespaceDays && (scope['kind'] === 'cluster' || scope['kind'] === 'issuer')) {
        reads.push(this.query({ pk, prefix: 'DAY#' }));
      }
    }
    for (const batch of await Promise.all(reads)) items.push(...batch);
    const [inventory, coverage] = await Promise.all([this.loadInventory(), this.coverageDays()]);
    return { items, inventory, coverage };
  }

  /** Service-account and daily items of one namespace in the given scopes: the evidence timeline. */
  async namespaceEvidence(scopes: readonly string[], namespace: string): Promise<EvidenceItem[]> {
    const reads = scopes.flatMap((scope) => [
      this.query({ pk: scopePk(scope), prefix: `SA#${namespace}#` }),
      this.query({ pk: scopePk(scope), prefix: `DAY#${namespace}#` }),
    ]);
    return (await Promise.all(reads)).flat();
  }

  async scopes(): Promise<EvidenceItem[]> {
    return this.query({ pk: SCOPES_PK });
  }

  async loadInventory(): Promise<Inventory> {
    const items = await this.query({ pk: INVENTORY_PK });
    let inventory = emptyInventory();
    for (const item of items) {
      const part = JSON.parse(String(item['data'])) as Inventory;
      inventory = mergeInventory(inventory, part);
    }
    return inventory;
  }

  /** Stores inventory facts merged into what is there; returns the merged whole. */
  async saveInventory(next: Inventory): Promise<Inventory> {
    const merged = mergeInventory(await this.loadInventory(), next);
    const puts = [
      ...merged.clusters.map((c) => ({ sk: `CLUSTER#${c.arn}`, part: { ...emptyInventory(), clusters: [c] } })),
      ...merged.associations.map((a) => ({
        sk: `ASSOC#${a.clusterArn ?? a.cluster}#${a.namespace}#${a.serviceAccount}`,
        part: { ...emptyInventory(), associations: [a] },
      })),
      ...merged.nodegroups.map((n) => ({ sk: `NODEGROUP#${n.cluster}#${n.nodegroup}`, part: { ...emptyInventory(), nodegroups: [n] } })),
    ];
    await this.batchWrite(puts.map(({ sk, part }) => ({ PutRequest: { Item: { pk: INVENTORY_PK, sk, data: JSON.stringify(part) } } })));
    return merged;
  }

  /** What the detections must know before a batch: one BatchGet for keyed state, a query per namespace. */
  async detectionState(needs: DetectionNeeds, inventory: Inventory): Promise<DetectionState> {
    const keyed = await this.batchGet([
      ...needs.roles.map((r) => key(`ROLE#${r}`, 'ROLE')),
      ...needs.roleNamespaces.map((p) => key(`ROLE#${p.roleArn}`, `NS#${p.namespace}`)),
      ...needs.spikes.map((w) => key(`SPIKE#${w.key}`, `W#${w.window}`)),
      ...needs.nodeRoles.map((r) => key(scopePk(`noderole:${r}`), 'CLUSTERS')),
    ]);
    const state: DetectionState = {
      roleFirstSeen: new Map(),
      roleNamespaces: new Set(),
      spikeCounts: new Map(),
      namespaces: new Map(),
      nodeRoleClusters: new Map(),
      inventory,
    };
    for (const item of keyed) {
      if (item.type === 'role') state.roleFirstSeen.set(String(item['roleArn']), String(item['firstSeen']));
      else if (item.type === 'role-ns') state.roleNamespaces.add(`${item['roleArn']}|${item['namespace']}`);
      else if (item.type === 'spike') state.spikeCounts.set(`${item['key']}|${item['window']}`, Number(item['count']));
    }
    for (const role of needs.nodeRoles) {
      const observed = keyed.find((i) => i.type === 'node-clusters' && i['nodeRoleArn'] === role);
      const names = [
        ...inventory.nodegroups.filter((n) => n.nodeRoleArn === role).map((n) => n.cluster),
        ...((observed?.['clusterArns'] as string[] | undefined) ?? []).map((arn) => arn.slice(arn.lastIndexOf('/') + 1)),
      ];
      if (names.length > 0) state.nodeRoleClusters.set(role, [...new Set(names)].sort());
    }
    await Promise.all(
      needs.namespaces.map(async ({ place, namespace, scopes }) => {
        const items = (await Promise.all(scopes.map((scope) => this.query({ pk: scopePk(scope), prefix: `SA#${namespace}#` })))).flat();
        const pick = (field: string, better: (a: string, b: string) => boolean) =>
          items.reduce<string | null>((best, i) => {
            const v = i[field];
            return typeof v === 'string' && (best === null || better(v, best)) ? v : best;
          }, null);
        state.namespaces.set(`${place}|${namespace}`, {
          firstPodIdentity: pick('piFirstOk', (a, b) => a < b),
          lastIrsa: pick('irsaLastAttempt', (a, b) => a > b),
        });
      }),
    );
    return state;
  }

  /**
   * Records alerts once: the item key is the alert's (detection, key, window) id, written with
   * `attribute_not_exists`, so a replay or a retried batch finds it there and raises nothing new.
   */
  async recordAlerts(alerts: readonly Alert[]): Promise<Alert[]> {
    const fresh: Alert[] = [];
    await eachLimit(alerts, WRITE_CONCURRENCY, async (alert) => {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk: alertsPk(alert), sk: alert.id, type: 'alert', ...alert },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        fresh.push(alert);
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    });
    return fresh.sort((a, b) => (a.firstEventTime < b.firstEventTime ? -1 : a.firstEventTime > b.firstEventTime ? 1 : 0));
  }

  /**
   * Small bookkeeping items outside the evidence (backfill checkpoints, the last report's summary):
   * plain get/put/delete on a key the caller owns. Keys must not start with `SCOPE#`, `SCOPES`,
   * `INVENTORY`, `EVENT#`, `ROLE#`, `SPIKE#` or `ALERTS#`.
   */
  async getMeta(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key(pk, sk), ConsistentRead: true }));
    return Item;
  }

  async putMeta(item: { pk: string; sk: string; [field: string]: unknown }): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  async deleteMeta(pk: string, sk: string): Promise<void> {
    await this.batchWrite([{ DeleteRequest: { Key: key(pk, sk) } }]);
  }

  async queryMeta(pk: string, prefix?: string): Promise<Record<string, unknown>[]> {
    return this.query(prefix === undefined ? { pk } : { pk, prefix });
  }

  /**
   * Coverage: per (account, region, day) string sets grown with `ADD`, which is atomic, idempotent
   * and commutative, so replays, overlapping sources and concurrent writers need no read and no lock.
   */
  async recordCoverage(days: readonly CoverageDay[]): Promise<void> {
    await eachLimit(days, WRITE_CONCURRENCY, async (d) => {
      const sets = { fileHours: d.fileHours, liveHours: d.liveHours, slices: d.slices };
      const present = Object.entries(sets).filter(([, values]) => values.length > 0);
      if (present.length === 0) return;
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(COVERAGE_PK, coverageSk(d.account, d.region, d.day)),
          UpdateExpression: `SET account = :account, #region = :region, #day = :day ADD ${present.map(([f]) => `${f} :${f}`).join(', ')}`,
          ExpressionAttributeNames: { '#region': 'region', '#day': 'day' },
          ExpressionAttributeValues: {
            ':account': d.account,
            ':region': d.region,
            ':day': d.day,
            ...Object.fromEntries(present.map(([f, values]) => [`:${f}`, new Set(values)])),
          },
        }),
      );
    });
  }

  /** Every stored coverage day (one partition: accounts × regions × days, small). */
  async coverageDays(): Promise<CoverageDay[]> {
    const items = await this.query({ pk: COVERAGE_PK });
    const list = (v: unknown): string[] => (v instanceof Set ? [...(v as Set<string>)] : Array.isArray(v) ? (v as string[]) : []);
    return items.map((i) => ({
      account: String(i['account']),
      region: String(i['region']),
      day: String(i['day']),
      fileHours: list(i['fileHours']),
      liveHours: list(i['liveHours']),
      slices: list(i['slices']),
    }));
  }

  /**
   * IRSA events whose issuer the inventory does not map yet, one item each under their issuer
   * (`UNPLACED#<issuer>`, sorted by event time): what the placement detections need once it does.
   * Keyed by event id, so a replayed batch parks nothing twice.
   */
  async parkUnplaced(events: readonly IdentityEvent[]): Promise<void> {
    await this.batchWrite(
      events.map((e) => ({
        PutRequest: {
          Item: { pk: unplacedPk(e.oidcIssuer ?? '?'), sk: `${e.eventTime}#${e.eventId}`, type: 'unplaced', event: JSON.stringify(e), expiresAt: guardExpiry(e) },
        },
      })),
    );
  }

  /** The parked events of one issuer, oldest first. */
  async unplacedEvents(issuer: string): Promise<{ sk: string; event: IdentityEvent }[]> {
    const items = await this.query({ pk: unplacedPk(issuer) });
    return items.map((i) => ({ sk: i.sk, event: JSON.parse(String(i['event'])) as IdentityEvent }));
  }

  async dropUnplaced(issuer: string, sks: readonly string[]): Promise<void> {
    await this.batchWrite(sks.map((sk) => ({ DeleteRequest: { Key: key(unplacedPk(issuer), sk) } })));
  }

  async releaseAlerts(alerts: readonly Alert[]): Promise<void> {
    await this.batchWrite(alerts.map((a) => ({ DeleteRequest: { Key: key(alertsPk(a), a.id) } })));
  }

  /** Alerts whose last event is at or after `since`, by last event, oldest first. */
  async listAlerts(since: Date, until: Date): Promise<Alert[]> {
    const months: string[] = [];
    for (let d = new Date(Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), 1)); d <= until; d.setUTCMonth(d.getUTCMonth() + 1)) {
      months.push(d.toISOString().slice(0, 7));
    }
    const items = (await Promise.all(months.map((m) => this.query({ pk: `ALERTS#${m}` })))).flat();
    return items
      .map(({ pk: _pk, sk: _sk, type: _type, version: _version, ...alert }) => alert as unknown as Alert)
      .filter((a) => a.lastEventTime >= since.toISOString())
      .sort((a, b) => (a.lastEventTime < b.lastEventTime ? -1 : a.lastEventTime > b.lastEventTime ? 1 : a.id < b.id ? -1 : 1));
  }

  private async query(q: { pk: string; prefix?: string; from?: string; to?: string }): Promise<EvidenceItem[]> {
    const input: QueryCommandInput = {
      TableName: this.tableName,
      KeyConditionExpression:
        q.prefix !== undefined ? 'pk = :pk AND begins_with(sk, :p)' : q.from !== undefined ? 'pk = :pk AND sk BETWEEN :from AND :to' : 'pk = :pk',
      ExpressionAttributeValues: {
        ':pk': q.pk,
        ...(q.prefix !== undefined ? { ':p': q.prefix } : {}),
        ...(q.from !== undefined ? { ':from': q.from, ':to': q.to } : {}),
      },
    };
    const items: EvidenceItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      items.push(...((page.Items ?? []) as EvidenceItem[]));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  private async batchGet(keys: { pk: string; sk: string }[]): Promise<EvidenceItem[]> {
    const unique = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
    const out: EvidenceItem[] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
      let pending: Record<string, unknown>[] | undefined = unique.slice(i, i + BATCH_GET_LIMIT);
      for (let attempt = 0; pending && pending.length > 0; attempt += 1) {
        if (attempt > 0) await backoff(attempt);
        if (attempt > 10) throw new StoreError(`BatchGetItem left ${pending.length} keys unprocessed after ${attempt} attempts`);
        const page = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        out.push(...((page.Responses?.[this.tableName] ?? []) as EvidenceItem[]));
        // Unprocessed keys are normal under throttling: retry them, never drop them.
        pending = page.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return out;
  }

  private async batchWrite(requests: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
      let pending: Record<string, unknown>[] | undefined = requests.slice(i, i + BATCH_WRITE_LIMIT);
      for (let attempt = 0; pending && pending.length > 0; attempt += 1) {
        if (attempt > 0) await backoff(attempt);
        if (attempt > 10) throw new StoreError(`BatchWriteItem left ${pending.length} requests unprocessed after ${attempt} attempts`);
        const page = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = page.UnprocessedItems?.[this.tableName] as Record<string, unknown>[] | undefined;
      }
    }
  }
}

const key = (pk: string, sk: string) => ({ pk, sk });
const unplacedPk = (issuer: string) => `UNPLACED#${issuer}`;
/** Parked events outlive LookupEvents' 90 days, like replay guards, then DynamoDB's TTL drops them. */
const guardExpiry = (e: IdentityEvent) => Math.floor(Date.parse(e.eventTime) / 1000) + EVENT_GUARD_TTL_DAYS * 86_400;

/**
 * Alerts live in a partition per month of their window (windows start with a date; `first-seen`
 * takes its first event's, which every replay of that event shares): the month is part of the
 * dedup key, so it must not depend on which batch saw the alert first.
 */
const alertsPk = (alert: Alert) => `ALERTS#${(/^\d{4}-\d{2}/.test(alert.window) ? alert.window : alert.firstEventTime).slice(0, 7)}`;
const itemKey = (item: { pk: string; sk: string }) => `${item.pk}\u0000${item.sk}`;

function sameContent(a: EvidenceItem, b: EvidenceItem): boolean {
  const strip = ({ version: _v, ...rest }: EvidenceItem) => rest;
  return stableJson(strip(a)) === stableJson(strip(b));
}

function stableJson(value: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(value)
      .filter((k) => value[k] !== undefined && value[k] !== null)
      .sort()
      .map((k) => [k, value[k]]),
  );
}

async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Full jitter, 50 ms base, 5 s cap (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(5000, 50 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
