import { displaySafe, shellQuote } from './display';
import type { MigrationPlan, PlanCluster, PlanNamespace, PlanStep } from './plan';
import { ownerLabel } from './policy';
import { endTrimmed, md, stepsMarkdown } from './report-render/markdown';

/**
 * How `cutover-watch plan` prints a plan: text for a terminal, Markdown for a ticket, and a bash
 * script a person reviews and runs. Every name went through `shellCommand` where the commands were
 * built; here each line is also made display-safe (a name's ESC or line break is shown, not obeyed).
 */

const EFFECT_WORDS: Record<PlanStep['effect'], string> = {
  read: 'reads only',
  local: 'local files only',
  change: 'changes something',
  destructive: 'destructive',
};

/** Where a step's AWS commands run: `account 111122223333, us-east-1`. */
function placeOf(step: PlanStep): string {
  return [step.account ? `account ${step.account}` : null, step.region].filter((p) => p !== null).join(', ');
}

function header(plan: MigrationPlan): string[] {
  const t = plan.totals;
  return [
    `cutover-watch plan · as of ${plan.asOf.slice(0, 16).replace('T', ' ')} UTC · ${t.serviceAccounts} service account${t.serviceAccounts === 1 ? '' : 's'} in ${t.namespaces} namespace${t.namespaces === 1 ? '' : 's'} of ${t.clusters} cluster${t.clusters === 1 ? '' : 's'} · ${t.steps} steps (${t.changes} change something, ${t.preflight} preflight)`,
    `Printed, never run: check each command before you run it. kubectl context per cluster: ${plan.options.contextTemplate}; aws: ${plan.options.profile ? `--profile ${plan.options.profile}` : 'the default credentials, in the account each step names'}.`,
  ];
}

/** Namespaces grouped by owner (teams by name, then the unowned), each with its cluster: the `--by owner` order. */
function byOwner(plan: MigrationPlan): { label: string; rows: { cluster: PlanCluster; namespace: PlanNamespace }[] }[] {
  const groups = new Map<string, { label: string; unowned: boolean; rows: { cluster: PlanCluster; namespace: PlanNamespace }[] }>();
  for (const cluster of plan.clusters.elements()) {
    for (const namespace of cluster.namespaces) {
      const label = ownerLabel(namespace.owner);
      const g = groups.get(label) ?? { label, unowned: namespace.owner === null, rows: [] };
      g.rows.push({ cluster, namespace });
      groups.set(label, g);
    }
  }
  return [...groups.values()].sort((a, b) => Number(a.unowned) - Number(b.unowned) || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

const clusterTitle = (c: PlanCluster) =>
  `${c.cluster} (${[c.account ? `account ${c.account}` : null, c.region].filter(Boolean).join(', ') || 'account and region unknown'}; kubectl --context ${c.context}) · OIDC provider ${c.oidcVerdict}`;

// ---------------------------------------------------------------------------------------------
// text

/**
 * Numbered steps as plain lines (title, why, each command indented to paste, the statement, the
 * notes): what `plan`, `readiness --reasons` and the text report print, so they read alike.
 */
export function stepLines(list: readonly PlanStep[], indent: string, options: { why?: boolean } = {}): string[] {
  const out: string[] = [];
  list.forEach((s, i) => {
    out.push(`${indent}${i + 1}. ${s.title} [${EFFECT_WORDS[s.effect]}${placeOf(s) ? `; ${placeOf(s)}` : ''}]`);
    if (options.why !== false) out.push(`${indent}   why: ${s.why}`);
    for (const c of s.commands) out.push(`${indent}     ${c.run}`);
    if (s.document !== undefined) out.push(`${indent}   statement: ${JSON.stringify(s.document)}`);
    for (const n of s.notes) out.push(`${indent}   note: ${n}`);
  });
  return out.map(displaySafe);
}

export function renderPlanText(plan: MigrationPlan, options: { byOwner?: boolean } = {}): string {
  return [...planTextPieces(plan, options)].join('');
}

/** `renderPlanText`'s text in pieces of whole lines, a namespace at a time (the clusters are made one at a time: `MigrationPlan.clusters`). */
export function* planTextPieces(plan: MigrationPlan, options: { byOwner?: boolean } = {}): Generator<string> {
  let out: string[] = [...header(plan)];
  const written = () => {
    const piece = `${out.map(displaySafe).join('\n')}\n`;
    out = [];
    return piece;
  };
  if (plan.totals.clusters === 0) out.push('', 'nothing to do: no service account still uses IRSA or is ready to clean up, and no preflight finding');
  const steps = (list: readonly PlanStep[], indent: string) => {
    out.push(...stepLines(list, indent));
  };
  const namespaceBlock = (n: PlanNamespace, indent: string, withOwner: boolean) => {
    out.push(`${indent}${n.namespace}  ${n.verdict}${withOwner ? `  owner: ${ownerLabel(n.owner)}` : ''}`);
    for (const sa of n.serviceAccounts) {
      out.push(`${indent}  ${sa.serviceAccount} (role ${sa.role ?? 'unknown'}): ${sa.nextStep}`);
      steps(sa.steps, `${indent}    `);
    }
  };
  const clusterEnds = (c: PlanCluster, which: 'before' | 'after', indent: string) => {
    const list = c[which];
    if (list.length === 0) return;
    out.push(`${indent}${which === 'before' ? 'before any namespace (cluster-wide)' : 'after every namespace'}:`);
    steps(list, `${indent}  `);
  };
  if (options.byOwner) {
    for (const group of byOwner(plan)) {
      out.push('', `OWNER ${group.label}`);
      let last: PlanCluster | null = null;
      for (const { cluster, namespace } of group.rows) {
        if (cluster !== last) out.push(`  ${clusterTitle(cluster)}`);
        last = cluster;
        namespaceBlock(namespace, '    ', false);
        yield written();
      }
    }
    const wide = clusterWide(plan);
    if (wide.length > 0) out.push('', 'CLUSTER-WIDE (the platform team)');
    for (const c of wide) {
      out.push(`  ${clusterTitle(c)}`);
      clusterEnds(c, 'before', '    ');
      clusterEnds(c, 'after', '    ');
    }
  } else {
    for (const c of plan.clusters.elements()) {
      out.push('', clusterTitle(c));
      clusterEnds(c, 'before', '  ');
      for (const n of c.namespaces) {
        namespaceBlock(n, '  ', n.owner !== null);
        yield written();
      }
      clusterEnds(c, 'after', '  ');
      if (out.length > 0) yield written();
    }
  }
  if (out.length > 0) yield written();
}

/** The clusters with cluster-wide steps, without their namespaces (the `--by owner` plan lists those by owner). */
function clusterWide(plan: MigrationPlan): PlanCluster[] {
  const wide: PlanCluster[] = [];
  for (const c of plan.clusters.elements()) if (c.before.length + c.after.length > 0) wide.push({ ...c, namespaces: [] });
  return wide;
}

// ---------------------------------------------------------------------------------------------
// Markdown

export function renderPlanMarkdown(plan: MigrationPlan, options: { byOwner?: boolean } = {}): string {
  return [...planMarkdownPieces(plan, options)].join('');
}

/** `renderPlanMarkdown`'s text a line (with its line break) at a time, the clusters made one at a time. */
export function planMarkdownPieces(plan: MigrationPlan, options: { byOwner?: boolean } = {}): Generator<string> {
  return endTrimmed(planMarkdownLines(plan, options), displaySafe);
}

function* planMarkdownLines(plan: MigrationPlan, options: { byOwner?: boolean }): Generator<string> {
  const [title, note] = header(plan);
  let out: string[] = ['# IRSA → EKS Pod Identity: migration plan', '', md(title!), '', md(note!), ''];
  const written = () => {
    const lines = out;
    out = [];
    return lines;
  };
  if (plan.totals.clusters === 0) out.push('Nothing to do: no service account still uses IRSA or is ready to clean up, and no preflight finding.', '');
  // The report's Markdown renders steps the same way: one source for how a step reads.
  const steps = (list: readonly PlanStep[]) => {
    out.push(...stepsMarkdown(list));
  };
  const namespaceBlock = (n: PlanNamespace, level: string, withOwner: boolean) => {
    out.push(`${level} ${md(n.namespace)} (${n.verdict})`, '');
    if (withOwner) out.push(`Owner: ${md(ownerLabel(n.owner))}`, '');
    for (const sa of n.serviceAccounts) {
      out.push(`**${md(sa.serviceAccount)}** (role ${md(sa.role ?? 'unknown')}): ${md(sa.nextStep)}`, '');
      steps(sa.steps);
    }
  };
  const clusterEnds = (c: PlanCluster, which: 'before' | 'after', level: string) => {
    if (c[which].length === 0) return;
    out.push(`${level} ${which === 'before' ? 'Before any namespace (cluster-wide)' : 'After every namespace'}`, '');
    steps(c[which]);
  };
  if (options.byOwner) {
    for (const group of byOwner(plan)) {
      out.push(`## Owner: ${md(group.label)}`, '');
      let last: PlanCluster | null = null;
      for (const { cluster, namespace } of group.rows) {
        if (cluster !== last) out.push(`### ${md(clusterTitle(cluster))}`, '');
        last = cluster;
        namespaceBlock(namespace, '####', false);
        yield* written();
      }
    }
    const wide = clusterWide(plan);
    if (wide.length > 0) out.push('## Cluster-wide (the platform team)', '');
    for (const c of wide) {
      out.push(`### ${md(clusterTitle(c))}`, '');
      clusterEnds(c, 'before', '####');
      clusterEnds(c, 'after', '####');
    }
  } else {
    for (const c of plan.clusters.elements()) {
      out.push(`## ${md(clusterTitle(c))}`, '');
      clusterEnds(c, 'before', '###');
      for (const n of c.namespaces) {
        namespaceBlock(n, '###', n.owner !== null);
        yield* written();
      }
      clusterEnds(c, 'after', '###');
      yield* written();
    }
  }
  yield* written();
}

// ---------------------------------------------------------------------------------------------
// bash

/**
 * A script to review, then run: `set -euo pipefail`; reads (get-role, kubectl get, eksctl without
 * --approve) and local edits (jq into a fresh temporary folder) run as they are; every command
 * that changes something is inside `if confirm …; then … fi` (no terminal: no); destructive
 * ones are commented out, to uncomment once the gate before them passes. Every step is preceded
 * by why it is there. Running it with nothing typed changes nothing in AWS or the clusters.
 */
export function renderPlanScript(plan: MigrationPlan): string {
  return [...planScriptPieces(plan)].join('');
}

/** `renderPlanScript`'s text in pieces of whole lines, a namespace at a time. */
export function* planScriptPieces(plan: MigrationPlan): Generator<string> {
  let out: string[] = [
    '#!/usr/bin/env bash',
    ...header(plan).map((l) => `# ${l}`),
    '#',
    '# Review this script before you run it. Reads run as they are; every command that changes something',
    '# asks first (y to run it, anything else skips it; with no terminal nothing is asked and nothing runs);',
    '# destructive commands are commented out: uncomment them once the gate printed before them passes.',
    'set -euo pipefail',
    '',
    '# y/N on the terminal; false without one, so a script run from a pipeline changes nothing.',
    'confirm() {',
    '  local answer',
    '  [[ -r /dev/tty ]] || return 1',
    '  read -r -p "$1 [y/N] " answer </dev/tty || return 1',
    '  [[ $answer == y || $answer == Y ]]',
    '}',
    '',
    '# Stops before any AWS command runs in the wrong account (sts:GetCallerIdentity reads only).',
    'require_account() {',
    '  local expected=$1 actual',
    '  shift',
    '  actual=$(aws sts get-caller-identity --query Account --output text "$@")',
    '  if [[ $actual != "$expected" ]]; then',
    '    echo "these steps are for account $expected, the credentials are for $actual: set AWS_PROFILE (or pass --profile to cutover-watch plan) and run again" >&2',
    '    exit 1',
    '  fi',
    '}',
    '',
    '# Trust policies are read into and edited in a fresh folder, never in the current one.',
    'workdir=$(mktemp -d "${TMPDIR:-/tmp}/cutover-watch-plan.XXXXXX")',
    'cd "$workdir"',
    'echo "trust policies go to $workdir"',
  ];
  let number = 0;
  let account: string | null = null;
  const comment = (text: string) => `# ${displaySafe(text)}`;
  const emit = (s: PlanStep, where: string) => {
    number += 1;
    out.push('', comment(`step ${number} (${where}): ${s.title} [${EFFECT_WORDS[s.effect]}${placeOf(s) ? `; ${placeOf(s)}` : ''}]`));
    out.push(comment(`why: ${s.why}`));
    if (s.document !== undefined) out.push(comment(`statement: ${JSON.stringify(s.document)}`));
    for (const n of s.notes) out.push(comment(`note: ${n}`));
    if (s.account !== null && s.account !== account && s.commands.some((c) => c.run.startsWith('aws '))) {
      account = s.account;
      out.push(`require_account ${shellQuote(s.account)}${plan.options.profile ? ` --profile ${shellQuote(plan.options.profile.replaceAll('{account}', s.account))}` : ''}`);
    }
    for (const c of s.commands) {
      const line = displaySafe(c.run);
      // An alternative to the steps above (eksctl's migration) is for a person to choose, never run here.
      if (s.kind === 'eksctl-migrate') out.push(comment('an alternative to the steps above, for you to choose: run it by hand'), `# ${line}`);
      else if (c.gate) out.push(`if ${line}; then`, `  echo ${shellQuote(displaySafe(`gate passed: step ${number} may run`))}`, 'else', `  echo ${shellQuote(displaySafe(`gate not passed: skip step ${number}`))} >&2`, 'fi');
      else if (c.effect === 'read' || c.effect === 'local') out.push(line);
      else if (c.effect === 'change') out.push(`if confirm ${shellQuote(displaySafe(`step ${number}: ${s.title}?`))}; then`, `  ${line}`, 'fi');
      else out.push(comment(`destructive: uncomment once ${s.commands.some((x) => x.gate) ? 'the gate above passes' : 'you have reviewed the diff above'}`), `# ${line}`);
    }
  };
  const written = () => {
    const piece = `${out.join('\n')}\n`;
    out = [];
    return piece;
  };
  for (const c of plan.clusters.elements()) {
    out.push('', comment(`== ${clusterTitle(c)}`));
    for (const s of c.before) emit(s, `${c.cluster}, cluster-wide`);
    for (const n of c.namespaces) {
      for (const sa of n.serviceAccounts) {
        out.push('', comment(`-- ${c.cluster} ${n.namespace}/${sa.serviceAccount} (${n.verdict}${n.owner ? `, owner ${ownerLabel(n.owner)}` : ''}): ${sa.nextStep}`));
        for (const s of sa.steps) emit(s, `${n.namespace}/${sa.serviceAccount}`);
      }
      if (out.length > 0) yield written();
    }
    for (const s of c.after) emit(s, `${c.cluster}, after every namespace`);
    if (out.length > 0) yield written();
  }
  out.push('', 'echo "done: the plan asked before each change; run cutover-watch readiness to follow the verdicts"');
  yield written();
}
