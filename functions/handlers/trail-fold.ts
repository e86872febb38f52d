import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { allowForcedCollections } from '../adapters/collect-garbage';
import { DynamoEvidenceStore } from '../adapters/dynamo-evidence-store';
import { foldTrail, OUT_OF_TIME } from '../adapters/trail-fold';
import { TRAIL_EVENTS_BY_KIND, TRAIL_OBJECTS_BY_REGION } from '../core/coverage';
import { countPerValue, listEnv, logger, metrics, policyFromEnv, requiredEnv } from './runtime';

// A function's process is its own: a full collection as each group of objects is stored keeps its
// heap near what it holds (collect-garbage).
allowForcedCollections();

// Built once per container. Other writers (the live ingest, a CLI on --table): each batch under the
// table's writer lease, waited for as the CLI waits (an ingest batch holds it for seconds; the
// ingest, which waits 20 s, retries its batch through SQS when a fold batch holds it longer).
const store = new DynamoEvidenceStore({ client: new DynamoDBClient({}), tableName: requiredEnv('TABLE_NAME'), writerLease: true, leaseWaitMs: 180_000 });
// The bucket may be in another region: S3 redirects, the client follows.
const client = new S3Client({ followRegionRedirects: true });
const policy = policyFromEnv();
const trail = { bucket: requiredEnv('TRAIL_BUCKET'), prefix: process.env['TRAIL_PREFIX'] ?? 'AWSLogs/' };
const accounts = listEnv('TRAIL_ACCOUNTS');
const regions = listEnv('TRAIL_REGIONS');
const nodeRoleArns = listEnv('NODE_ROLE_ARNS');
const lookbackDays = Number(process.env['TRAIL_LOOKBACK_DAYS'] ?? '2');
/** Left of the function's time when the run stops taking objects: the last group's write-out and the metrics. */
const MARGIN_MS = 120_000;
/** Rejections logged per run (each names the object, the record and the field, never the record's content). */
const REJECTIONS_LOGGED = 20;

/** Scheduled: the trail's log objects not read yet → evidence and alerts (published from the table's stream). */
export const handler = async (_event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<void> => {
  let logged = 0;
  const firstReasons: string[] = [];
  const summary = await foldTrail({
    client,
    store,
    policy,
    trail,
    accounts,
    regions,
    lookbackDays,
    nodeRoleArns,
    deadline: Date.now() + context.getRemainingTimeInMillis() - MARGIN_MS,
    now: () => new Date(),
    onRejection: (r) => {
      if (r.where === null && firstReasons.length < 3) firstReasons.push(`${r.file}: ${r.reason}`);
      if (logged++ < REJECTIONS_LOGGED) logger.warn('record rejected', { file: r.file, where: r.where, reason: r.reason });
    },
  });

  countPerValue(TRAIL_OBJECTS_BY_REGION, 'region', Object.entries(summary.objectsByRegion));
  // The live ingest's dashboard graphs, from what the run read: events by kind, alerts by detection.
  countPerValue(TRAIL_EVENTS_BY_KIND, 'kind', Object.entries(summary.byKind).filter(([, count]) => count > 0));
  countPerValue('AlertsRaised', 'detection', Object.entries(summary.alertsByDetection));
  metrics.addMetric('TrailObjectsRead', MetricUnit.Count, summary.s3.read);
  metrics.addMetric('TrailObjectsFailed', MetricUnit.Count, summary.s3.failed + summary.s3.unrecorded);
  metrics.addMetric('RejectedRecords', MetricUnit.Count, summary.rejected);
  metrics.addMetric('Replayed', MetricUnit.Count, summary.replayed);
  metrics.publishStoredMetrics();

  const counts = {
    folders: summary.folders,
    listed: summary.s3.listed,
    skipped: summary.s3.skipped,
    read: summary.s3.read,
    failed: summary.s3.failed,
    unfetched: summary.s3.unfetched,
    unrecorded: summary.s3.unrecorded,
    notRead: summary.s3.notRead,
    records: summary.records,
    inScope: summary.inScope,
    replayed: summary.replayed,
    rejected: summary.rejected,
    alerts: summary.alertsByDetection,
  };
  // Out of time is the schedule's to finish; anything else that stopped reading (credentials, KMS) or
  // left events unstored fails the invocation: its alarm, and a retry that skips what was recorded.
  if (summary.s3.stopped === OUT_OF_TIME) logger.warn('trail fold out of time; the next run reads the rest', counts);
  else if (summary.s3.stopped !== null) throw new Error(`reading the trail stopped: ${summary.s3.stopped}`);
  // An object GetObject never gave (permission, KMS key) is a hole in the evidence until it is read:
  // the run fails, so its alarm says so. One read but damaged is a rejection, logged and counted.
  if (summary.s3.unfetched > 0) throw new Error(`${summary.s3.unfetched} trail objects could not be fetched (read again next run): ${firstReasons.join('; ')}`);
  if (summary.notStored > 0) throw new Error(`${summary.notStored} events could not be stored: ${summary.storeErrors.slice(0, 3).join('; ')}`);
  logger.info('trail folded', counts);
};
