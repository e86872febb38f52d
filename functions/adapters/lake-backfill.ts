import { CloudTrailClient, DescribeQueryCommand, GetQueryResultsCommand, StartQueryCommand, CancelQueryCommand, type GetQueryResultsCommandOutput } from '@aws-sdk/client-cloudtrail';
import { extractRecords, type InputItem } from '../core/envelopes';
import { lakeSliceQuery } from '../core/trail-sql';
import { abortableSleep } from './cloudtrail-backfill';
import { QueryFailedError, throttled, type PollOptions, type ResultRow, type TrailQueryEngine, type TrailSource } from './athena-backfill';

/**
 * CloudTrail Lake: the same day slices, checkpoints and ingest as the Athena backfill
 * (./athena-backfill.ts), through StartQuery, DescribeQuery (QUEUED, RUNNING, then FINISHED, or
 * FAILED, CANCELLED, TIMED_OUT) and GetQueryResults pages (rows as lists of one-column maps)
 * (CloudTrail API reference).
 *
 * Each row carries the event's JSON whole (`eventjson`), read as a LookupEvents CloudTrailEvent
 * is (extractRecords): nothing to rebuild, and a bad one is a problem naming its row.
 *
 * Coverage: none recorded. An event data store keeps what its advanced event selectors let in
 * (some event names, some accounts, read-only or not), so the hours that had events in it do not
 * show that every identity event of those hours is there, as a trail's log files do; and the rows
 * the query returns are only the selected ones. Verdicts that rest on Lake history alone stay
 * UNKNOWN where no other source (analyze over the logs, the live ingest) proves the hours.
 */

/** A CloudTrail client for Lake queries: default credential chain, adaptive retry. */
export { cloudTrailClient as lakeClient } from './cloudtrail-backfill';

export interface LakeEngineOptions extends PollOptions {
  client: CloudTrailClient;
  region: string;
}

export function lakeEngine(options: LakeEngineOptions): TrailQueryEngine {
  const { client, region } = options;
  const call = <T>(operation: string, fn: () => Promise<T>, signal?: AbortSignal) => throttled(fn, { service: 'cloudtrail', operation, region }, options, signal);
  return {
    label: 'CloudTrail Lake',
    async run(sql, signal) {
      const started = await call('StartQuery', () => client.send(new StartQueryCommand({ QueryStatement: sql })), signal);
      const id = started.QueryId;
      if (!id) throw new Error('CloudTrail StartQuery returned no QueryId');
      const sleep = options.sleep ?? abortableSleep(signal);
      // Stopped while it runs: cancel it, or it runs (and bills) on.
      const onAbort = () => void client.send(new CancelQueryCommand({ QueryId: id })).catch(() => undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        for (let wait = options.pollMs ?? 500; ; wait = Math.min(wait * 2, options.maxPollMs ?? 5000)) {
          const out = await call('DescribeQuery', () => client.send(new DescribeQueryCommand({ QueryId: id })), signal);
          const state = out.QueryStatus;
          if (state === 'FINISHED') {
            const scanned = out.QueryStatistics?.BytesScanned ?? 0;
            return { id, scannedBytes: scanned, billedBytes: scanned };
          }
          if (state === 'FAILED' || state === 'CANCELLED' || state === 'TIMED_OUT') {
            throw new QueryFailedError(`CloudTrail Lake query ${id} ${state}: ${out.ErrorMessage ?? 'no reason given'}`, state, id);
          }
          if (state !== 'QUEUED' && state !== 'RUNNING') throw new Error(`CloudTrail Lake query ${id}: unexpected status ${String(state)}`);
          await sleep(wait);
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    async *pages(id, signal) {
      let token: string | undefined;
      do {
        const out: GetQueryResultsCommandOutput = await call(
          'GetQueryResults',
          () => client.send(new GetQueryResultsCommand({ QueryId: id, ...(token ? { NextToken: token } : {}) })),
          signal,
        );
        yield (out.QueryResultRows ?? []).map((row) => {
          const values: Record<string, string | null> = {};
          for (const cell of row) for (const [column, value] of Object.entries(cell)) values[column] = value ?? null;
          return values;
        });
        token = out.NextToken || undefined;
      } while (token);
    },
    async cancel(id) {
      await client.send(new CancelQueryCommand({ QueryId: id })).catch(() => undefined);
    },
  };
}

export interface LakeSourceOptions {
  engine: TrailQueryEngine;
  /** The event data store's id or ARN. */
  eventDataStore: string;
}

/** The id part of an event data store ARN (`arn:aws:cloudtrail:REGION:ACCOUNT:eventdatastore/ID`), or the id itself. */
export function eventDataStoreId(text: string): string {
  const at = text.lastIndexOf('/');
  return text.startsWith('arn:') && at >= 0 ? text.slice(at + 1) : text;
}

export function lakeSource(options: LakeSourceOptions): TrailSource {
  const id = eventDataStoreId(options.eventDataStore);
  return {
    kind: 'lake',
    id,
    engine: options.engine,
    setup: [],
    sliceSql: (slice, predicate) =>
      lakeSliceQuery({ eventDataStore: id, start: new Date(slice.start).toISOString(), end: new Date(slice.end).toISOString(), predicate }),
    readRows: (rows: readonly ResultRow[], unit, firstRow) => {
      const items: InputItem[] = [];
      rows.forEach((row, i) => {
        const where = `row ${firstRow + i}`;
        const json = row['eventjson'];
        if (typeof json !== 'string') items.push({ type: 'problem', file: unit, where, reason: 'CloudTrail Lake row has no eventjson' });
        else for (const item of extractRecords({ CloudTrailEvent: json }, unit, where)) items.push(item);
      });
      return items;
    },
    provesCoverage: false,
  };
}
