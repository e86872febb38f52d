import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { makeDirectory } from '../adapters/make-directory';
import type { DynamoEvidenceStore } from '../adapters/dynamo-evidence-store';
import { textInChunks } from '../core/display';
import { buildReport, parseSummary, reportEvidence, summarize, windowStartDay, type ReportSummary, type StragglerReport } from '../core/report';
import { REPORT_EXTENSIONS, renderReport, type ReportFormat } from '../core/report-render';
import { judgeVerdicts, readVerdictInputs, type ReadinessQuery, type VerdictInputs } from '../adapters/readiness-query';
import type { EvidenceSnapshot, ReadinessReport } from '../core/readiness';

/** Saved report summaries (bookkeeping items beside the evidence), one per as-of. */
export const REPORT_SUMMARY_PK = 'REPORT';
const SUMMARY_SK_PREFIX = 'SUMMARY#';
const LEGACY_SUMMARY_SK = 'latest';
/** A summary item stays well under DynamoDB's 400 KB item limit; past this the straggler list is dropped. */
const SUMMARY_MAX_BYTES = 300_000;

export interface ReportSettings {
  asOf: Date;
  /** @default 14 */
  soakDays?: number;
  /** @default 24 */
  activeHours?: number;
  /** Live heartbeats further apart leave a hole in coverage. @default 6 */
  liveGapHours?: number;
}

/** An output directory or file that cannot be written: the caller says so in one line. */
export class ReportOutputError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ReportOutputError';
  }
}

/**
 * Reads what a report needs and builds it: the verdicts judged as `readiness` judges them (so the
 * numbers are those of `readiness --json` for the same as-of), the daily counts of the last 30 days, and
 * the previous report's summary. The readiness report comes back too: what `report -c/-n/--account`
 * checks its globs against, as `readiness` does.
 */
export async function gatherReport(store: DynamoEvidenceStore, settings: ReportSettings): Promise<GatheredReport> {
  return reportFrom(await readReportInputs(store, settings));
}

export interface GatheredReport {
  report: StragglerReport;
  readiness: ReadinessReport;
  previous: ReportSummary | null;
  problem: string | null;
}

/** What a report is built from, read from the store: a command may close the store before building it (`reportFrom`). */
export interface ReportInputs {
  /** Let go of by `reportFrom` once judged (null after). */
  verdicts: VerdictInputs | null;
  options: ReadinessQuery;
  previous: { summary: ReportSummary | null; problem: string | null };
}

export async function readReportInputs(store: DynamoEvidenceStore, settings: ReportSettings): Promise<ReportInputs> {
  const options = { asOf: settings.asOf, soakDays: settings.soakDays ?? 14, activeHours: settings.activeHours ?? 24, liveGapHours: settings.liveGapHours };
  // One read of the store for the verdicts and the daily counts: at thousands of namespaces it is most of the time.
  const [verdicts, previous] = await Promise.all([readVerdictInputs(store, options, windowStartDay(settings.asOf.toISOString())), loadPreviousSummary(store, settings.asOf)]);
  return { verdicts, options, previous };
}

/**
 * The report on what `readReportInputs` read: no store. It lets go of the evidence items once the
 * verdicts and what the report draws from them are taken: they are garbage before the report is
 * built (at 20,000 namespaces, some 70 MB of items against the report's 160 MB).
 */
export function reportFrom(inputs: ReportInputs): GatheredReport {
  const { readiness, inventory, days, irsaRoles } = judgedAndDrawn(inputs);
  const report = buildReport({ readiness, days, irsaRoles, inventory, previous: inputs.previous.summary });
  return { report, readiness, previous: inputs.previous.summary, problem: inputs.previous.problem };
}

/** The verdicts and what the report draws from the evidence; nothing else of the items read is held after. */
function judgedAndDrawn(inputs: ReportInputs) {
  if (inputs.verdicts === null) throw new Error("a report's inputs build one report");
  // read with `evidenceFromDay` (readReportInputs): never null here
  const evidence = inputs.verdicts.evidence as EvidenceSnapshot;
  // What the report draws is taken first, and the evidence's item list let go: the judging then
  // lets go of the items as it goes (`judgeVerdicts`), instead of all of them staying to the end.
  const drawn = reportEvidence(evidence.items);
  evidence.items.length = 0;
  const readiness = judgeVerdicts(inputs.verdicts, inputs.options);
  inputs.verdicts = null;
  return { readiness, inventory: evidence.inventory, ...drawn };
}

/**
 * The baseline a report compares with: the latest summary saved for an as-of before this one. A
 * report of a past day compares with what was saved before that day, and reading never moves it.
 */
export async function loadPreviousSummary(store: DynamoEvidenceStore, asOf: Date): Promise<{ summary: ReportSummary | null; problem: string | null }> {
  const before = asOf.toISOString();
  const saved = [
    ...(await store.queryMeta(REPORT_SUMMARY_PK, SUMMARY_SK_PREFIX)),
    // Written by versions before saved summaries were kept per as-of.
    ...(await store.queryMeta(REPORT_SUMMARY_PK, LEGACY_SUMMARY_SK)),
  ].filter((i) => typeof i['asOf'] === 'string' && (i['asOf'] as string) < before);
  const item = saved.sort((a, b) => ((a['asOf'] as string) < (b['asOf'] as string) ? 1 : -1))[0];
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

/** Keeps this report's summary as a baseline (`report --save`, the scheduled report job). */
export async function saveSummary(store: DynamoEvidenceStore, summary: ReportSummary): Promise<void> {
  let data = gzipSync(JSON.stringify(summary));
  if (data.length > SUMMARY_MAX_BYTES) data = gzipSync(JSON.stringify({ ...summary, stragglers: null }));
  await store.putMeta({ pk: REPORT_SUMMARY_PK, sk: `${SUMMARY_SK_PREFIX}${summary.asOf}`, type: 'report-summary', asOf: summary.asOf, data });
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

/**
 * Creates the directory if needed (0700) and proves it writable, before any work is done. An
 * existing directory keeps its mode; report files are 0600 in any case (they name every role and
 * namespace still on IRSA): share one with chmod.
 */
export async function prepareOutDir(dir: string): Promise<void> {
  try {
    // a name that exists and is not a folder fails here with EEXIST
    makeDirectory(dir, 0o700);
    await access(dir, constants.W_OK);
  } catch (e) {
    throw new ReportOutputError(`cannot write reports to ${dir}: ${describeFsError(e)}`, { cause: e });
  }
}

/** Writes a temporary file in the same directory and renames it: a reader sees the old file or the whole new one. */
export async function writeFileAtomic(dir: string, name: string, content: string | Iterable<string>): Promise<string> {
  const target = path.join(dir, name);
  const temp = path.join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      if (typeof content === 'string') await handle.writeFile(content, 'utf8');
      else for (const chunk of textInChunks(content)) await handle.write(chunk, null, 'utf8');
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
 * Builds, renders and writes `cutover-watch-report-<as-of date>.<ext>` into `outDir`, and keeps
 * the summary as a baseline only when `save` is set. Returns the file's path.
 * What the demo and scripts call.
 */
export async function writeReport(
  store: DynamoEvidenceStore,
  options: ReportSettings & { format: ReportFormat; outDir: string; save?: boolean },
): Promise<string> {
  await prepareOutDir(options.outDir);
  const { report } = await gatherReport(store, options);
  const file = await writeFileAtomic(options.outDir, reportFileName(report.asOf, options.format), await render(report, options.format));
  if (options.save) await saveSummary(store, summarize(report));
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
