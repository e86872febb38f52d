import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { growHeapByAtMost } from '../adapters/collect-garbage';
import { DynamoEvidenceStore } from '../adapters/dynamo-evidence-store';
import { putStreamed } from '../adapters/s3-upload';
import { summarize, withOwners } from '../core/report';
import { csvLines, renderReport, REPORT_MEDIA_TYPES, reportJsonPieces, type ReportFormat } from '../core/report-render';
import { toAscii } from '../core/alert-format';
import { gatherReport, reportFileName, saveSummary } from '../local/report';
import { logger, policyFromEnv, requiredEnv } from './runtime';

// The report is built from the whole table at once, as `cutover-watch report` builds it: its heap
// kept near what is live, as the CLI keeps it, within the function's memory.
growHeapByAtMost(30);

const store = new DynamoEvidenceStore({ client: new DynamoDBClient({}), tableName: requiredEnv('TABLE_NAME'), writerLease: true });
const s3 = new S3Client({});
const sns = new SNSClient({});
const bucket = requiredEnv('REPORT_BUCKET');
const topicArn = requiredEnv('TOPIC_ARN');
const soakDays = Number(process.env['SOAK_DAYS'] ?? '14');
/** The no-events alarm's threshold: live coverage bridges no longer gap, so silence marks verdicts UNKNOWN on the same rule. */
const liveGapHours = Number(process.env['LIVE_GAP_HOURS'] ?? '6');
/** The policy file's owners (the stack's `policyFile`), for who has what to do. */
const policy = policyFromEnv();

/** SNS messages are at most 256 KiB (Publish API reference); the text stays well under it. */
const EMAIL_MAX_BYTES = 200_000;

/**
 * Weekly: the straggler report, with the same builders as `cutover-watch report`. HTML, CSV and
 * JSON go to the report bucket; the text goes to the alerts topic for e-mail, with the HTML's place.
 * With owners in the policy, it is `report --by owner`: each row's owner, and a section per owner.
 * Chart.js is copied beside the bundle at build time (the construct's afterBundling hook).
 */
export const handler = async (): Promise<{ key: string }> => {
  const asOf = new Date();
  const { report: gathered } = await gatherReport(store, { asOf, soakDays, liveGapHours });
  // Owners only when the policy names some: the report of a fleet without them stays as it was.
  const report = policy.owners.length > 0 ? withOwners(gathered, policy, { group: true }) : gathered;
  const chartJs = await readFile(path.join(process.env['LAMBDA_TASK_ROOT'] ?? '.', 'chart.umd.js'), 'utf8');
  const prefix = `reports/${report.asOf.slice(0, 10)}`;
  const put = async (format: ReportFormat) => {
    const key = `${prefix}/${reportFileName(report.asOf, format)}`;
    // The JSON and CSV are made as they are sent (grantPut's s3:Abort* aborts a multipart upload
    // that fails): at 40,000 namespaces the JSON is 266 MB, more than the function's memory.
    const pieces = format === 'json' ? reportJsonPieces(report) : format === 'csv' ? csvLines(report) : null;
    await putStreamed(s3, { bucket, key, contentType: REPORT_MEDIA_TYPES[format] }, pieces ?? (await renderReport(report, format, { chartJs })));
    return key;
  };
  const [html] = await Promise.all([put('html'), put('csv'), put('json')]);
  const link = `https://s3.console.aws.amazon.com/s3/object/${bucket}?prefix=${encodeURIComponent(html)}`;
  const text = await renderReport(report, 'text', { text: { maxBytes: EMAIL_MAX_BYTES } });
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: toAscii(`cutover-watch weekly report ${report.asOf.slice(0, 10)}`).slice(0, 99),
      Message: `${text}\n\nFull report (HTML with charts, CSV, JSON): ${link}\n`,
      MessageAttributes: { detection: { DataType: 'String', StringValue: 'report' }, severity: { DataType: 'String', StringValue: 'low' } },
    }),
  );
  // Only a report that went out becomes the next one's baseline.
  await saveSummary(store, summarize(report));
  logger.info('report published', { key: html, asOf: report.asOf });
  return { key: html };
};
