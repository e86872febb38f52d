import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DynamoEvidenceStore } from '../adapters/dynamo-evidence-store';
import { buildReport, parseSummary, reportEvidence, summarize, windowStartDay, type ReportSummary, type StragglerReport } from '../core/report';
import { REPORT_EXTENSIONS, renderReport, type ReportFormat } from '../core/report-render';
import { readinessReport } from '../adapters/readiness-query';

/** Where the previous report's summary lives (a bookkeeping item beside the evidence). */
export const REPORT_SUMMARY_KEY = { pk: 'REPORT', sk: 'latest' } as const;
/** DynamoDB items are at most 400 KB; the compressed summary stays well below. */
const SUMMARY_MAX_BYTES = 300_000;

export interface ReportSettings {
  asOf: Date;
  /** @default 14 */
  soakDays?: number;
  /** @default 24 */
  activeHours?: number;
}

/** An output directory or file that cannot be written: the caller says so in one line. */
export class ReportOutputError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReportOutputError';
  }
}

/**
 * Reads what a report needs and builds it: the verdicts through `readinessReport` (so the numbers
 * are those of `readiness --json` for the same as-of), the daily counts of the last 30 days, and
 * the previous report's summary.
 */
export async function gatherReport(
  store: DynamoEvidenceStore,
  settings: ReportSettings,
): Promise<{ report: StragglerReport; previous: ReportSummary | null; problem: string | null }> {
  const options = { asOf: settings.asOf, soakDays: settings.soakDays ?? 14, activeHours: settings.activeHours ?? 24 };
  const [readiness, snapshot, previous] = await Promise.all([
    readinessReport(store, options),
    store.snapshot({ fromDay: windowStartDay(settings.asOf.toISOString()), namespaceDays: true }),
    loadPreviousSummary(store),
  ]);
  const { days, irsaRoles } = reportEvidence(snapshot.items);
  const report = buildReport({ readiness, days, irsaRoles, inventory: snapshot.inventory, previous: previous.summary });
  return { report, previous: previous.summary, problem: previous.problem };
}

export async function loadPreviousSummary(store: DynamoEvidenceStore): Promise<{ summary: ReportSummary | null; problem: string | null }> {
  const item = await store.getMeta(REPORT_SUMMARY_KEY.pk, REPORT_SUMMARY_KEY.sk);
  if (item === undefined) return { summary: null, problem: null };
  let value: unknown;
  try {
    const data = item['data'];
    if (!(data instanceof Uint8Array)) throw new Error('no data');
    value = JSON.parse(gunzipSync(data).toString('utf8'));
  } catch (e) {
    return { summary: null, problem: `the previous report's summary is unreadable (${(e as Error).message}); comparing with nothing` };
  }
  const parsed = parseSummary(value);
  return parsed.summary === null ? { summary: null, problem: parsed.problem } : { summary: parsed.summary, problem: null };
}

/**
 * Keeps this report's summary for the next one, unless a later report's is already there (a
 * report as of a past time must not become the baseline of the next regular one).
 */
export async function saveSummary(store: DynamoEvidenceStore, summary: ReportSummary, previous: ReportSummary | null): Promise<boolean> {
  if (previous !== null && previous.asOf > summary.asOf) return false;
  let data = gzipSync(JSON.stringify(summary));
  if (data.length > SUMMARY_MAX_BYTES) data = gzipSync(JSON.stringify({ ...summary, stragglers: null }));
  await store.putMeta({ ...REPORT_SUMMARY_KEY, type: 'report-summary', asOf: summary.asOf, data });
  return true;
}

/** Chart.js's UMD build, read from the installed package (its `exports` hide `dist/`, its `require` entry sits beside it). */
export async function loadChartJs(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return readFile(path.join(path.dirname(entry), 'chart.umd.js'), 'utf8');
}

export async function render(report: StragglerReport, format: ReportFormat): Promise<string> {
  return renderReport(report, format, format === 'html' ? { chartJs: await loadChartJs() } : {});
}

export const reportFileName = (asOf: string, format: ReportFormat): string => `cutover-watch-report-${asOf.slice(0, 10)}.${REPORT_EXTENSIONS[format]}`;

/** Creates the directory if needed and proves it writable, before any work is done. */
export async function prepareOutDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new ReportOutputError(`cannot write reports to ${dir}: ${describeFsError(e)}`, { cause: e });
  }
}

/** Writes a temporary file in the same directory and renames it: a reader sees the old file or the whole new one. */
export async function writeFileAtomic(dir: string, name: string, content: string): Promise<string> {
  const target = path.join(dir, name);
  const temp = path.join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    return target;
  } catch (e) {
    await rm(temp, { force: true });
    throw new ReportOutputError(`cannot write ${target}: ${describeFsError(e)}`, { cause: e });
  }
}

/**
 * Builds, renders and writes `cutover-watch-report-<as-of date>.<ext>` into `outDir`, then keeps
 * the summary as the next report's baseline (unless `remember` is false). Returns the file's path.
 * What the demo and scripts call.
 */
export async function writeReport(
  store: DynamoEvidenceStore,
  options: ReportSettings & { format: ReportFormat; outDir: string; remember?: boolean },
): Promise<string> {
  await prepareOutDir(options.outDir);
  const { report, previous } = await gatherReport(store, options);
  const file = await writeFileAtomic(options.outDir, reportFileName(report.asOf, options.format), await render(report, options.format));
  if (options.remember ?? true) await saveSummary(store, summarize(report), previous);
  return file;
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a path component is a file, not a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    case 'EEXIST':
      return 'exists and is not a directory';
    default:
      return (e as Error).message;
  }
}
