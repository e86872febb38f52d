import { describe, expect, it } from 'vitest';
import { aggregate, mergeItems, type EvidenceItem } from '../../functions/core/evidence';
import type { IdentityEvent } from '../../functions/core/identity-event';
import { emptyInventory, type Inventory, type InventoryAssociation, type InventoryCluster } from '../../functions/core/inventory';
import { logCoverage } from '../support/coverage';
import { assessReadiness, VERDICT_ORDER, type ReadinessReport } from '../../functions/core/readiness';
import {
  buildReport,
  parseSummary,
  reportEvidence,
  stragglerPlan,
  summarize,
  withOwners,
  type ReportSummary,
  type Straggler,
  type StragglerReport,
} from '../../functions/core/report';
import { parsePolicy } from '../../functions/core/policy';
import fc from 'fast-check';
import { CSV_COLUMNS, markdownLines, md, renderCsv, renderHtml, renderJson, renderMarkdown, renderText } from '../../functions/core/report-render';
import { endTrimmed } from '../../functions/core/report-render/markdown';
import { SCHEMA_VERSION } from '../../functions/core/schema-version';
import { identityEvent } from '../support/events';

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const PAYMENTS_ARN = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/payments`;
const PAYMENTS_ISSUER = `oidc.eks.${REGION}.amazonaws.com/id/PAYMENTS00000000000000000000001`;
const PAYMENTS: InventoryCluster = { name: 'payments', arn: PAYMENTS_ARN, region: REGION, account: ACCOUNT, oidcIssuer: PAYMENTS_ISSUER };
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** Every report below is as of T. */
const T = Date.parse('2024-05-15T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

let nextId = 0;
function event(kind: IdentityEvent['kind'], msAgo: number, fields: Partial<IdentityEvent>): IdentityEvent {
  nextId += 1;
  return identityEvent(kind, { eventId: `e-${nextId}`, eventTime: iso(T - msAgo), account: ACCOUNT, region: REGION, ...fields });
}
/** IRSA assume of NS/SA through the payments issuer, role `<sa>-irsa`. */
const irsa = (msAgo: number, ns: string, sa: string, fields: Partial<IdentityEvent> = {}) =>
  event('irsa', msAgo, { action: 'sts:AssumeRoleWithWebIdentity', oidcIssuer: PAYMENTS_ISSUER, namespace: ns, serviceAccount: sa, roleArn: role(`${sa}-irsa`), ...fields });
/** Tagged Pod Identity assume of NS/SA on payments, role `<sa>-pi`. */
const pi = (msAgo: number, ns: string, sa: string) =>
  event('pod-identity', msAgo, {
    cluster: 'payments',
    clusterArn: PAYMENTS_ARN,
    namespace: ns,
    serviceAccount: sa,
    roleArn: role(`${sa}-pi`),
    podName: `${sa}-1`,
    sessionTagsMissing: false,
  });
const deniedFetch = (msAgo: number) =>
  event('pod-identity-fetch', msAgo, {
    outcome: 'denied',
    errorCode: 'AccessDenied',
    action: 'eks-auth:AssumeRoleForPodIdentity',
    cluster: 'payments',
    clusterArn: PAYMENTS_ARN,
    nodeInstanceId: 'i-0aaa',
    nodeRoleArn: role('payments-nodes'),
  });

function assoc(namespace: string, serviceAccount: string, createdAt: string | null = null): InventoryAssociation {
  return {
    cluster: 'payments',
    clusterArn: PAYMENTS_ARN,
    namespace,
    serviceAccount,
    associationId: `a-${namespace}-${serviceAccount}`,
    roleArn: role(`${serviceAccount}-pi`),
    targetRoleArn: null,
    disableSessionTags: false,
    createdAt,
  };
}

/** What the store holds after ingesting the events. */
function fold(events: readonly IdentityEvent[]): EvidenceItem[] {
  const store = new Map<string, EvidenceItem>();
  for (const { item } of aggregate(events)) {
    const key = `${item.pk}\u0000${item.sk}`;
    store.set(key, mergeItems(store.get(key), item));
  }
  return [...store.values()];
}

function reportOf(
  events: readonly IdentityEvent[],
  options: { associations?: InventoryAssociation[]; previous?: ReportSummary | null; asOf?: number; readUntil?: number } = {},
): { report: StragglerReport; readiness: ReadinessReport } {
  const inventory: Inventory = { ...emptyInventory(), clusters: [PAYMENTS], associations: options.associations ?? [] };
  const items = fold(events);
  const asOf = options.asOf ?? T;
  // Every hour of the 60 days before the as-of was read: the report's verdicts stand on the evidence.
  const coverage = logCoverage([{ account: ACCOUNT, region: REGION }, { account: ACCOUNT, region: 'us-east-1' }], asOf - 60 * 86_400_000, options.readUntil ?? asOf);
  const readiness = assessReadiness({ items, inventory, coverage }, { asOf: new Date(asOf) });
  const { days, irsaRoles } = reportEvidence(items);
  return { report: buildReport({ readiness, days, irsaRoles, inventory, previous: options.previous ?? null }), readiness };
}

const find = (rows: readonly Straggler[], ns: string, sa: string) => rows.filter((r) => r.namespace === ns && r.serviceAccount === sa);

/**
 * A fleet with one of each case, all on payments:
 * - billing/api       IRSA 2 h ago, no association                            → create the association
 * - orders/api        association, IRSA 2 h ago, Pod Identity 1 h ago         → restart the pods
 * - reports/builder   association, IRSA 2 h ago, never Pod Identity           → restart the pods, or check
 *                     the trust policy when fetches were denied in the soak window
 * - ledger/api        Pod Identity for 20 days, last IRSA 16 days ago: READY  → clean up
 * - checkout/api      last IRSA 3 days ago: SOAKING                           → neither
 * - legacy/cron       IRSA 3 days ago, never Pod Identity: NOT_STARTED        → create the association (quiet)
 */
const fleet = (): IdentityEvent[] => [
  irsa(2 * HOUR, 'billing', 'api'),
  irsa(30 * HOUR, 'billing', 'api'),
  irsa(2 * HOUR, 'orders', 'api'),
  pi(HOUR, 'orders', 'api'),
  pi(2 * DAY, 'orders', 'api'),
  irsa(2 * HOUR, 'reports', 'builder'),
  irsa(16 * DAY, 'ledger', 'api'),
  pi(20 * DAY, 'ledger', 'api'),
  pi(HOUR, 'ledger', 'api'),
  irsa(3 * DAY, 'checkout', 'api'),
  pi(5 * DAY, 'checkout', 'api'),
  pi(HOUR, 'checkout', 'api'),
  irsa(3 * DAY, 'legacy', 'cron'),
];
const associations = [assoc('orders', 'api', '2024-05-10T08:00:00Z'), assoc('reports', 'builder'), assoc('ledger', 'api'), assoc('checkout', 'api')];

describe('stragglers and their next step', () => {
  it('lists every service account still on IRSA with the step its evidence calls for', () => {
    const { report } = reportOf(fleet(), { associations });

    expect(report.stragglers.map((s) => [s.namespace, s.serviceAccount, s.nextStep, s.irsaInActiveWindow])).toEqual([
      ['billing', 'api', 'create-association', true],
      ['legacy', 'cron', 'create-association', false],
      ['orders', 'api', 'restart-pods', true],
      ['reports', 'builder', 'restart-pods', true],
    ]);
    const [billing] = find(report.stragglers, 'billing', 'api').map((s) => ({ ...s, ...stragglerPlan(s, report.preflight) }));
    expect(billing).toMatchObject({
      cluster: 'payments',
      clusterArn: PAYMENTS_ARN,
      role: role('api-irsa'),
      namespaceVerdict: 'NOT_STARTED',
      lastIrsa: iso(T - 2 * HOUR),
      lastPodIdentity: null,
      hasAssociation: false,
    });
    // the role's trust first (read, edited with jq, written back), then the association, with its region
    expect(billing!.steps.map((s) => s.kind)).toEqual(['trust-pod-identity', 'create-association', 'restart-workloads']);
    expect(billing!.commands[0]).toBe('aws iam get-role --role-name api-irsa --query Role.AssumeRolePolicyDocument --output json > trust-api-irsa.json');
    expect(billing!.commands).toContain(
      `aws eks create-pod-identity-association --cluster-name payments --namespace billing --service-account api --role-arn ${role('api-irsa')} --region ${REGION}`,
    );
    const [orders] = find(report.stragglers, 'orders', 'api').map((s) => ({ ...s, ...stragglerPlan(s, report.preflight) }));
    expect(orders).toMatchObject({ hasAssociation: true, lastPodIdentity: iso(T - HOUR), associationCreatedAt: '2024-05-10T08:00:00Z' });
    expect(orders!.nextStepText).toContain('since 2024-05-10');
    // only the workloads that run as the service account, in the cluster's context; cronjobs listed
    expect(orders!.steps.map((s) => s.kind)).toEqual(['restart-workloads']);
    expect(orders!.commands[0]).toContain(`kubectl --context ${PAYMENTS_ARN} -n orders rollout restart "$kind/$name"`);
    expect(orders!.commands[0]).toContain(`'jsonpath={range .items[?(@.spec.template.spec.serviceAccountName=="api")]}{.metadata.name}{"\\n"}{end}'`);
    expect(orders!.commands[1]).toContain('get cronjobs');
  });

  it('says to check the trust policy when fetches were denied in the cluster and the service account has not used Pod Identity since', () => {
    const { report } = reportOf([...fleet(), deniedFetch(3 * DAY)], { associations });

    expect(find(report.stragglers, 'reports', 'builder')[0]).toMatchObject({ nextStep: 'check-trust-policy' });
    expect(find(report.stragglers, 'reports', 'builder')[0]!.nextStepText).toMatch(/denied in payments \(1 within the soak window, last 2024-05-12\).*builder-pi trusts pods\.eks\.amazonaws\.com/);
    // orders/api assumed through Pod Identity after the denial: its trust works, its pods need a restart
    expect(find(report.stragglers, 'orders', 'api')[0]).toMatchObject({ nextStep: 'restart-pods' });
    // without an association, creating it comes first
    expect(find(report.stragglers, 'billing', 'api')[0]).toMatchObject({ nextStep: 'create-association' });
  });

  it('ignores fetch denials older than the soak window', () => {
    const { report } = reportOf([...fleet(), deniedFetch(20 * DAY)], { associations });
    expect(find(report.stragglers, 'reports', 'builder')[0]).toMatchObject({ nextStep: 'restart-pods' });
  });

  it('lists READY namespaces that used IRSA as ready to clean up, and neither lists SOAKING ones', () => {
    const { report } = reportOf(fleet(), { associations });

    expect(report.readyToCleanUp.map((s) => [s.namespace, s.serviceAccount, s.role, s.nextStep])).toEqual([['ledger', 'api', role('api-irsa'), 'clean-up']]);
    const cleanUp = stragglerPlan(report.readyToCleanUp[0]!, report.preflight);
    expect(cleanUp.commands[0]).toBe(`kubectl --context ${PAYMENTS_ARN} -n ledger annotate serviceaccount api eks.amazonaws.com/role-arn-`);
    expect(cleanUp.steps.map((s) => [s.kind, s.effect])).toEqual([
      ['remove-annotation', 'change'],
      ['remove-oidc-statement', 'destructive'],
    ]);
    expect([...report.stragglers, ...report.readyToCleanUp].some((s) => s.namespace === 'checkout')).toBe(false);
    expect(report.totals).toMatchObject({ stragglers: 4, stragglerServiceAccounts: 4, readyToCleanUp: 1 });
  });

  it('has one row per role assumed through IRSA, never the Pod Identity role', () => {
    const { report } = reportOf([irsa(HOUR, 'billing', 'api'), irsa(2 * HOUR, 'billing', 'api', { roleArn: role('api-legacy') }), pi(DAY, 'billing', 'api')]);

    expect(report.stragglers.map((s) => s.role)).toEqual([role('api-irsa'), role('api-legacy')]);
    expect(report.totals).toMatchObject({ stragglers: 2, stragglerServiceAccounts: 1 });
  });
});

describe('clusters', () => {
  it('names an issuer the inventory does not map, and says to import its cluster', () => {
    const stray = `oidc.eks.${REGION}.amazonaws.com/id/STRAY00000000000000000000000001`;
    const { report } = reportOf([irsa(HOUR, 'billing', 'api', { oidcIssuer: stray })]);

    expect(report.clusters.map((c) => [c.cluster, c.clusterId, c.verdict])).toEqual([
      ['payments', PAYMENTS_ARN, 'READY'],
      ['(issuer STRAY00000000000000000000000001)', `issuer:${stray}`, 'UNKNOWN'],
    ]);
    const [row] = report.stragglers;
    expect(row).toMatchObject({ cluster: '(issuer STRAY00000000000000000000000001)', clusterArn: null, hasAssociation: false, nextStep: 'create-association' });
    expect(row!.nextStepText).toMatch(/^the inventory maps issuer .*STRAY.* to no cluster: import its describe-cluster output/);
    expect(stragglerPlan(row!, report.preflight).commands.find((c) => c.includes('create-pod-identity-association'))).toContain("--cluster-name '<cluster>'"); // quoted: bare, a pasted <cluster> would be a redirection
  });

  it('tells two clusters of one name apart by account and region', () => {
    const other = `arn:aws:eks:eu-west-1:444455556666:cluster/payments`;
    const events = [
      pi(HOUR, 'billing', 'api'),
      event('pod-identity', HOUR, { cluster: 'payments', clusterArn: other, namespace: 'billing', serviceAccount: 'api', roleArn: role('x'), sessionTagsMissing: false }),
    ];
    const { report } = reportOf(events);
    expect(report.namespaces.map((n) => n.cluster).sort()).toEqual(['payments (111122223333 us-west-2)', 'payments (444455556666 eu-west-1)']);
  });
});

describe('numbers', () => {
  it('are those of the readiness report: verdicts, times and counts per namespace and cluster', () => {
    const { report, readiness } = reportOf([...fleet(), deniedFetch(DAY)], { associations });

    expect(report.asOf).toBe(readiness.asOf);
    expect(report.namespaces.map((n) => [n.cluster, n.namespace, n.verdict, n.lastIrsa, n.lastPodIdentity, n.soakDaysLeft])).toEqual(
      readiness.namespaces.map((n) => [n.cluster, n.namespace, n.verdict, n.lastIrsa, n.lastPodIdentity, n.soakDaysLeft]),
    );
    expect(report.clusters.map((c) => [c.cluster, c.verdict, c.namespaceCounts, c.warnings])).toEqual(
      readiness.clusters.map((c) => [c.cluster, c.verdict, c.namespaceCounts, c.warnings]),
    );
    for (const v of VERDICT_ORDER) expect(report.totals.verdicts[v]).toBe(readiness.namespaces.filter((n) => n.verdict === v).length);
    expect(report.totals.verdicts).toEqual({ UNKNOWN: 0, NOT_STARTED: 3, IN_PROGRESS: 1, SOAKING: 1, READY: 1 });
  });

  it('counts each namespace per UTC day over the 30 days that end with the as-of day', () => {
    const { report } = reportOf([...fleet(), irsa(40 * DAY, 'billing', 'api'), irsa(HOUR, 'billing', 'api', { outcome: 'denied', errorCode: 'AccessDenied' })]);

    expect(report.days).toHaveLength(30);
    expect(report.days[29]).toBe('2024-05-15');
    expect(report.days[0]).toBe('2024-04-16');
    const billing = report.namespaces.find((n) => n.namespace === 'billing')!;
    expect(billing.daily.irsa[29]).toBe(1); // 2 h ago; the denied one counts apart
    expect(billing.daily.irsaFailed[29]).toBe(1);
    expect(billing.daily.irsa[28]).toBe(1); // 30 h ago
    expect(billing.daily.irsa.reduce((a, b) => a + b, 0)).toBe(2); // 40 days ago is outside the window
    const ledger = report.namespaces.find((n) => n.namespace === 'ledger')!;
    expect(ledger.daily.podIdentity.reduce((a, b) => a + b, 0)).toBe(2);
    expect(ledger.soakEndsAt).toBe(iso(T - 16 * DAY + 14 * DAY)); // READY: the soak ended
    expect(report.fleetDaily.irsa[29]).toBe(3); // billing, orders and reports, 2 h ago
  });

  it('ends the window the day before when the as-of is midnight', () => {
    const { report } = reportOf(fleet(), { asOf: Date.parse('2024-05-16T00:00:00Z') });
    expect(report.days[29]).toBe('2024-05-15');
  });
});

describe('changes since the previous report', () => {
  it('says there is no previous report the first time', () => {
    const { report } = reportOf(fleet(), { associations });
    expect(report.changes).toMatchObject({ previousAsOf: null, newlyReady: [], regressions: [], newStragglers: [] });
    expect(renderText(report)).toContain('this is the first report, there is no previous one to compare with');
  });

  it('finds nothing changed against its own summary', () => {
    const { report: first } = reportOf(fleet(), { associations });
    const { report } = reportOf(fleet(), { associations, previous: summarize(first) });
    expect(report.changes).toMatchObject({ previousAsOf: iso(T), newlyReady: [], regressions: [], progressed: [], newStragglers: [], resolvedStragglers: [] });
  });

  it('names namespaces newly READY, regressions, new and resolved stragglers', () => {
    const previous: ReportSummary = {
      version: 1,
      asOf: iso(T - DAY),
      soakDays: 14,
      activeHours: 24,
      namespaces: [
        { id: `${PAYMENTS_ARN}|ledger`, cluster: 'payments', namespace: 'ledger', verdict: 'SOAKING' },
        { id: `${PAYMENTS_ARN}|checkout`, cluster: 'payments', namespace: 'checkout', verdict: 'READY' },
        { id: `${PAYMENTS_ARN}|orders`, cluster: 'payments', namespace: 'orders', verdict: 'NOT_STARTED' },
        { id: `${PAYMENTS_ARN}|billing`, cluster: 'payments', namespace: 'billing', verdict: 'NOT_STARTED' },
        { id: `${PAYMENTS_ARN}|gone`, cluster: 'payments', namespace: 'gone', verdict: 'IN_PROGRESS' },
      ],
      stragglers: [
        { id: `${PAYMENTS_ARN}|billing|api|${role('api-irsa')}`, cluster: 'payments', namespace: 'billing', serviceAccount: 'api', role: role('api-irsa') },
        { id: `${PAYMENTS_ARN}|gone|worker|${role('worker-irsa')}`, cluster: 'payments', namespace: 'gone', serviceAccount: 'worker', role: role('worker-irsa') },
      ],
    };

    const { report } = reportOf(fleet(), { associations, previous });

    const names = (rows: { namespace: string }[]) => rows.map((r) => r.namespace);
    expect(report.changes.newlyReady).toEqual([{ id: `${PAYMENTS_ARN}|ledger`, cluster: 'payments', namespace: 'ledger', from: 'SOAKING', to: 'READY' }]);
    expect(report.changes.regressions).toEqual([{ id: `${PAYMENTS_ARN}|checkout`, cluster: 'payments', namespace: 'checkout', from: 'READY', to: 'SOAKING' }]);
    expect(names(report.changes.progressed)).toEqual(['orders']);
    expect(names(report.changes.newNamespaces)).toEqual(['legacy', 'reports']);
    expect(names(report.changes.goneNamespaces)).toEqual(['gone']);
    expect(report.changes.newStragglers.map((s) => `${s.namespace}/${s.serviceAccount}`)).toEqual(['legacy/cron', 'orders/api', 'reports/builder']);
    expect(report.changes.resolvedStragglers.map((s) => `${s.namespace}/${s.serviceAccount}`)).toEqual(['gone/worker']);
    const text = renderText(report);
    expect(text).toContain('CHANGES SINCE THE REPORT AS OF 2024-05-14 12:00 UTC');
    expect(text).toMatch(/regressions \(1\):\n {4}payments\/checkout {2}READY → SOAKING/);
  });

  it('keeps a summary that reads back, and refuses one it cannot read', () => {
    const { report } = reportOf(fleet(), { associations });
    const summary = summarize(report);
    expect(parseSummary(JSON.parse(JSON.stringify(summary)))).toEqual({ summary });
    expect(summary.stragglers).toHaveLength(report.stragglers.length);
    expect(parseSummary({ version: 2 })).toEqual({ summary: null, problem: expect.stringContaining('version 2') });
    expect(parseSummary({ ...summary, namespaces: [{ id: 'x' }] }).summary).toBeNull();
  });
});

describe('renderers', () => {
  const hostile = '<script>alert("ns")</script>';
  const quoted = 'a,"b"';

  function hostileReport(): StragglerReport {
    const { report } = reportOf([irsa(HOUR, hostile, 'api'), irsa(HOUR, quoted, `sa"><img src=x onerror=alert(1)>`), pi(DAY, 'x|y', 'api'), irsa(20 * DAY, 'x|y', 'api')]);
    return report;
  }

  it('escapes every value into the HTML: a namespace named <script> stays text', async () => {
    const html = await renderHtml(hostileReport(), { chartJs: '/* chart.js */ window.Chart = function () {};' });

    expect(html).not.toContain(hostile);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('</script><');
    expect(html).toContain('&lt;script&gt;alert(&quot;ns&quot;)&lt;/script&gt;');
    // exactly the page's own script elements: the class setter, Chart.js, the data and the charts
    expect(html.match(/<script/gi)).toHaveLength(4);
    const data = html.slice(html.indexOf('<script type="application/json" id="cw-data">'));
    expect(data.slice(0, data.indexOf('</script>'))).not.toMatch(/<(?!script type)/);
    // no network at view time
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
  });

  it('keeps a library source from closing its script element', async () => {
    const html = await renderHtml(hostileReport(), { chartJs: 'var s = "</script><script>alert(1)</script>";\n//# sourceMappingURL=chart.umd.js.map' });
    expect(html).not.toContain('"</script>');
    expect(html).toContain('"<\\/script><script>alert(1)<\\/script>"');
    expect(html).not.toContain('sourceMappingURL');
  });

  it('writes CSV by RFC 4180: CRLF, quotes around commas, quotes and line breaks, quotes doubled', () => {
    const csv = renderCsv(hostileReport());

    expect(csv.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const body = rows.slice(1).map((r) => Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, r[i]])));
    expect(body.map((r) => r['namespace']).sort()).toEqual([hostile, quoted, 'x|y'].sort());
    expect(body.find((r) => r['namespace'] === quoted)!['service_account']).toBe(`sa"><img src=x onerror=alert(1)>`);
    expect(body.every((r) => Object.keys(r).length === CSV_COLUMNS.length)).toBe(true);
    expect(body.find((r) => r['namespace'] === 'x|y')).toMatchObject({ next_step: 'clean-up', has_association: 'false' });
    expect(body[0]!['commands']).toContain('\n'); // one command per line, inside one quoted field
    expect(csv).toContain('"a,""b"""');
  });

  it('keeps a spreadsheet from running a cell as a formula', async () => {
    const { csvField } = await import('../../functions/core/report-render');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('-1')).toBe(`'-1`);
    expect(csvField(null)).toBe('');
  });

  it('keeps the text under the SNS limit however many stragglers, and says what it left out', () => {
    // 5,000 rows are over twice the limit in full: enough to be cut, a quarter of the work of 20,000
    // (renderText renders the whole report once per step of its search for the longest cut that fits)
    const report = manyStragglers(5_000);
    expect(Buffer.byteLength(renderText(report, { maxBytes: Number.MAX_SAFE_INTEGER }), 'utf8')).toBeGreaterThan(2 * 240_000);

    const text = renderText(report);

    expect(Buffer.byteLength(text, 'utf8')).toBeLessThanOrEqual(240_000);
    expect(Buffer.byteLength(text, 'utf8')).toBeGreaterThan(200_000);
    expect(text).toMatch(/… and [\d,]+ more \(every row: --format csv, json or html\)/);
    expect(text.startsWith('cutover-watch: IRSA → EKS Pod Identity straggler report')).toBe(true);
    const small = renderText(report, { maxBytes: 6000 });
    expect(Buffer.byteLength(small, 'utf8')).toBeLessThanOrEqual(6000);
    expect(small).toContain('STRAGGLERS');
  });

  it('writes Markdown a line at a time as the text joined and trimmed at its end would read', () => {
    const line = fc.oneof(fc.constantFrom('', ' ', '\t', '\u00a0', 'a', ' b ', 'c\n', '\n', 'd\n ', '| x |'), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        expect([...endTrimmed(lines, (l) => l.toUpperCase())].join('')).toBe(`${lines.map((l) => l.toUpperCase()).join('\n').trimEnd()}\n`);
      }),
    );
    const report = hostileReport();
    expect([...markdownLines(report)].every((piece) => piece.endsWith('\n') && piece.indexOf('\n') === piece.length - 1)).toBe(true);
  });

  it('escapes Markdown table cells', () => {
    const markdown = renderMarkdown(hostileReport());
    expect(markdown).toContain('x\\|y');
    expect(markdown).not.toContain('<script>');
    expect(md('a|b*c_<d>')).toBe('a\\|b\\*c\\_&lt;d&gt;');
    expect(md('NOT_STARTED (2d ago)')).toBe('NOT_STARTED (2d ago)');
  });

  it('prints the model as JSON, each row with its plan after its next step and before its owner', () => {
    const report = withOwners(hostileReport(), parsePolicy({ owners: [{ team: 'core' }] }, 'p.json'));
    const json = renderJson(report);
    const planned = (s: Straggler) => ({ ...s, ...stragglerPlan(s, report.preflight), owner: s.owner });
    expect(JSON.parse(json)).toEqual({ schemaVersion: SCHEMA_VERSION, ...report, stragglers: report.stragglers.map(planned), readyToCleanUp: report.readyToCleanUp.map(planned) });
    expect(report.stragglers.length + report.readyToCleanUp.length).toBeGreaterThan(0);
    const [first] = JSON.parse(json).stragglers as Record<string, unknown>[];
    expect(first!['commands']).not.toEqual([]);
    expect(Object.keys(first!).slice(-4)).toEqual(['nextStepText', 'commands', 'steps', 'owner']);
  });
});

/** The report with `n` straggler rows (copies of one), as a large fleet would have. */
function manyStragglers(n: number): StragglerReport {
  const { report } = reportOf(fleet(), { associations });
  const template = report.stragglers[0]!;
  const stragglers = Array.from({ length: n }, (_, i) => ({ ...template, id: `${template.id}-${i}`, namespace: `team-${String(i).padStart(5, '0')}` }));
  return { ...report, stragglers, totals: { ...report.totals, stragglers: n, stragglerServiceAccounts: n } };
}

/** A strict RFC 4180 reader: CRLF records, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i += 1;
      } else {
        field += c;
        i += 1;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      i += 1;
    } else if (c === ',') {
      row.push(field);
      field = '';
      i += 1;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else if (c === '\r' || c === '\n' || c === '"') {
      throw new Error(`bare ${JSON.stringify(c)} at ${i}`);
    } else {
      field += c;
      i += 1;
    }
  }
  if (field !== '' || row.length > 0) throw new Error('last record without CRLF');
  return rows;
}

describe('evidence through, and what cannot be told', () => {
  it('says where the evidence ends in every format, and lists UNKNOWN namespaces with their cause first', async () => {
    // Logs read until 10 days before the as-of: the soaked namespace is UNKNOWN (stale), not READY.
    const { report } = reportOf([pi(30 * DAY, 'billing', 'api'), irsa(26 * DAY, 'billing', 'api')], { readUntil: T - 10 * DAY });
    const through = '2024-05-05 12:00';

    expect(report.namespaces[0]).toMatchObject({ verdict: 'UNKNOWN', lastWellFounded: { verdict: 'READY', through: '2024-05-05T12:00:00Z' } });
    expect(report.coverage.map((c) => `${c.account}/${c.region}`)).toEqual([`${ACCOUNT}/us-east-1`, `${ACCOUNT}/${REGION}`]);
    const text = renderText(report);
    expect(text).toContain(`evidence through: ${ACCOUNT}/us-east-1 ${through} · ${ACCOUNT}/${REGION} ${through}`);
    expect(text).toMatch(/CANNOT TELL \(UNKNOWN: 1\)[^\n]*\n  payments\/billing \(READY through 2024-05-05\): stale: /);
    const markdown = renderMarkdown(report);
    expect(markdown).toContain('## Cannot tell (UNKNOWN: 1)');
    expect(markdown).toContain(`evidence through: ${ACCOUNT}/us-east-1 ${through}`);
    const html = await renderHtml(report, { chartJs: '' });
    expect(html).toContain('<section id="unknown">');
    expect(html).toContain(`evidence through: ${ACCOUNT}/us-east-1 ${through}`);
    expect(JSON.parse(renderJson(report)).coverage[0].through).toBe('2024-05-05T12:00:00Z');
  });

  it('gives every CSV row the evidence-through time of its namespace', () => {
    const { report } = reportOf([irsa(HOUR, 'billing', 'api')]);
    const [header, first] = renderCsv(report).split('\r\n');

    expect(header!.split(',').at(-1)).toBe('evidence_through');
    expect(first!.endsWith(',2024-05-15T12:00:00Z')).toBe(true);
  });
});
