import type { Command } from 'commander';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeDirectory } from '../../../adapters/make-directory';
import { deliverAlerts, JsonlAlertLog } from '../../../adapters/alert-delivery';
import { DETECTIONS, type Alert } from '../../../core/alert';
import { alertLine } from '../../../core/alert-format';
import { defaultPolicy } from '../../../core/policy';
import { VERDICT_ORDER, type ReadinessReport } from '../../../core/readiness';
import { analyzePaths } from '../../../adapters/ingest-pipeline';
import { gatherReport, writeReport } from '../../report';
import type { PreflightFinding } from '../../../core/preflight';
import { displaySafe } from '../render';
import { command, UsageError, type Io } from '../io';
import { positiveInteger, timeArg } from '../options';
import { outputFormat, printDocument, withOutputOptions, type OutputFlags } from '../output';
import { printSummary } from './analyze';
import { readInventoryFiles } from './inventory';
import { readinessReport } from '../../../adapters/readiness-query';
import { printEvidenceThrough, printReadiness, verdictCell } from './readiness';
import { withStore } from '../store-options';
import { takeLock, writeStoreMarker, type StoreLock } from '../../embedded-store';

export const DEMO_DIR = path.join('.cutover-watch', 'demo');
/** The file that says a folder is the demo's own, so a later demo may clear it. */
export const DEMO_MARKER = 'cutover-watch-demo.json';
/** What a demo run writes, and so what the next one clears; nothing else is ever deleted. */
const DEMO_OUTPUTS = ['db', 'logs', 'late', 'inventory', 'rejects.jsonl', 'alerts.jsonl', 'reports'];

interface DemoFlags extends OutputFlags {
  dir: string;
  seed: number;
  end?: Date;
}

export function demoCommand(program: Command, io: Io): void {
  withOutputOptions(program
    .command('demo')
    .summary('generate a sample fleet\'s CloudTrail, analyze it into a fresh store, print the verdicts (npm start)')
    .description(
      "Writes 30 days of CloudTrail for a sample fleet (3 clusters, 22 namespaces, 2 accounts: one cluster mid-migration, one migrated and soaked, one still on IRSA) in CloudTrail's S3 layout, with the EKS inventory the AWS CLI would print; " +
        'imports the inventory, analyzes the logs into a fresh embedded store with the detections on, and prints the readiness table and the alerts raised, one example of each detection with its likely cause. ' +
        'Deterministic for a given --seed and --end.',
    )
    .option('--dir <dir>', 'where the logs, inventory and store go: a new or empty folder, or an earlier demo\'s (whose output is replaced)', DEMO_DIR)
    .option('--seed <n>', 'sample fleet seed', positiveInteger, 42)
    .option('--end <time>', 'end of the sample traffic: ISO 8601 or a span before now such as 2d (default: today 00:00 UTC)', timeArg(io.now)),
    ['table', 'json', 'yaml'], '{schemaVersion, summary, lateSummary, readinessWithHole, readiness, alerts}')
    .addHelpText('after', '\nExample:\n  cutover-watch demo   (what npm start runs)')
    .action(async (flags: DemoFlags) => {
      const format = outputFormat<'table' | 'json' | 'yaml'>(flags, 'table');
      const dir = path.resolve(io.cwd, flags.dir);
      const rel = path.relative(io.cwd, dir) || '.';
      const today = io.now();
      const end = flags.end ?? new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
      const lock = await claimDemoDir(dir, rel);
      try {
        for (const part of DEMO_OUTPUTS) await rm(path.join(dir, part), { recursive: true, force: true });
        await writeStoreMarker(dir);
      } catch (e) {
        await lock.release();
        throw e;
      }

      // the generator serves the demo alone: a chunk of the bundle the other commands never load
      const { generateSampleFleet, writeSampleFleet } = await import('../../sample-fleet');
      const fleet = generateSampleFleet({ seed: flags.seed, end });
      // The planted coverage problem: three days of search-prod's region missed by the sync.
      const late = { region: 'us-west-2', days: [8, 7, 6].map((d) => new Date(end.getTime() - d * 86_400_000).toISOString().slice(0, 10)) };
      const written = await writeSampleFleet(dir, fleet, { late }).catch(async (e: unknown) => {
        await lock.release();
        throw e;
      });
      if (format === 'table') io.out(`wrote ${written.files} CloudTrail log files (${fleet.stats.records.toLocaleString('en-US')} records, 30 days) to ${path.relative(io.cwd, written.logDir)}`);

      await withStore({ store: dir }, io, async ({ store }) => {
        const inventoryFiles = (await readdir(written.inventoryDir)).sort().map((f) => path.join(written.inventoryDir, f));
        await store.saveInventory(await readInventoryFiles(inventoryFiles));
        const log = new JsonlAlertLog(path.join(dir, 'alerts.jsonl'));
        const raised: Alert[] = [];
        const onAlerts = async (alerts: Alert[]) => {
          raised.push(...alerts);
          const failures = await deliverAlerts(alerts, [log]);
          if (failures.length > 0) io.err(`could not write ${log.file}: ${failures[0]!.message}`);
        };
        const summary = await analyzePaths({ paths: [written.logDir], store, policy: defaultPolicy(), now: io.now, onAlerts });
        const withHole = await readinessReport(store, { asOf: end, soakDays: 14, activeHours: 24 });
        // The missed days arrive (a second sync): read them, and the verdicts they held back stand.
        const lateSummary = await analyzePaths({ paths: [written.lateDir!], store, policy: defaultPolicy(), now: io.now, onAlerts });
        const report = await readinessReport(store, { asOf: end, soakDays: 14, activeHours: 24 });
        if (format !== 'table') {
          await printDocument(io, format, { summary, lateSummary, readinessWithHole: withHole, readiness: report, alerts: raised });
          return;
        }
        printSummary(summary, rel, io);
        printPlantedHole(withHole, late, path.relative(io.cwd, written.lateDir!), io);
        io.out('');
        printReadiness(report, io, { reasons: false, all: true });
        const counts = VERDICT_ORDER.map((v) => `${report.namespaces.filter((n) => n.verdict === v).length} ${v}`);
        io.out('');
        io.out(`${report.namespaces.length} namespaces: ${counts.join(', ')}`);
        printAlertExamples(raised, path.relative(io.cwd, log.file), io);
        const reportFile = await writeReport(store, { asOf: end, format: 'html', outDir: path.join(dir, 'reports') });
        io.out('');
        io.out(`straggler report (charts; open it in a browser): ${path.relative(io.cwd, reportFile)}`);
        printPreflight((await gatherReport(store, { asOf: end })).report.preflight, io);
        io.out('');
        io.out('explore it:');
        const store_ = `--store ${rel} --as-of ${end.toISOString().replace('.000Z', 'Z')}`;
        io.out(`  ${command(io, `readiness ${store_} --reasons`)}`);
        io.out(`  ${command(io, `plan ${store_} -c legacy-batch`)}   # the switch step by step: preflight fixes first, complete commands`);
        io.out(`  ${command(io, `plan ${store_} -o sh`)} > plan.sh   # a reviewable script: reads run, changes ask`);
        io.out(`  ${command(io, `readiness ${store_} --verdict NOT_STARTED,IN_PROGRESS -o wide`)}`);
        io.out(`  ${command(io, `coverage ${store_}`)}`);
        io.out(`  ${command(io, `readiness ${store_} -c search-prod --require READY`)}   # a gate: exit 3 when below`);
        io.out(`  ${command(io, `evidence --store ${rel} -c payments-prod -n checkout`)}`);
        io.out(`  ${command(io, `alerts --store ${rel} --since ${new Date(end.getTime() - 30 * 86_400_000).toISOString().slice(0, 10)}`)}`);
        io.out(`  ${command(io, `classify ${path.relative(io.cwd, written.logDir)}`)} | head`);
      }, { lock });
    });
}

/** One alert of each detection, with its likely cause: what a security team would read first. */
function printAlertExamples(alerts: readonly Alert[], log: string, io: Io): void {
  io.out('');
  const counts = DETECTIONS.map((d) => `${alerts.filter((a) => a.detection === d).length} ${d}`);
  io.out(`${alerts.length} alerts raised (${counts.join(', ')}), all in ${log}; one of each:`);
  for (const detection of DETECTIONS) {
    const example = alerts.find((a) => a.detection === detection);
    if (!example) continue;
    io.out('');
    io.out(`  ${alertLine(example)}`);
    io.out(`    likely cause: ${example.likelyCause}`);
    io.out(`    next step:    ${example.nextStep}`);
  }
}

/** The coverage problem the demo plants, as `readiness` showed it before the missed days were read. */
function printPlantedHole(report: ReadinessReport, late: { region: string; days: string[] }, lateDir: string, io: Io): void {
  const unknown = report.namespaces.filter((n) => n.verdict === 'UNKNOWN');
  io.out('');
  io.out(`coverage: the logs of ${late.region} for ${late.days[0]}..${late.days.at(-1)} were left out of logs/ (a sync that missed them):`);
  printEvidenceThrough(report, io);
  io.out(`  ${unknown.length} namespaces could not be judged: ${unknown.slice(0, 3).map((n) => `${n.cluster}/${n.namespace} ${verdictCell(n)}`).join(', ')}${unknown.length > 3 ? ', …' : ''}`);
  if (unknown[0]) io.out(`  because ${unknown[0].unknownBecause[0]}`);
  io.out(`  reading them (cutover-watch analyze ${lateDir}) closes the hole:`);
}

/**
 * The demo deletes its previous output, so it writes only where that cannot hit anything of the
 * user's: a missing or empty folder (then marked as the demo's), or one carrying the demo's
 * marker. The store lock is taken before anything is cleared, so a demo never pulls the store
 * from under a running analyze. Refusals are usage errors (exit 2) that touch nothing.
 */
async function claimDemoDir(dir: string, label: string): Promise<StoreLock> {
  let entries: string[] | null;
  try {
    if (!(await stat(dir)).isDirectory()) throw new UsageError(`--dir ${label} is not a folder: pass a new or empty folder`);
    entries = await readdir(dir);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot read --dir ${label}: ${(e as Error).message}`, { cause: e });
    entries = null;
  }
  const ours = entries !== null && entries.includes(DEMO_MARKER) && (await isDemoMarker(path.join(dir, DEMO_MARKER)));
  if (entries !== null && entries.length > 0 && !ours) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
    // Demos before the marker left no proof of whose folder it is: the user decides, not the demo.
    const old =
      ['db', 'logs', 'inventory'].every((e) => entries!.includes(e)) && entries.every((e) => DEMO_OUTPUTS.includes(e) || e === 'store.lock')
        ? `; if it is an earlier version's demo output, remove it yourself first`
        : '';
    throw new UsageError(`--dir ${label} is not empty and not a cutover-watch demo folder (it holds ${shown}); nothing was touched: pass a new or empty folder${old}`);
  }
  if (entries === null) makeDirectory(dir, 0o700);
  const lock = await takeLock(dir, label);
  if (!ours) {
    try {
      await writeFile(path.join(dir, DEMO_MARKER), `${JSON.stringify({ tool: 'cutover-watch', kind: 'demo', format: 1 })}\n`, { mode: 0o600 });
    } catch (e) {
      await lock.release();
      throw new UsageError(`cannot write into --dir ${label}: ${(e as Error).message}`, { cause: e });
    }
  }
  return lock;
}

async function isDemoMarker(file: string): Promise<boolean> {
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as { kind?: unknown }).kind === 'demo';
  } catch {
    return false;
  }
}

/** What must be fixed before the switch, one line each: `plan` puts these first, with their commands. */
function printPreflight(findings: readonly PreflightFinding[], io: Io): void {
  const blockers = findings.filter((f) => f.severity === 'blocker');
  if (blockers.length === 0) return;
  io.out('');
  io.out(`before the switch (preflight, ${blockers.length} blocking; \`plan\` puts each first, with its commands):`);
  for (const f of blockers) {
    const where = [f.cluster, f.namespace && f.serviceAccount ? `${f.namespace}/${f.serviceAccount}` : f.namespace].filter(Boolean).join(' ');
    io.out(`  ${displaySafe(where || f.roleArn || '')}: ${displaySafe(f.summary)}`);
    io.out(`    fix: ${displaySafe(f.fix.text)}`);
  }
}
