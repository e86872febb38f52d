import { displaySafe } from '../display';
import { VERDICT_ORDER } from '../readiness';
import type { PlanStep } from '../plan';
import type { PreflightFinding } from '../preflight';
import { stragglerPlan, type ReportChanges, type Straggler, type StragglerReport } from '../report';
import { byNextStep, CLEAN_UP_COLUMNS, cleanUpRows, NAMESPACE_COLUMNS, namespaceRows, hasChanges, headline, NEXT_STEP_HELP, roleLabel, settingsLine, shortTime, timeAndAge, verdictMove, evidenceLine, filtersLine, unknownLines } from './common';

/** GitHub-flavoured Markdown for a ticket or a wiki page: headings, tables, every value escaped. */
export function renderMarkdown(report: StragglerReport): string {
  return [...markdownLines(report)].join('');
}

/**
 * `renderMarkdown`'s text a line at a time, each with its line break: what the CLI writes without
 * holding the text whole (at 40,000 namespaces, 11 MB and the copies a join and a trim make of it).
 */
export function markdownLines(report: StragglerReport): Generator<string> {
  const out: string[] = [];
  const table = (head: string[], rows: string[][]) => {
    out.push(`| ${head.map(md).join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`);
    for (const row of rows) out.push(`| ${row.map(md).join(' | ')} |`);
    out.push('');
  };

  out.push('# IRSA → EKS Pod Identity straggler report', '', md(settingsLine(report)), '');
  const filtered = filtersLine(report);
  if (filtered !== null) out.push(`**${md(filtered)}**`, '');
  out.push(md(evidenceLine(report)), '');
  for (const line of headline(report)) out.push(`- ${md(line)}`);
  out.push('');
  const unknown = unknownLines(report);
  if (unknown.length > 0) {
    out.push(`## Cannot tell (UNKNOWN: ${unknown.length})`, '');
    for (const line of unknown) out.push(`- ${md(line)}`);
    out.push('');
  }
  if (report.namespaces.length === 0) out.push('No IRSA or Pod Identity evidence yet: run `cutover-watch analyze PATH`.', '');

  out.push('## Changes since the previous report', '');
  changes(report.changes, out);

  out.push('## Clusters', '');
  table(
    ['Cluster', 'OIDC provider', ...VERDICT_ORDER, 'Stragglers', 'Next step'],
    report.clusters.map((c) => [c.cluster, c.verdict, ...VERDICT_ORDER.map((v) => String(c.namespaceCounts[v])), String(c.stragglers), c.oidcIssuer ? `${c.nextStep} (issuer ${c.oidcIssuer})` : c.nextStep]),
  );
  for (const c of report.clusters) {
    if (c.steps.before.length + c.steps.after.length === 0) continue;
    out.push(`**${md(c.cluster)}**`, '');
    if (c.steps.before.length > 0) out.push('Before any namespace (cluster-wide):', '', ...stepsMarkdown(c.steps.before));
    if (c.steps.after.length > 0) out.push('After every namespace:', '', ...stepsMarkdown(c.steps.after));
  }
  const warnings = [...report.clusters.flatMap((c) => c.warnings.map((w) => ({ where: c.cluster, w }))), ...report.warnings.map((w) => ({ where: 'no known cluster', w }))];
  if (warnings.length > 0) {
    out.push('**Warnings**', '');
    for (const { where, w } of warnings) out.push(`- ${md(where)}: ${md(w.message)}${w.last ? ` (last ${md(shortTime(w.last))})` : ''}`);
    out.push('');
  }

  if (report.byOwner) {
    out.push('## By owner', '');
    const rows = new Map([...report.stragglers, ...report.readyToCleanUp].map((s) => [s.id, s]));
    for (const g of report.byOwner) {
      out.push(`### ${md(g.label)}`, '', `${g.namespaces} namespaces, ${g.stragglers.length} stragglers, ${g.readyToCleanUp.length} to clean up`, '');
      for (const id of [...g.stragglers, ...g.readyToCleanUp]) {
        const s = rows.get(id);
        if (s) out.push(`- ${md(`${s.cluster}/${s.namespace} ${s.serviceAccount} (${roleLabel(s.role)}): ${s.nextStep}`)}`);
      }
      out.push('');
    }
  }

  out.push(`## Stragglers (${report.totals.stragglers})`, '');
  if (report.stragglers.length === 0) out.push('None: no service account assumed a role through IRSA within the active window.', '');
  for (const group of byNextStep(report.stragglers)) {
    out.push(`### Next step: ${md(group.title)} (${group.rows.length})`, '', md(NEXT_STEP_HELP[group.step]), '');
    table(
      ['Cluster', 'Namespace', 'Service account', 'Role', 'Last IRSA', 'Last Pod Identity', 'Association'],
      group.rows.map((s) => [s.cluster, s.namespace, s.serviceAccount, roleLabel(s.role), timeAndAge(s.lastIrsa, report.asOf), shortTime(s.lastPodIdentity), s.hasAssociation ? 'yes' : 'no']),
    );
    rowSteps(group.rows, report.preflight, out);
  }

  out.push(`## Ready to clean up (${report.totals.readyToCleanUp})`, '');
  if (report.readyToCleanUp.length === 0) out.push('None yet.', '');
  else {
    out.push(md(NEXT_STEP_HELP['clean-up']), '');
    table(CLEAN_UP_COLUMNS, cleanUpRows(report));
    rowSteps(report.readyToCleanUp, report.preflight, out);
  }

  out.push('## Namespaces', '');
  table(NAMESPACE_COLUMNS, namespaceRows(report));
  // `md` already escaped every value; this keeps any line that did not go through it one line too.
  return endTrimmed(out, displaySafe);
}

/**
 * `${lines.map(each).join('\n').trimEnd()}\n`, a line (with its \n) at a time: the lines after
 * the last one with text wait until another with text comes, or are dropped at the end.
 */
export function* endTrimmed(lines: Iterable<string>, each: (line: string) => string): Generator<string> {
  // the last line with text (if any yet), then the blank lines after it
  let held: string[] = [];
  let text = false;
  for (const raw of lines) {
    const line = each(raw);
    if (line.trimEnd() === '') {
      held.push(line);
      continue;
    }
    for (const h of held) yield `${h}\n`;
    held = [line];
    text = true;
  }
  yield text ? `${held[0]!.trimEnd()}\n` : '\n';
}

/** Each row's steps under a collapsed `<details>`: the same steps `cutover-watch plan -o md` prints. */
function rowSteps(rows: readonly Straggler[], preflight: readonly PreflightFinding[], out: string[]): void {
  for (const s of rows.slice(0, MD_STEPS_ROWS)) {
    const { steps } = stragglerPlan(s, preflight);
    out.push(`<details><summary>${md(`${s.cluster}/${s.namespace} ${s.serviceAccount} (${roleLabel(s.role)})`)}: ${steps.length} steps</summary>`, '', ...stepsMarkdown(steps), '</details>', '');
  }
  if (rows.length > MD_STEPS_ROWS) out.push(`The steps of the other ${(rows.length - MD_STEPS_ROWS).toLocaleString('en-US')} rows: \`cutover-watch plan -o md\` (or this report as csv, json or html).`, '');
}

/** Rows whose steps a Markdown report spells out per group: a wiki page of 20,000 would be tens of MB. */
export const MD_STEPS_ROWS = 200;

/**
 * Numbered steps, the commands of each in an HTML `<pre>` block: its content is never read as
 * Markdown, and every character HTML or Markdown could act on is an entity, so a name's backtick
 * or `</pre>` is shown as written and the command is copied exactly.
 */
export function stepsMarkdown(steps: readonly PlanStep[]): string[] {
  const out: string[] = [];
  steps.forEach((s, i) => {
    out.push(`${i + 1}. ${md(s.title)}`, '');
    const body = [...s.commands.map((c) => c.run), ...(s.document !== undefined ? [`# statement: ${JSON.stringify(s.document)}`] : [])];
    // One line each (every line is made display-safe again at the end); the list item's indent is not part of the block.
    if (body.length > 0) out.push(...body.map((line, j) => `   ${j === 0 ? '<pre><code>' : ''}${preText(line)}${j === body.length - 1 ? '</code></pre>' : ''}`), '');
    for (const n of s.notes) out.push(`   > ${md(n)}`, '');
  });
  return out;
}

/** Text for inside `<pre>`: display-safe, then `& < > " ' \`` as entities. */
export function preText(value: string): string {
  return displaySafe(value).replace(/[&<>"'`]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function changes(c: ReportChanges, out: string[]): void {
  if (c.previousAsOf === null) {
    out.push('This is the first report: there is no previous one to compare with.', '');
    return;
  }
  out.push(`Compared with the report as of ${md(shortTime(c.previousAsOf))} UTC.`, '');
  for (const note of c.notes) out.push(`> ${md(note)}`, '');
  if (!hasChanges(c)) {
    out.push('No verdict changed and no straggler came or went.', '');
    return;
  }
  const ns = (title: string, rows: ReportChanges['newlyReady']) => {
    if (rows.length > 0) out.push(`- **${title}** (${rows.length}): ${rows.map((r) => `${md(r.cluster)}/${md(r.namespace)} (${md(verdictMove(r.from, r.to))})`).join(', ')}`);
  };
  const st = (title: string, rows: ReportChanges['newStragglers']) => {
    if (rows.length > 0) out.push(`- **${title}** (${rows.length}): ${rows.map((r) => `${md(r.cluster)}/${md(r.namespace)} ${md(r.serviceAccount)} (${md(roleLabel(r.role))})`).join(', ')}`);
  };
  ns('Newly READY', c.newlyReady);
  ns('Regressions', c.regressions);
  ns('Moved forward', c.progressed);
  ns('New namespaces', c.newNamespaces);
  ns('Namespaces no longer seen', c.goneNamespaces);
  st('New stragglers', c.newStragglers);
  st('Stragglers gone', c.resolvedStragglers);
  out.push('');
}

/**
 * One table cell or inline text: control, bidi and invisible characters are written out
 * (`displaySafe`: a line break cannot end the cell), HTML is escaped (GitHub renders inline
 * HTML), and so is the Markdown punctuation that could start emphasis, code, a link or a cell
 * (`_` only at a word's edge: GFM never emphasises inside a word like NOT_STARTED). The
 * backslashes of `\x1b` are escaped too, so the page shows them.
 */
export function md(value: string): string {
  return displaySafe(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*[\]|~])/g, '\\$1')
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\_');
}
