import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildPlan, serviceAccountSteps, type MigrationPlan, type PlanCluster, type PlanStep, type StepSubject } from '../../functions/core/plan';
import { renderPlanMarkdown, renderPlanScript, renderPlanText } from '../../functions/core/plan-render';
import type { PreflightFinding } from '../../functions/core/preflight';
import { stragglerPlan } from '../../functions/core/report';
import { groupByOwnerForTest, ownedReport, stragglerOf, tinyReport } from '../support/plan-fixtures';

const ACCOUNT = '111122223333';
const OTHER = '444455556666';
const ARN = `arn:aws:eks:us-east-1:${ACCOUNT}:cluster/payments`;
const ISSUER = 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789';
/** The plan's clusters, made. */
const clustersOf = (plan: MigrationPlan): PlanCluster[] => [...plan.clusters.elements()];
const role = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:role/${name}`;

const subject = (over: Partial<StepSubject> = {}): StepSubject => ({
  clusterArn: ARN,
  clusterName: 'payments',
  oidcIssuer: ISSUER,
  namespace: 'orders',
  serviceAccount: 'orders-api',
  role: role('orders-api-irsa'),
  nextStep: 'create-association',
  associationRole: null,
  hasAssociation: false,
  ...over,
});

/** A preflight finding as core/preflight.ts shapes them (the real checks land with the preflight branch). */
function finding(over: Partial<PreflightFinding> & Pick<PreflightFinding, 'kind'>): PreflightFinding {
  return {
    severity: 'blocker',
    clusterArn: ARN,
    cluster: 'payments',
    account: ACCOUNT,
    region: 'us-east-1',
    namespace: null,
    serviceAccount: null,
    roleArn: null,
    summary: `${over.kind} summary`,
    evidence: `${over.kind} evidence`,
    fix: { text: `fix ${over.kind}`, commands: [] },
    ...over,
  };
}

const kinds = (steps: readonly PlanStep[]) => steps.map((s) => s.kind);
const runs = (steps: readonly PlanStep[]) => steps.flatMap((s) => s.commands.map((c) => c.run));

/** What bash would pass as argv for one simple command line: every word, printed by printf. */
function argvOf(line: string): string[] {
  return execFileSync('bash', ['-c', `printf '%s\\0' ${line.replace(/^\S+ /, '')}`], { encoding: 'utf8' }).split('\0').slice(0, -1);
}

describe('the steps of one service account', () => {
  it('create-association: the role trusts pods.eks.amazonaws.com first, then the association with its region, then a restart of its workloads only', () => {
    const steps = serviceAccountSteps(subject(), [], {});
    expect(kinds(steps)).toEqual(['trust-pod-identity', 'create-association', 'restart-workloads']);
    expect(steps[0]!.document).toEqual({
      Sid: 'AllowEksAuthToAssumeRoleForPodIdentity',
      Effect: 'Allow',
      Principal: { Service: 'pods.eks.amazonaws.com' },
      Action: ['sts:AssumeRole', 'sts:TagSession'],
    });
    expect(steps[0]!.commands.map((c) => c.effect)).toEqual(['read', 'local', 'change']);
    expect(steps[0]!.commands[2]!.run).toBe('aws iam update-assume-role-policy --role-name orders-api-irsa --policy-document file://trust-orders-api-irsa.pod-identity.json');
    expect(steps[1]!.commands[0]!.run).toBe(
      `aws eks create-pod-identity-association --cluster-name payments --namespace orders --service-account orders-api --role-arn ${role('orders-api-irsa')} --region us-east-1`,
    );
    expect(steps[1]).toMatchObject({ account: ACCOUNT, region: 'us-east-1', effect: 'change' });
    const [restart, cronJobs] = steps[2]!.commands;
    expect(restart!.run).toContain(`kubectl --context ${ARN} -n orders get "$kind"`);
    expect(restart!.run).toContain('serviceAccountName=="orders-api"');
    expect(restart!.run).not.toMatch(/rollout restart deployment -n/); // never every Deployment of the namespace
    expect(cronJobs).toMatchObject({ effect: 'read' });
    expect(cronJobs!.run).toContain('.spec.jobTemplate.spec.template.spec.serviceAccountName=="orders-api"');
    expect(steps[2]!.notes.join(' ')).toMatch(/CronJobs and Jobs .* next run/);
  });

  it('restart-pods and check-trust-policy: no association is created again', () => {
    expect(kinds(serviceAccountSteps(subject({ nextStep: 'restart-pods', hasAssociation: true }), [], {}))).toEqual(['restart-workloads']);
    const check = serviceAccountSteps(subject({ nextStep: 'check-trust-policy', hasAssociation: true, associationRole: role('orders-api-pi') }), [], {});
    expect(kinds(check)).toEqual(['trust-pod-identity', 'restart-workloads']);
    // the association's role is the one Pod Identity assumes: its trust is the one to fix
    expect(check[0]!.commands[0]!.run).toContain('--role-name orders-api-pi ');
  });

  it('clean-up: the annotation, then the OIDC statement of exactly this service account (destructive)', () => {
    const steps = serviceAccountSteps(subject({ nextStep: 'clean-up', hasAssociation: true }), [], {});
    expect(kinds(steps)).toEqual(['remove-annotation', 'remove-oidc-statement']);
    expect(steps[0]!.commands[0]!.run).toBe(`kubectl --context ${ARN} -n orders annotate serviceaccount orders-api eks.amazonaws.com/role-arn-`);
    const jq = steps[1]!.commands[1]!.run;
    expect(jq).toContain(`--arg provider arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`);
    expect(jq).toContain('--arg sub system:serviceaccount:orders:orders-api');
    expect(steps[1]!.commands.at(-1)).toMatchObject({ effect: 'destructive' });
  });

  // jq is what the printed commands use; a machine without it cannot check them (say so, do not pass silently)
  const hasJq = (() => {
    try {
      execFileSync('jq', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!hasJq)('the jq edits do what they say on a trust policy as IAM returns it (needs jq)', () => {
    const steps = serviceAccountSteps(subject({ nextStep: 'clean-up', hasAssociation: true }), [], {});
    const add = serviceAccountSteps(subject(), [], {})[0]!.commands[1]!.run;
    const remove = steps[1]!.commands[1]!.run;
    const provider = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;
    const trust = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Federated: provider }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${ISSUER}:sub`]: 'system:serviceaccount:orders:orders-api', [`${ISSUER}:aud`]: 'sts.amazonaws.com' } } },
        { Effect: 'Allow', Principal: { Federated: provider }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${ISSUER}:sub`]: ['system:serviceaccount:other:x'] } } },
      ],
    };
    // the commands read trust-ROLE.json and write beside it: run the jq part on the document
    const jqOf = (line: string) => line.replace(/ > \S+$/, '').replace(/ trust-orders-api-irsa\.json$/, '');
    const run = (line: string, doc: unknown) => JSON.parse(execFileSync('bash', ['-c', jqOf(line)], { input: JSON.stringify(doc), encoding: 'utf8' }));
    const added = run(add, trust);
    expect(added.Statement).toHaveLength(3);
    expect(run(add, added).Statement).toHaveLength(3); // twice is once
    const removed = run(remove, added);
    expect(removed.Statement.map((s: { Condition?: unknown; Principal: unknown }) => s.Principal)).toEqual([{ Federated: provider }, { Service: 'pods.eks.amazonaws.com' }]);
    expect(JSON.stringify(removed)).toContain('system:serviceaccount:other:x');
  });

  it('quotes every name: pasted into a shell, each command runs exactly its argv', () => {
    const odd = subject({ namespace: "ns'x", serviceAccount: 'sa $(touch /tmp/pwned)' });
    const create = serviceAccountSteps(odd, [], {})[1]!.commands[0]!.run;
    expect(argvOf(create)).toEqual([
      'eks', 'create-pod-identity-association', '--cluster-name', 'payments', '--namespace', "ns'x", '--service-account', 'sa $(touch /tmp/pwned)', '--role-arn', role('orders-api-irsa'), '--region', 'us-east-1',
    ]);
  });

  it('--profile (with {account}) goes on every aws command, the context template on every kubectl one', () => {
    const steps = serviceAccountSteps(subject({ role: role('orders-api-irsa', OTHER) }), [], { profile: 'admin-{account}', contextTemplate: '{cluster}-{region}' });
    for (const line of runs(steps).filter((r) => r.startsWith('aws '))) expect(line).toMatch(/--profile admin-\d{12}( |$)/);
    // IAM commands run in the role's account, EKS ones in the cluster's
    expect(steps[0]!.commands[0]!.run).toContain(`--profile admin-${OTHER}`);
    expect(steps[1]!.commands[0]!.run).toContain(`--profile admin-${ACCOUNT}`);
    expect(steps[2]!.commands[0]!.run).toContain('kubectl --context payments-us-east-1 -n orders');
    expect(runs(steps).join('\n')).not.toContain(ARN.replace(/.*:cluster/, 'cluster')); // no ARN context left
  });
});

describe('preflight findings come first', () => {
  const findings = [
    finding({ kind: 'agent-missing', fix: { text: 'install the eks-pod-identity-agent add-on', commands: [['aws', 'eks', 'create-addon', '--cluster-name', 'payments', '--addon-name', 'eks-pod-identity-agent', '--region', 'us-east-1']] } }),
    finding({ kind: 'sdk-too-old', namespace: 'orders', serviceAccount: 'orders-api', fix: { text: 'upgrade the SDK first (botocore 1.34.41 or later)', commands: [['kubectl', 'get', 'pods', '-n', 'orders']] } }),
    finding({ kind: 'trust-no-tag-session', roleArn: role('orders-api-irsa'), fix: { text: 'add sts:TagSession', commands: [['aws', 'iam', 'get-role', '--role-name', 'orders-api-irsa']], document: { Action: ['sts:AssumeRole', 'sts:TagSession'] } } }),
    finding({ kind: 'sdk-too-old', namespace: 'billing', serviceAccount: 'api', fix: { text: 'not ours', commands: [] } }),
    finding({ kind: 'oidc-statement-left', severity: 'cleanup', roleArn: role('orders-api-irsa'), fix: { text: 'clean-up only', commands: [] } }),
  ];

  it('cluster-wide ones before every namespace, a service account\'s own and its role\'s before its switch steps, others nowhere', () => {
    const report = { ...tinyReport([stragglerOf({ namespace: 'orders', serviceAccount: 'orders-api', role: role('orders-api-irsa') })]), preflight: findings };
    const plan = buildPlan(report);
    const [cluster] = clustersOf(plan);
    expect(cluster!.before.map((s) => [s.kind, s.finding, s.effect])).toEqual([['preflight', 'agent-missing', 'change']]);
    expect(cluster!.before[0]!.commands[0]!.run).toBe('aws eks create-addon --cluster-name payments --addon-name eks-pod-identity-agent --region us-east-1');
    const steps = cluster!.namespaces[0]!.serviceAccounts[0]!.steps;
    // the trust finding's fix replaces the plan's own trust edit: one write of the trust policy, not two
    expect(steps.map((s) => s.finding ?? s.kind)).toEqual(['sdk-too-old', 'trust-no-tag-session', 'create-association', 'restart-workloads']);
    expect(steps[0]!.title).toBe('upgrade the SDK first (botocore 1.34.41 or later)');
    // a finding's kubectl command gets the cluster's context, as the plan's own
    expect(steps[0]!.commands).toEqual([{ run: `kubectl --context ${ARN} get pods -n orders`, effect: 'read' }]);
    expect(steps[1]).toMatchObject({ effect: 'read', document: { Action: ['sts:AssumeRole', 'sts:TagSession'] } });
    expect(plan.totals).toMatchObject({ preflight: 3, serviceAccounts: 1 });
  });

  it('a clean-up row gets the clean-up findings only', () => {
    const report = { ...tinyReport([], [stragglerOf({ namespace: 'orders', serviceAccount: 'orders-api', role: role('orders-api-irsa'), nextStep: 'clean-up' })]), preflight: findings };
    const steps = clustersOf(buildPlan(report))[0]!.namespaces[0]!.serviceAccounts[0]!.steps;
    expect(steps.map((s) => s.finding ?? s.kind)).toEqual(['oidc-statement-left', 'remove-annotation', 'remove-oidc-statement']);
  });
});

describe('the cluster steps', () => {
  it('deletes the OIDC provider only when its verdict is READY, behind the readiness gate, in every account IRSA reached', () => {
    const cleanUps = [
      stragglerOf({ namespace: 'a', serviceAccount: 'x', role: role('x'), nextStep: 'clean-up' }),
      stragglerOf({ namespace: 'b', serviceAccount: 'y', role: role('y', OTHER), nextStep: 'clean-up' }),
    ];
    const ready = buildPlan(tinyReport([], cleanUps, 'READY'), { storeArgs: ['--store', '/data/store'] });
    const del = clustersOf(ready)[0]!.after.find((s) => s.kind === 'delete-oidc-provider')!;
    expect(del.commands.map((c) => [c.run, c.effect, c.gate ?? false])).toEqual([
      ['cutover-watch readiness --store /data/store -c payments --require READY', 'read', true],
      [`aws iam delete-open-id-connect-provider --open-id-connect-provider-arn arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`, 'destructive', false],
      [`aws iam delete-open-id-connect-provider --open-id-connect-provider-arn arn:aws:iam::${OTHER}:oidc-provider/${ISSUER}`, 'destructive', false],
    ]);
    const soaking = buildPlan(tinyReport([], cleanUps, 'SOAKING'));
    expect(clustersOf(soaking)[0]!.after.map((s) => s.kind)).toEqual([]);
  });

  it('offers eksctl utils migrate-to-pod-identity as a dry run where associations are missing, and says when it fits', () => {
    const plan = buildPlan(tinyReport([stragglerOf({})]));
    const eksctl = clustersOf(plan)[0]!.after.find((s) => s.kind === 'eksctl-migrate')!;
    expect(eksctl.commands).toEqual([{ run: 'eksctl utils migrate-to-pod-identity --cluster payments --region us-east-1', effect: 'read' }]);
    expect(eksctl.why).toMatch(/fits only when eksctl manages/);
    expect(eksctl.notes.join(' ')).toMatch(/--remove-oidc-provider-trust-relationship before .* READY/);
  });
});

describe('one source: the plan of a report repeats its rows\' steps', () => {
  it('with the default options, every service account\'s steps are the report row\'s, and its commands the row\'s commands', () => {
    const rows = [stragglerOf({}), stragglerOf({ namespace: 'billing', serviceAccount: 'api', nextStep: 'restart-pods', hasAssociation: true })];
    const report = tinyReport(rows);
    const plan = buildPlan(report);
    for (const row of report.stragglers) {
      const sa = clustersOf(plan).flatMap((c) => c.namespaces).find((n) => n.namespace === row.namespace)!.serviceAccounts.find((s) => s.serviceAccount === row.serviceAccount)!;
      const { steps, commands } = stragglerPlan(row, report.preflight);
      expect(sa.steps).toEqual(steps);
      expect(runs(sa.steps)).toEqual(commands);
    }
  });
});

/** Lines of a script that would change something, outside a comment and outside an `if confirm …; then … fi` block. */
function unguardedChanges(script: string): string[] {
  const changing = /\b(update-assume-role-policy|create-pod-identity-association|delete-open-id-connect-provider|create-addon|rollout restart|annotate serviceaccount|migrate-to-pod-identity)\b/;
  const found: string[] = [];
  let guarded = false;
  for (const line of script.split('\n')) {
    const t = line.trim();
    if (t.startsWith('#')) continue;
    if (/^if confirm /.test(t)) guarded = true;
    else if (t === 'fi') guarded = false;
    else if (!guarded && changing.test(t)) found.push(t);
  }
  return found;
}

describe('-o sh', () => {
  const plan: MigrationPlan = buildPlan({
    ...tinyReport(
      [stragglerOf({}), stragglerOf({ namespace: 'billing', serviceAccount: 'api', nextStep: 'restart-pods', hasAssociation: true })],
      [stragglerOf({ namespace: 'ledger', serviceAccount: 'api', nextStep: 'clean-up', hasAssociation: true })],
      'READY',
    ),
    preflight: [finding({ kind: 'agent-missing', fix: { text: 'install the agent', commands: [['aws', 'eks', 'create-addon', '--cluster-name', 'payments', '--addon-name', 'eks-pod-identity-agent']] } })],
  });
  const script = renderPlanScript(plan);

  it('is valid bash with set -euo pipefail, and changes nothing unless a person says yes', () => {
    expect(() => execFileSync('bash', ['-n'], { input: script })).not.toThrow();
    expect(script).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(script).toContain('\nset -euo pipefail\n');
    expect(unguardedChanges(script)).toEqual([]);
    // destructive commands are comments; the changes are behind a confirm
    expect(script).toMatch(/\n# aws iam delete-open-id-connect-provider /);
    expect(script).toMatch(/\n# aws iam update-assume-role-policy --role-name [^\n]*\.no-oidc\.json/);
    expect(script).toMatch(/if confirm '[^']*'; then\n {2}aws eks create-pod-identity-association /);
    expect(script).toMatch(/if confirm '[^']*'; then\n {2}aws eks create-addon /);
  });

  it('says why before every step, and checks the account before its AWS commands', () => {
    const steps = script.split('\n').filter((l) => /^# step \d+ /.test(l)).length;
    expect(steps).toBe(plan.totals.steps);
    expect(script.split('\n').filter((l) => l.startsWith('# why: ')).length).toBe(steps);
    expect(script.indexOf(`require_account ${ACCOUNT}`)).toBeGreaterThan(0);
    expect(script.indexOf(`require_account ${ACCOUNT}`)).toBeLessThan(script.indexOf('\naws '));
  });

  it('a script run without a terminal asks nothing and runs no change (confirm is false)', () => {
    const confirm = script.slice(script.indexOf('confirm() {'), script.indexOf('}\n', script.indexOf('confirm() {')) + 2);
    const out = execFileSync('setsid', ['bash', '-c', `${confirm}\nif confirm 'go?'; then echo RAN; else echo SKIPPED; fi`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(out.trim()).toBe('SKIPPED');
  });

  it('text and Markdown print the same commands', () => {
    const text = renderPlanText(plan);
    const md = renderPlanMarkdown(plan);
    for (const line of clustersOf(plan).flatMap((c) => [...c.before, ...c.namespaces.flatMap((n) => n.serviceAccounts.flatMap((s) => s.steps)), ...c.after]).flatMap((s) => s.commands.map((x) => x.run))) {
      expect(text).toContain(line);
      expect(md.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))).toContain(line);
    }
  });
});

describe('owners', () => {
  it('--by owner groups namespaces under their team, the unowned last', () => {
    const report = ownedReport();
    const text = renderPlanText(buildPlan(report), { byOwner: true });
    const owners = text.split('\n').filter((l) => l.startsWith('OWNER '));
    expect(owners).toEqual(['OWNER orders-team (orders@example.com, #orders, ORD)', 'OWNER (no owner)']);
    expect(groupByOwnerForTest(report).map((g) => [g.label, g.stragglers.length])).toEqual([
      ['orders-team (orders@example.com, #orders, ORD)', 1],
      ['(no owner)', 1],
    ]);
  });
});
