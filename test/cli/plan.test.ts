/**
 * `cutover-watch plan` on the demo store (in this process), and the promise behind it: the steps
 * for a service account are the same wherever they are shown — plan (text, md, json, sh), every
 * report format, and `readiness --reasons`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationPlanDocument, PlanStep } from '../../functions/core/plan';
import type { PlannedStraggler, ReportDocument } from '../../functions/core/report';
import { DEMO_DIR, DEMO_END, demoInto } from '../support/demo';
import { holdStore, runInProcess, type Run } from '../support/spawn-cli';

let work: string;
const store = DEMO_DIR;
const inProcess = (args: string[]): Promise<Run> => runInProcess(args, { cwd: work });
const plan = (...args: string[]) => inProcess(['plan', '--store', store, '--as-of', DEMO_END, ...args]);
const report = (...args: string[]) => inProcess(['report', '--store', store, '--as-of', DEMO_END, ...args]);

let planJson: MigrationPlanDocument & { schemaVersion: number };
/** `report -o json`: the model with each row's plan. */
let reportJson: ReportDocument;

/** The demo store, held open by this file: every command here only reads it (see holdStore). */
let held: { letGo(): Promise<void> } | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'cw-cli-plan-'));
  const demo = await demoInto(work, { without: ['logs', 'late', 'reports'] });
  if (demo.code !== 0) throw new Error(`demo failed: ${demo.stderr}`);
  held = await holdStore(path.join(work, store));
  const p = await plan('-o', 'json');
  if (p.code !== 0) throw new Error(p.stderr);
  planJson = JSON.parse(p.stdout);
  const r = await report('-o', 'json');
  if (r.code !== 0) throw new Error(r.stderr);
  reportJson = JSON.parse(r.stdout);
}, 180_000);
afterAll(async () => {
  await held?.letGo();
  await rm(work, { recursive: true, force: true });
});

const unentity = (text: string) => text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
const runsOf = (steps: readonly PlanStep[]) => steps.flatMap((s) => s.commands.map((c) => c.run));
const allSteps = (p: MigrationPlanDocument) => p.clusters.flatMap((c) => [...c.before, ...c.namespaces.flatMap((n) => n.serviceAccounts.flatMap((s) => s.steps)), ...c.after]);

/** One row of the demo's report per next step (create the association, check the trust, restart, clean up). */
function oneOfEach(): PlannedStraggler[] {
  const rows = [...reportJson.stragglers, ...reportJson.readyToCleanUp];
  return (['create-association', 'check-trust-policy', 'restart-pods', 'clean-up'] as const).map((step) => rows.find((r) => r.nextStep === step)!);
}

describe('cutover-watch plan on the demo', () => {
  it('-o json: schemaVersion, every cluster with work, complete commands (region, context), the provider of the READY cluster', () => {
    expect(planJson.schemaVersion).toBe(1);
    expect(planJson.kind).toBe('cutover-watch-plan');
    expect(planJson.clusters.map((c) => [c.cluster, c.oidcVerdict])).toEqual([
      ['legacy-batch', 'NOT_STARTED'],
      ['payments-prod', 'NOT_STARTED'],
      ['search-prod', 'READY'],
    ]);
    const runs = runsOf(allSteps(planJson));
    for (const create of runs.filter((r) => r.includes('create-pod-identity-association'))) expect(create).toMatch(/ --region (us-east-1|us-west-2|eu-west-1)$/);
    for (const kubectl of runs.filter((r) => r.startsWith('kubectl'))) expect(kubectl).toMatch(/^kubectl --context arn:aws:eks:[a-z0-9-]+:\d{12}:cluster\/[a-z-]+ /);
    const search = planJson.clusters.find((c) => c.cluster === 'search-prod')!;
    expect(search.after.map((s) => s.kind)).toEqual(['delete-oidc-provider']);
    expect(runsOf(search.after)[0]).toBe(`cutover-watch readiness --store ${path.join(work, store)} -c search-prod --require READY`);
    expect(runsOf(search.after)[1]).toMatch(/^aws iam delete-open-id-connect-provider --open-id-connect-provider-arn arn:aws:iam::111122223333:oidc-provider\/oidc\.eks\.us-west-2\.amazonaws\.com\/id\/[0-9A-F]{32}$/);
    expect(planJson.totals.steps).toBe(allSteps(planJson).length);
  });

  it('-o sh passes bash -n, and outside comments every command that changes something is behind a confirm', async () => {
    const sh = await plan('-o', 'sh');
    expect(sh.code, sh.stderr).toBe(0);
    expect(() => execFileSync('bash', ['-n'], { input: sh.stdout })).not.toThrow();
    const changing = /\b(update-assume-role-policy|create-pod-identity-association|delete-open-id-connect-provider|rollout restart|annotate serviceaccount|migrate-to-pod-identity)\b/;
    let guarded = false;
    const unguarded: string[] = [];
    for (const line of sh.stdout.split('\n').map((l) => l.trim())) {
      if (line.startsWith('#')) continue;
      if (line.startsWith('if confirm ')) guarded = true;
      else if (line === 'fi') guarded = false;
      else if (!guarded && changing.test(line)) unguarded.push(line);
    }
    expect(unguarded).toEqual([]);
    expect(sh.stdout).toContain('set -euo pipefail');
  });

  it('--profile and --context-template reach every aws and kubectl command', async () => {
    const r = await plan('-o', 'json', '-c', 'payments-prod', '--profile', 'admin-{account}', '--context-template', '{cluster}');
    expect(r.code, r.stderr).toBe(0);
    const runs = runsOf(allSteps(JSON.parse(r.stdout)));
    expect(runs.filter((l) => l.startsWith('aws ')).every((l) => l.includes('--profile admin-111122223333'))).toBe(true);
    expect(runs.filter((l) => l.startsWith('kubectl ')).every((l) => l.startsWith('kubectl --context payments-prod -n '))).toBe(true);
  });

  it('a -c that matches nothing is exit 2 naming the known clusters; a bad --profile is a usage error', async () => {
    const none = await plan('-c', 'nope');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no cluster matches 'nope' \(known: legacy-batch, payments-prod, search-prod\)/);
    const bad = await plan('--profile', 'a b');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--profile');
  });
});

describe('one source: the same steps for one service account everywhere', () => {
  it('plan json, report json and csv carry the same steps and commands', async () => {
    const csv = await report('-o', 'csv');
    for (const row of oneOfEach()) {
      const sa = planJson.clusters
        .find((c) => c.clusterId === row.clusterId)!
        .namespaces.find((n) => n.namespace === row.namespace)!
        .serviceAccounts.find((s) => s.serviceAccount === row.serviceAccount && s.role === row.role)!;
      expect(sa.steps, `${row.namespace}/${row.serviceAccount}`).toEqual(row.steps);
      expect(runsOf(sa.steps)).toEqual(row.commands);
      // the csv cell holds the commands one a line (quoted, with "" for ")
      for (const command of row.commands) expect(csv.stdout).toContain(command.replaceAll('"', '""'));
    }
  });

  it('the text and Markdown reports, plan text and readiness --reasons print each of its commands', async () => {
    const outputs = {
      'report text': (await report()).stdout,
      // Markdown shows commands in <pre>, with entities for what HTML or Markdown would act on
      'report md': unentity((await report('-o', 'md')).stdout),
      'plan text': (await plan()).stdout,
      'plan md': unentity((await plan('-o', 'md')).stdout),
      'readiness --reasons': (await inProcess(['readiness', '--store', store, '--as-of', DEMO_END, '--reasons', '--all'])).stdout,
    };
    for (const row of oneOfEach()) {
      for (const [where, text] of Object.entries(outputs)) {
        for (const command of row.commands) expect(text, `${where}: ${row.namespace}/${row.serviceAccount}`).toContain(command);
      }
    }
  });
});

describe('owners', () => {
  it('plan --by owner and report --by owner group by the policy file\'s owners', async () => {
    await writeFile(
      path.join(work, 'owners.policy.json'),
      JSON.stringify({ owners: [{ cluster: 'legacy-*', team: 'batch', email: 'batch@example.com', slack: '#batch' }, { cluster: 'payments-prod', namespaces: ['orders', 'risk'], team: 'payments-core', ticketProject: 'PAY' }] }),
    );
    const p = await plan('--by', 'owner', '--policy', 'owners.policy.json');
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout.split('\n').filter((l) => l.startsWith('OWNER '))).toEqual(['OWNER batch (batch@example.com, #batch)', 'OWNER payments-core (PAY)', 'OWNER (no owner)']);
    const r = await report('-o', 'json', '--by', 'owner', '--policy', 'owners.policy.json');
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as typeof reportJson;
    expect(m.byOwner!.map((g) => g.label)).toEqual(['batch (batch@example.com, #batch)', 'payments-core (PAY)', '(no owner)']);
    expect(m.stragglers.filter((s) => s.cluster === 'legacy-batch').every((s) => s.owner?.team === 'batch')).toBe(true);
    const text = await report('--by', 'owner', '--policy', 'owners.policy.json');
    expect(text.stdout).toMatch(/BY OWNER[\s\S]*batch \(batch@example\.com, #batch\): 6 namespaces, 8 stragglers/);
  });

  it('a bad owners entry is exit 2 naming the file and the field', async () => {
    await writeFile(path.join(work, 'bad.policy.json'), JSON.stringify({ owners: [{ team: 'x', email: 'not-an-email' }] }));
    const r = await plan('--policy', 'bad.policy.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.policy\.json: owners\.0\.email: /);
  });
});
