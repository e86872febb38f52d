import type { Command } from 'commander';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { deliverAlerts, JsonlAlertLog } from '../../../adapters/alert-delivery';
import { DETECTIONS, type Alert } from '../../../core/alert';
import { alertLine } from '../../../core/alert-format';
import { defaultPolicy } from '../../../core/policy';
import { VERDICT_ORDER, type ReadinessReport } from '../../../core/readiness';
import { analyzePaths } from '../../analyze';
import { writeReport } from '../../report';
import { generateSampleFleet, writeSampleFleet } from '../../sample-fleet';
import type { Io } from '../io';
import { parseTime, positiveInteger } from '../options';
import { printSummary } from './analyze';
import { readInventoryFiles } from './inventory';
import { readinessReport } from '../../../adapters/readiness-query';
import { printEvidenceThrough, printReadiness, verdictCell } from './readiness';
import { withStore } from '../store-options';

export const DEMO_DIR = path.join('.cutover-watch', 'demo');

interface DemoFlags {
  dir: string;
  seed: number;
  end?: Date;
  json?: boolean;
}

export function demoCommand(program: Command, io: Io): void {
  program
    .command('demo')
    .summary('generate a sample fleet\'s CloudTrail, analyze it into a fresh store, print the verdicts (npm start)')
    .description(
      'Writes 30 days of CloudTrail for a sample fleet (3 clusters, 22 namespaces, 2 accounts: one cluster\n' +
        'mid-migration, one migrated and soaked, one still on IRSA) in CloudTrail\'s S3 layout, with the EKS\n' +
        'inventory the AWS CLI would print; imports the inventory, analyzes the logs into a fresh embedded\n' +
        'store with the detections on, and prints the readiness table and the alerts raised, one example of each\n' +
        'detection with its likely cause. Deterministic for a given --seed and --end.',
    )
    .option('--dir <dir>', 'where the logs, inventory and store go (wiped first)', DEMO_DIR)
    .option('--seed <n>', 'sample fleet seed', positiveInteger, 42)
    .option('--end <time>', 'end of the sample traffic (default: today 00:00 UTC)', parseTime)
    .option('--json', 'print the analyze summary and readiness report as one JSON object')
    .action(async (flags: DemoFlags) => {
      const dir = path.resolve(io.cwd, flags.dir);
      const rel = path.relative(io.cwd, dir) || '.';
      const today = io.now();
      const end = flags.end ?? new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
      for (const part of ['db', 'logs', 'inventory', 'rejects.jsonl', 'alerts.jsonl', 'reports']) await rm(path.join(dir, part), { recursive: true, force: true });

      const fleet = generateSampleFleet({ seed: flags.seed, end });
      // The planted coverage problem: three days of search-prod's region missed by the sync.
      const late = { region: 'us-west-2', days: [8, 7, 6].map((d) => new Date(end.getTime() - d * 86_400_000).toISOString().slice(0, 10)) };
      const written = await writeSampleFleet(dir, fleet, { late });
      if (!flags.json) io.out(`wrote ${written.files} CloudTrail log files (${fleet.stats.records.toLocaleString('en-US')} records, 30 days) to ${path.relative(io.cwd, written.logDir)}`);

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
        if (flags.json) {
          io.out(JSON.stringify({ summary, lateSummary, readinessWithHole: withHole, readiness: report, alerts: raised }, null, 2));
          return;
        }
        printSummary(summary, rel, io);
        printPlantedHole(withHole, late, path.relative(io.cwd, written.lateDir!), io);
        io.out('');
        printReadiness(report, io, { reasons: false });
        const counts = VERDICT_ORDER.map((v) => `${report.namespaces.filter((n) => n.verdict === v).length} ${v}`);
        io.out('');
        io.out(`${report.namespaces.length} namespaces: ${counts.join(', ')}`);
        printAlertExamples(raised, path.relative(io.cwd, log.file), io);
        const reportFile = await writeReport(store, { asOf: end, format: 'html', outDir: path.join(dir, 'reports') });
        io.out('');
        io.out(`straggler report (charts; open it in a browser): ${path.relative(io.cwd, reportFile)}`);
        io.out('');
        io.out('explore it:');
        const store_ = `--store ${rel} --as-of ${end.toISOString().replace('.000Z', 'Z')}`;
        io.out(`  npx cutover-watch readiness ${store_} --reasons`);
        io.out(`  npx cutover-watch coverage ${store_}`);
        io.out(`  npx cutover-watch readiness ${store_} --cluster search-prod --require READY   # a gate: exit 3 when below`);
        io.out(`  npx cutover-watch evidence --store ${rel} --cluster payments-prod --namespace checkout`);
        io.out(`  npx cutover-watch alerts --store ${rel} --since ${new Date(end.getTime() - 30 * 86_400_000).toISOString().slice(0, 10)}`);
        io.out(`  npx cutover-watch classify ${path.relative(io.cwd, written.logDir)} | head`);
      });
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
