import { displaySafe } from '../display';
import { stepLines } from '../plan-render';
import { VERDICT_ORDER } from '../readiness';
import type { PreflightFinding } from '../preflight';
import { stragglerPlan, type ReportChanges, type Straggler, type StragglerReport } from '../report';
import {
  byNextStep,
  CLEAN_UP_COLUMNS,
  cleanUpRows,
  NAMESPACE_COLUMNS,
  namespaceRows,
  columns,
  hasChanges,
  headline,
  NEXT_STEP_HELP,
  plural,
  roleLabel,
  settingsLine,
  evidenceLine,
  filtersLine,
  unknownLines,
  shortTime,
  timeAndAge,
  verdictMove,
} from './common';

/**
 * SNS takes messages up to 256 KB (262,144 bytes, subject and attributes aside); e-mail and
 * terminals read far less. The default leaves room for the subject and message attributes.
 */
export const TEXT_MAX_BYTES = 240_000;

export interface TextOptions {
  /** The rendered text never exceeds this many UTF-8 bytes. @default TEXT_MAX_BYTES */
  maxBytes?: number;
}

/**
 * Plain text for e-mail (SNS) and terminals. When everything does not fit in `maxBytes`, every
 * list is cut to the same number of rows (the largest that fits) and says how many rows it left out.
 */
export function renderText(report: StragglerReport, options: TextOptions = {}): string {
  const maxBytes = options.maxBytes ?? TEXT_MAX_BYTES;
  const fits = (limit: number) => Buffer.byteLength(textWithLimit(report, limit), 'utf8') <= maxBytes;
  const longest = Math.max(
    report.stragglers.length,
    report.readyToCleanUp.length,
    report.namespaces.length,
    report.clusters.length,
    report.changes.newStragglers.length,
    report.changes.resolvedStragglers.length,
    report.changes.newNamespaces.length,
    report.changes.goneNamespaces.length,
  );
  // Doubling from a small limit first: a fleet of 20,000 stragglers (each with its steps) is never
  // rendered whole only to learn it does not fit; the largest limit that fits lies in [lo, hi].
  let lo = 0;
  let probe = 32;
  while (probe < longest && fits(probe)) {
    lo = probe;
    probe *= 2;
  }
  if (probe >= longest && fits(longest)) return textWithLimit(report, longest);
  let hi = Math.min(probe, longest) - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  const text = textWithLimit(report, lo);
  return Buffer.byteLength(text, 'utf8') <= maxBytes ? text : truncateBytes(text, maxBytes);
}

/** A row's step lines, made once per row and indent: the search for the limit renders the text many times. */
const stepLinesMade = new WeakMap<Straggler, Map<string, string[]>>();
function rowStepLines(s: Straggler, preflight: readonly PreflightFinding[], indent: string): string[] {
  let byIndent = stepLinesMade.get(s);
  if (byIndent === undefined) stepLinesMade.set(s, (byIndent = new Map()));
  let lines = byIndent.get(indent);
  if (lines === undefined) byIndent.set(indent, (lines = stepLines(stragglerPlan(s, preflight).steps, indent, { why: false })));
  return lines;
}

function textWithLimit(report: StragglerReport, limit: number): string {
  const out: string[] = [];
  const more = (shown: number, total: number, indent = '  ') => {
    if (total > shown) out.push(`${indent}… and ${(total - shown).toLocaleString('en-US')} more (every row: --format csv, json or html)`);
  };
  const list = <T>(rows: readonly T[], line: (row: T) => string, indent = '  ') => {
    for (const row of rows.slice(0, limit)) out.push(`${indent}${line(row)}`);
    more(Math.min(rows.length, limit), rows.length, indent);
  };
  // Each row's steps, in as many lines as they take; cut to `limit` rows like every list.
  const stepsOf = (rows: readonly Straggler[], indent: string) => {
    for (const s of rows.slice(0, limit)) out.push(`${indent}${s.cluster}/${s.namespace} ${s.serviceAccount} (${roleLabel(s.role)}):`, ...rowStepLines(s, report.preflight, `${indent}  `));
    more(Math.min(rows.length, limit), rows.length, indent);
  };
  const tableOf = (head: string[], rows: string[][], indent = '  ') => {
    // Escaped before the widths are measured, so the columns line up with what is printed.
    const shown = rows.slice(0, limit).map((row) => row.map(displaySafe));
    out.push(...columns(head, shown, indent));
    more(shown.length, rows.length, indent);
  };

  out.push('cutover-watch: IRSA → EKS Pod Identity straggler report');
  out.push(settingsLine(report));
  const filtered = filtersLine(report);
  if (filtered !== null) out.push(filtered);
  out.push(evidenceLine(report));
  out.push('');
  out.push(...headline(report));
  const unknown = unknownLines(report);
  if (unknown.length > 0) {
    out.push('', `CANNOT TELL (UNKNOWN: ${unknown.length}): the evidence does not reach far enough, has a hole, or cannot be placed`);
    list(unknown, (line) => line);
  }
  if (report.namespaces.length === 0) out.push('no IRSA or Pod Identity evidence yet: run `cutover-watch analyze PATH` (or `npm start` for the demo)');

  out.push('', changesTitle(report.changes));
  changesText(report.changes, out, list);

  out.push('', 'CLUSTERS (OIDC provider verdict and namespaces by verdict)');
  tableOf(
    ['CLUSTER', 'OIDC PROVIDER', ...VERDICT_ORDER, 'STRAGGLERS'],
    report.clusters.map((c) => [c.cluster, c.verdict, ...VERDICT_ORDER.map((v) => String(c.namespaceCounts[v])), String(c.stragglers)]),
  );
  for (const c of report.clusters.slice(0, limit)) {
    out.push(`  ${c.cluster}: ${c.nextStep}`);
    if (c.oidcIssuer) out.push(`    OIDC issuer: ${c.oidcIssuer}`);
    for (const w of c.warnings) out.push(`    warning: ${w.message}${w.last ? ` (last ${shortTime(w.last)})` : ''}`);
    // The same steps `cutover-watch plan` prints (core/plan.ts).
    if (c.steps.before.length > 0) out.push('    before any namespace (cluster-wide):', ...stepLines(c.steps.before, '      ', { why: false }));
    if (c.steps.after.length > 0) out.push('    after every namespace:', ...stepLines(c.steps.after, '      ', { why: false }));
  }
  if (report.warnings.length > 0) {
    out.push('  not attributed to a cluster:');
    list(report.warnings, (w) => `warning: ${w.message}${w.last ? ` (last ${shortTime(w.last)})` : ''}`, '    ');
  }

  if (report.byOwner) {
    out.push('', 'BY OWNER (the policy file\'s owners: what each has to do)');
    const rows = new Map([...report.stragglers, ...report.readyToCleanUp].map((s) => [s.id, s]));
    for (const g of report.byOwner) {
      out.push(`  ${g.label}: ${plural(g.namespaces, 'namespace')}, ${plural(g.stragglers.length, 'straggler')}, ${g.readyToCleanUp.length.toLocaleString('en-US')} to clean up`);
      list([...g.stragglers, ...g.readyToCleanUp].map((id) => rows.get(id)).filter((s): s is Straggler => s !== undefined), (s) => `${s.cluster}/${s.namespace} ${s.serviceAccount} (${roleLabel(s.role)}): ${s.nextStep}`, '    ');
    }
  }

  out.push('', `STRAGGLERS (still assuming roles through IRSA: ${report.totals.stragglers})`);
  if (report.stragglers.length === 0) out.push('  none: no service account assumed a role through IRSA within the active window');
  for (const group of byNextStep(report.stragglers)) {
    out.push('', `  ${group.title} (${group.rows.length})`, `  ${NEXT_STEP_HELP[group.step]}`);
    tableOf(
      ['CLUSTER', 'NAMESPACE', 'SERVICE ACCOUNT', 'ROLE', 'LAST IRSA', 'LAST POD IDENTITY', 'ASSOCIATION'],
      group.rows.map((s) => [
        s.cluster,
        s.namespace,
        s.serviceAccount,
        roleLabel(s.role),
        timeAndAge(s.lastIrsa, report.asOf),
        shortTime(s.lastPodIdentity),
        s.hasAssociation ? 'yes' : 'no',
      ]),
      '    ',
    );
    out.push('    steps (what `cutover-watch plan` prints; check each command before you run it):');
    stepsOf(group.rows, '      ');
  }

  out.push('', `READY TO CLEAN UP (soak complete: ${report.totals.readyToCleanUp})`);
  if (report.readyToCleanUp.length === 0) out.push('  none yet');
  else {
    out.push(`  ${NEXT_STEP_HELP['clean-up']}`);
    tableOf(CLEAN_UP_COLUMNS.map(upper), cleanUpRows(report));
    out.push('  steps (what `cutover-watch plan` prints; check each command before you run it):');
    stepsOf(report.readyToCleanUp, '    ');
  }

  out.push('', 'NAMESPACES');
  tableOf(NAMESPACE_COLUMNS.map(upper), namespaceRows(report));
  // Every line is one line: whatever a name carries (ESC, a line break, bidi) is shown, not obeyed.
  return `${out.map(displaySafe).join('\n')}\n`;
}

export function changesTitle(c: ReportChanges): string {
  return c.previousAsOf === null ? 'CHANGES: this is the first report, there is no previous one to compare with' : `CHANGES SINCE THE REPORT AS OF ${shortTime(c.previousAsOf)} UTC`;
}

function changesText(c: ReportChanges, out: string[], list: <T>(rows: readonly T[], line: (row: T) => string, indent?: string) => void): void {
  if (c.previousAsOf === null) return;
  for (const note of c.notes) out.push(`  note: ${note}`);
  if (!hasChanges(c)) {
    out.push('  no verdict changed and no straggler came or went');
    return;
  }
  const ns = (title: string, rows: ReportChanges['newlyReady']) => {
    if (rows.length === 0) return;
    out.push(`  ${title} (${rows.length}):`);
    list(rows, (r) => `${r.cluster}/${r.namespace}  ${verdictMove(r.from, r.to)}`, '    ');
  };
  const st = (title: string, rows: ReportChanges['newStragglers']) => {
    if (rows.length === 0) return;
    out.push(`  ${title} (${rows.length}):`);
    list(rows, (r) => `${r.cluster}/${r.namespace}  ${r.serviceAccount}  ${roleLabel(r.role)}`, '    ');
  };
  ns('newly READY', c.newlyReady);
  ns('regressions', c.regressions);
  ns('moved forward', c.progressed);
  ns('new namespaces', c.newNamespaces);
  ns('namespaces no longer seen', c.goneNamespaces);
  st('new stragglers', c.newStragglers);
  st('stragglers gone', c.resolvedStragglers);
}

/** Cuts at a UTF-8 boundary, on a line end, with a last line that says so. */
function truncateBytes(text: string, maxBytes: number): string {
  const note = '\n… cut to fit the message size limit (every row: --format csv, json or html)\n';
  const room = maxBytes - Buffer.byteLength(note, 'utf8');
  let cut = Buffer.from(text, 'utf8').subarray(0, Math.max(0, room)).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  const lastLine = cut.lastIndexOf('\n');
  return `${lastLine > 0 ? cut.slice(0, lastLine) : cut}${note}`;
}

const upper = (header: string): string => header.toUpperCase();
