import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../functions/core/alert';
import { alertLine, alertText, lookupEventCommand } from '../../functions/core/alert-format';
import { detect } from '../../functions/core/detections';
import { displaySafe, shellCommand } from '../../functions/core/display';
import { aggregate, mergeItems, type EvidenceItem } from '../../functions/core/evidence';
import type { IdentityEvent } from '../../functions/core/identity-event';
import type { Inventory, InventoryCluster } from '../../functions/core/inventory';
import { defaultPolicy } from '../../functions/core/policy';
import { assessReadiness, type ReadinessReport } from '../../functions/core/readiness';
import { buildReport, reportEvidence, stragglerPlan, type PlannedStraggler, type ReportSummary, type StragglerReport } from '../../functions/core/report';
import { CSV_COLUMNS, esc, jsonForScript, renderCsv, renderHtml, renderJson, renderMarkdown, renderText } from '../../functions/core/report-render';
import { SCHEMA_VERSION } from '../../functions/core/schema-version';
import { CLIENT_JS } from '../../functions/core/report-render/html-client';
import type { PageData } from '../../functions/core/report-render/html-data';
import { printEvidence, type NamespaceEvidence } from '../../functions/local/cli/commands/evidence';
import { printReadiness } from '../../functions/local/cli/commands/readiness';
import type { Io } from '../../functions/local/cli/io';
import { table } from '../../functions/local/cli/render';
import { logCoverage } from '../support/coverage';
import { identityEvent } from '../support/events';
import { HOSTILE_NAMES, RAW_UNSAFE, shellWordsOf } from '../support/hostile';

/**
 * Every hostile name, as a cluster, namespace, service account, role, node and error code, through
 * every output: the report renderers, the CLI's readiness and evidence printers, the alert texts.
 * Nothing raw may reach the output, tables keep their rows, commands parse back to their argv,
 * CSV cells cannot run as formulas, JSON gives back exactly the model.
 */

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const T = Date.parse('2024-05-15T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const clusterArn = (i: number) => `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/c${i}`;
const issuer = (i: number) => `oidc.eks.${REGION}.amazonaws.com/id/C${String(i).padStart(31, '0')}`;

/** A cluster name from an ARN cannot hold `/`. */
const unknownName = (i: number, h: string) => `u${i}-${h.replaceAll('/', '')}`;

let nextId = 0;
const event = (kind: IdentityEvent['kind'], msAgo: number, fields: Partial<IdentityEvent>): IdentityEvent =>
  identityEvent(kind, { eventId: `e-${(nextId += 1)}`, eventTime: iso(T - msAgo), account: ACCOUNT, region: REGION, ...fields });

/**
 * Per hostile name H, cluster `H` (its own ARN and issuer) where:
 * - namespace H, service account H: IRSA an hour ago, no association → create the association;
 * - namespace `r-H`: IRSA 16 days ago, Pod Identity since → READY, clean up;
 * - namespace `p-H`, service account H: association, IRSA an hour ago, Pod Identity two days ago,
 *   node H's Pod Identity fetches denied (error code H) a day ago → check the trust policy;
 * - namespace `q-H`: the same, with Pod Identity half an hour ago → restart the pods;
 * and a cluster `uI-H` the inventory does not know (UNKNOWN: import its describe-cluster output).
 */
function hostileFleet(): { events: IdentityEvent[]; inventory: Inventory } {
  const clusters: InventoryCluster[] = [];
  const events: IdentityEvent[] = [];
  const inventory: Inventory = { clusters, associations: [], nodegroups: [] };
  HOSTILE_NAMES.forEach((h, i) => {
    clusters.push({ name: h, arn: clusterArn(i), region: REGION, account: ACCOUNT, oidcIssuer: issuer(i) });
    const irsa = (msAgo: number, ns: string) =>
      event('irsa', msAgo, { action: 'sts:AssumeRoleWithWebIdentity', oidcIssuer: issuer(i), namespace: ns, serviceAccount: h, roleArn: role(h) });
    const pi = (msAgo: number, ns: string) =>
      event('pod-identity', msAgo, { cluster: h, clusterArn: clusterArn(i), namespace: ns, serviceAccount: h, roleArn: role(`pi-${h}`), podName: h, sessionTagsMissing: false });
    events.push(irsa(HOUR, h));
    events.push(irsa(16 * DAY, `r-${h}`), pi(20 * DAY, `r-${h}`), pi(HOUR, `r-${h}`));
    events.push(irsa(HOUR, `p-${h}`), pi(2 * DAY, `p-${h}`));
    events.push(irsa(HOUR, `q-${h}`), pi(HOUR / 2, `q-${h}`));
    for (const ns of [`p-${h}`, `q-${h}`]) {
      inventory.associations.push({
        cluster: h,
        clusterArn: clusterArn(i),
        namespace: ns,
        serviceAccount: h,
        associationId: `a-${i}-${ns}`,
        roleArn: role(`pi-${h}`),
        targetRoleArn: null,
        disableSessionTags: false,
        createdAt: iso(T - 10 * DAY),
      });
    }
    events.push(
      event('pod-identity-fetch', DAY, {
        outcome: 'denied',
        errorCode: h,
        action: 'eks-auth:AssumeRoleForPodIdentity',
        cluster: h,
        clusterArn: clusterArn(i),
        nodeInstanceId: h,
        nodeRoleArn: role('nodes'),
      }),
    );
    events.push(
      event('pod-identity', HOUR, { cluster: unknownName(i, h), clusterArn: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${unknownName(i, h)}`, namespace: h, serviceAccount: h, roleArn: role(h), podName: h, sessionTagsMissing: false }),
    );
  });
  return { events, inventory };
}

function fold(events: readonly IdentityEvent[]): EvidenceItem[] {
  const store = new Map<string, EvidenceItem>();
  for (const { item } of aggregate(events)) {
    const key = `${item.pk}\u0000${item.sk}`;
    store.set(key, mergeItems(store.get(key), item));
  }
  return [...store.values()];
}

function hostile(): { readiness: ReadinessReport; report: StragglerReport } {
  const { events, inventory } = hostileFleet();
  const items = fold(events);
  // Every hour of the 60 days before T was read: the verdicts stand on the evidence.
  const coverage = logCoverage([{ account: ACCOUNT, region: REGION }], T - 60 * DAY, T);
  const readiness = assessReadiness({ items, inventory, coverage }, { asOf: new Date(T) });
  const { days, irsaRoles } = reportEvidence(items);
  // A previous report in which every hostile namespace was READY and no straggler existed: the
  // changes section lists them all as regressions and new stragglers.
  const previous: ReportSummary = {
    version: 1,
    asOf: iso(T - DAY),
    soakDays: 14,
    activeHours: 24,
    namespaces: readiness.namespaces.map((n) => ({ id: `${n.clusterArn ?? `issuer:${n.oidcIssuer}`}|${n.namespace}`, cluster: n.cluster ?? '?', namespace: n.namespace, verdict: 'READY' as const })),
    stragglers: [],
  };
  return { readiness, report: buildReport({ readiness, days, irsaRoles, inventory, previous }) };
}

const { readiness, report } = hostile();
/** The rows with their plans, as the report's documents write them. */
const rows: PlannedStraggler[] = [...report.stragglers, ...report.readyToCleanUp].map((s) => ({ ...s, ...stragglerPlan(s, report.preflight) }));

/** No raw control, bidi or invisible character; the only line breaks are the output's own. */
function expectNothingRaw(output: string): void {
  const raw = output.split('\n').flatMap((line, i) => (RAW_UNSAFE.test(line) ? [`line ${i + 1}: ${JSON.stringify(line)}`] : []));
  expect(raw).toEqual([]);
  expect(output).not.toMatch(/\nCLUSTER {2}FAKE ROW/);
}

describe('the hostile fleet', () => {
  it('reaches every kind of row and every next step', () => {
    for (const [i, h] of HOSTILE_NAMES.entries()) {
      expect(rows.filter((r) => r.serviceAccount === h).map((r) => r.nextStep).sort()).toEqual(['check-trust-policy', 'clean-up', 'create-association', 'restart-pods']);
      expect(report.clusters.find((c) => c.name === h)?.verdict).toBe('NOT_STARTED');
      expect(report.clusters.find((c) => c.name === unknownName(i, h))?.verdict).toBe('UNKNOWN');
    }
    expect(report.changes.regressions.length).toBeGreaterThan(0);
    expect(report.changes.newStragglers.length).toBe(report.stragglers.length);
    expect(report.clusters.some((c) => c.warnings.some((w) => HOSTILE_NAMES.some((h) => w.message.includes(h))))).toBe(true);
  });
});

describe('generated commands', () => {
  it('are built from argv: a shell gives back exactly the names', () => {
    const commands: string[] = [];
    const argvs: string[][] = [];
    for (const s of rows) {
      // the cluster's name as its ARN spells it: what the EKS API takes, whatever label the report shows
      const cluster = s.clusterArn!.slice(s.clusterArn!.indexOf(':cluster/') + ':cluster/'.length);
      const region = s.clusterArn!.split(':')[3]!;
      const roleNameOf = (arn: string | null) => (arn ?? '').slice((arn ?? '').lastIndexOf('/') + 1);
      const kubectl = (...args: string[]) => ['kubectl', '--context', s.clusterArn!, '-n', s.namespace, ...args];
      const cronJobs = kubectl('get', 'cronjobs', '-o', `jsonpath={range .items[?(@.spec.jobTemplate.spec.template.spec.serviceAccountName==${JSON.stringify(s.serviceAccount)})]}{.metadata.name}{"\\n"}{end}`);
      const updateTrust = (arn: string | null, suffix: string) => ['aws', 'iam', 'update-assume-role-policy', '--role-name', roleNameOf(arn), '--policy-document', `file://trust-${roleNameOf(arn)}${suffix}.json`];
      const expected = (): string[][] => ({
        'create-association': [
          updateTrust(s.role, '.pod-identity'),
          ['aws', 'eks', 'create-pod-identity-association', '--cluster-name', cluster, '--namespace', s.namespace, '--service-account', s.serviceAccount, '--role-arn', s.role!, '--region', region],
          cronJobs,
        ],
        'restart-pods': [cronJobs],
        'check-trust-policy': [updateTrust(s.associationRole, '.pod-identity'), cronJobs],
        'clean-up': [kubectl('annotate', 'serviceaccount', s.serviceAccount, 'eks.amazonaws.com/role-arn-'), updateTrust(s.role, '.no-oidc')],
      })[s.nextStep];
      // The simple commands, one argv each: the reads that redirect into a file, the jq edits and the restart loop are shell lines of their own.
      commands.push(...s.commands.filter((c) => /^(aws|kubectl) /.test(c) && !/ > ('[^']*'|\S+)$/.test(c)));
      argvs.push(...expected());
    }
    expect(commands.length).toBeGreaterThan(4 * HOSTILE_NAMES.length);
    expect(shellWordsOf(commands)).toEqual(argvs);
  });

  it('quote the cluster in the describe-cluster step of an unknown cluster', () => {
    const unknown = report.clusters.filter((x) => x.verdict === 'UNKNOWN');
    expect(unknown).toHaveLength(HOSTILE_NAMES.length);
    const argvs = unknown.map((c) => ['aws', 'eks', 'describe-cluster', '--name', c.name!]);
    for (const [i, c] of unknown.entries()) expect(c.nextStep).toBe(`import \`${shellCommand(argvs[i]!)}\` output: its OIDC issuer is not in the inventory`);
    expect(shellWordsOf(argvs.map(shellCommand))).toEqual(argvs);
  });

  it('in alerts: next steps and the CloudTrail lookup', () => {
    const lines: string[] = [];
    const argvs: string[][] = [];
    for (const [i, h] of HOSTILE_NAMES.entries()) {
      const inventory: Inventory = {
        clusters: [{ name: h, arn: clusterArn(i), region: REGION, account: ACCOUNT, oidcIssuer: issuer(i) }],
        associations: [],
        nodegroups: [],
      };
      const state = { roleFirstSeen: new Map(), roleNamespaces: new Set<string>(), spikeCounts: new Map(), namespaces: new Map(), nodeRoleClusters: new Map(), inventory };
      const events = [
        event('pod-identity', HOUR, { cluster: h, clusterArn: clusterArn(i), namespace: 'default', serviceAccount: h, roleArn: role('x'), podName: 'p', sessionTagsMissing: false }),
        ...Array.from({ length: 5 }, () =>
          event('irsa', HOUR, { action: 'sts:AssumeRoleWithWebIdentity', outcome: 'denied', errorCode: 'AccessDenied', oidcIssuer: issuer(i), namespace: h, serviceAccount: h, roleArn: role('r') }),
        ),
      ];
      const alerts = detect(events, state, defaultPolicy(), new Date(T));
      const unexpected = alerts.find((a) => a.detection === 'unexpected-namespace')!;
      const spike = alerts.find((a) => a.detection === 'access-denied-spike')!;
      const list = ['aws', 'eks', 'list-pod-identity-associations', '--cluster-name', h, '--namespace', 'default'];
      const getSa = ['kubectl', 'get', 'sa', h, '-n', h, '-o', 'yaml'];
      expect(unexpected.nextStep).toContain(`(${shellCommand(list)})`);
      expect(spike.nextStep).toContain(`check the annotation with ${shellCommand(getSa)}`);
      lines.push(shellCommand(list), shellCommand(getSa), lookupEventCommand(h));
      argvs.push(list, getSa, ['aws', 'cloudtrail', 'lookup-events', '--lookup-attributes', `AttributeKey=EventId,AttributeValue=${h}`]);
    }
    expect(shellWordsOf(lines)).toEqual(argvs);
  });
});

describe('report renderers', () => {
  it('text: nothing raw, no forged row, commands shown quoted', () => {
    const text = renderText(report);
    expectNothingRaw(text);
    for (const h of HOSTILE_NAMES) expect(text).toContain(displaySafe(h));
    expect(text).toContain(`${displaySafe(HOSTILE_NAMES[5])}: `); // the cluster's next step line
    expect(text).toContain("import `aws eks describe-cluster --name 'u0-prod;touch tmpx'` output");
    expect(text).toContain(`--name 'u5-a\\nCLUSTER  FAKE ROW'\``); // quoted, then shown: the line break written out
  });

  it('markdown: nothing raw, every table row has its columns, pipes and backticks escaped', () => {
    const markdown = renderMarkdown(report);
    expectNothingRaw(markdown);
    // Each table: consecutive `|` lines; every row has as many cells (unescaped pipes) as its header.
    const cellsOf = (line: string) => line.replace(/\\\\/g, '').split(/(?<!\\)\|/).length - 2;
    const tables = markdown.split(/\n(?!\|)/).map((block) => block.split('\n').filter((l) => l.startsWith('|'))).filter((t) => t.length > 0);
    expect(tables.reduce((n, t) => n + t.length - 2, 0)).toBeGreaterThan(4 * HOSTILE_NAMES.length);
    for (const t of tables) expect(t.map(cellsOf)).toEqual(t.map(() => cellsOf(t[0]!)));
    expect(markdown).toContain('\\`id\\`');
    expect(markdown).not.toMatch(/(?<!\\)`id(?<!\\)`/);
    expect(markdown).toContain('\\\\x1b\\]0;title\\\\x07'); // shown as \x1b]0;title\x07 on the page
  });

  it('csv: nothing raw, each cell one line (commands one per line), formulas neutralized', () => {
    const csv = renderCsv(report);
    expectNothingRaw(csv.replaceAll('\r\n', '\n'));
    const parsed = parseCsv(csv);
    expect(parsed[0]).toEqual([...CSV_COLUMNS]);
    const body = parsed.slice(1);
    expect(body).toHaveLength(rows.length);
    for (const cells of body) {
      expect(cells).toHaveLength(CSV_COLUMNS.length);
      for (const [i, cell] of cells.entries()) {
        expect(cell).not.toMatch(/^[=+\-@\t\r]/);
        if (CSV_COLUMNS[i] === 'commands') for (const line of cell.split('\n')) expect(line).toMatch(/^(aws|kubectl|jq|diff|for kind in) /);
        else expect(cell).not.toContain('\n');
      }
    }
    const byName = (col: string, value: string) => body.filter((c) => c[CSV_COLUMNS.indexOf(col as (typeof CSV_COLUMNS)[number])] === value);
    expect(byName('namespace', `'=HYPERLINK("http://x")`).length).toBeGreaterThan(0);
    expect(byName('namespace', 'a\\nCLUSTER  FAKE ROW').length).toBeGreaterThan(0);
    expect(byName('namespace', 'prod;touch /tmp/x').length).toBeGreaterThan(0);
  });

  it('json: the model exactly, each row with its plan (and schemaVersion), with nothing raw in the text', () => {
    const json = renderJson(report);
    expect(JSON.parse(json)).toEqual({ schemaVersion: SCHEMA_VERSION, ...report, stragglers: rows.slice(0, report.stragglers.length), readyToCleanUp: rows.slice(report.stragglers.length) });
    expectNothingRaw(json);
  });

  it('html: nothing raw, every name escaped, copy-paste commands in their shell-quoted form', async () => {
    const html = await renderHtml(report, { chartJs: 'window.Chart = function () {};' });
    expectNothingRaw(html);
    expect(html).not.toContain('<img');
    // the rows are data the page renders with textContent: their commands, as shown and copied
    const data = pageDataOf(html);
    const codes = data.groups.flatMap((g) => [...g.st, ...g.cu].flatMap((r) => r[7]));
    const expected = rows.flatMap((s) => s.commands.map(displaySafe));
    expect(codes.sort()).toEqual(expected.sort());
    // the commands of names without invisible characters are exactly the quoted ones, and parse back
    const plain = rows.filter((s) => displaySafe(s.namespace) === s.namespace && displaySafe(s.serviceAccount) === s.serviceAccount);
    expect(plain.length).toBeGreaterThan(0);
    // (the simple ones: a shell line with a redirection or a loop is not one argv)
    const simple = (c: string) => /^(aws|kubectl) /.test(c) && !/ > ('[^']*'|\S+)$/.test(c);
    const pasted = plain.flatMap((s) => s.commands.filter(simple).map((c) => codes.find((x) => x === c)!));
    expect(shellWordsOf(pasted)).toEqual(shellWordsOf(plain.flatMap((s) => s.commands.filter(simple))));
    // every name of the data is shown as displaySafe shows it: visible, never raw
    const names = data.groups.flatMap((g) => [g.name, ...g.ns.map((r) => r[0]), ...g.st.flatMap((r) => [r[0], r[1], r[2]])]);
    for (const h of HOSTILE_NAMES) expect(names.some((n) => n.includes(displaySafe(h)))).toBe(true);
    for (const n of names) expect(n).toBe(displaySafe(n));
    // and in the markup (cluster names, the changes), escaped
    for (const h of HOSTILE_NAMES) expect(html).toContain(esc(h));
  });

  it('html: the data cannot close its script element, and U+2028 or a comment opener stays inside the string', async () => {
    const value = { name: '</script><script>alert(1)</script><!-- \u2028\u2029 & >' };
    const json = jsonForScript(value);
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual(value);
    const html = await renderHtml(
      { ...report, namespaces: report.namespaces.map((n, i) => (i === 0 ? { ...n, namespace: value.name, serviceAccounts: [value.name], reasons: [value.name] } : n)) },
      { chartJs: '' },
    );
    const start = html.indexOf('<script type="application/json" id="cw-data">');
    const element = html.slice(start, html.indexOf('</script>', start));
    expect(element).not.toMatch(/<(?!script type)/);
    expect(pageDataOf(html).groups.flatMap((g) => g.ns.map((r) => r[0]))).toContain(displaySafe(value.name));
  });

  it('html: a large page\'s data goes in gzipped, then base64, and reads back to the same rows', async () => {
    const plain = await renderHtml(report, { chartJs: '' });
    const packed = await renderHtml(report, { chartJs: '', compressAbove: 0 });
    const element = /<script type="application\/octet-stream" id="cw-data" data-encoding="gzip-base64">([^<]*)<\/script>/.exec(packed);
    expect(element).not.toBeNull();
    expect(element![1]).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(JSON.parse(gunzipSync(Buffer.from(element![1]!, 'base64')).toString('utf8'))).toEqual(pageDataOf(plain));
    expect(packed.length).toBeLessThan(plain.length);
  });

  it('html: page data of many 64 K chunks is gzipped as it is written, the bytes of gzip on the whole text', async () => {
    // GIVEN the rows of 4,000 namespaces: megabytes of JSON, written into gzip a chunk at a time
    const many = { ...report, namespaces: Array.from({ length: 4_000 }, (_, i) => ({ ...report.namespaces[i % report.namespaces.length]!, namespace: `ns-${i}` })) };
    const plain = await renderHtml(many, { chartJs: '', compressAbove: Number.MAX_SAFE_INTEGER });
    const packed = await renderHtml(many, { chartJs: '' });
    const start = plain.indexOf('<script type="application/json" id="cw-data">');
    const text = plain.slice(plain.indexOf('>', start) + 1, plain.indexOf('</script>', start));
    expect(text.length).toBeGreaterThan(20 * 65_536);
    // THEN the packed element is that text, gzipped at level 9 exactly as one call on the whole would
    const base64 = /data-encoding="gzip-base64">([^<]*)<\/script>/.exec(packed)![1]!;
    expect(gunzipSync(Buffer.from(base64, 'base64')).toString('utf8')).toBe(text);
    expect(base64).toBe(gzipSync(Buffer.from(text, 'utf8'), { level: 9 }).toString('base64'));
  });

  it('html: the page\'s script puts every value in as text or an attribute, never as markup', () => {
    expect(CLIENT_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('(style|on)/);
    expect(CLIENT_JS).toContain('textContent');
  });

  it('html: only the page\'s own scripts and stylesheet run, each allowed by its hash', async () => {
    const html = await renderHtml(report, { chartJs: 'window.Chart = function () {};\r\n' });
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!;
    expect(csp).not.toContain('unsafe');
    const directive = (name: string) => csp.split('; ').find((d) => d.startsWith(`${name} `))!.split(' ').slice(1);
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(3);
    expect(directive('script-src').sort()).toEqual(scripts.map(hash).sort());
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
    expect(directive('style-src')).toEqual(styles.map(hash));
    expect(directive('default-src')).toEqual(["'none'"]);
    // nothing the policy would refuse: no style attribute, no event handler, no script from elsewhere
    expect(html).not.toMatch(/<[^>]+\s(style|on[a-z]+)=/i);
    expect(html).not.toMatch(/<script[^>]+src=/i);
  });
});

/** The rows the HTML page embeds for its script. */
function pageDataOf(html: string): PageData {
  const start = html.indexOf('<script type="application/json" id="cw-data">');
  const text = html.slice(html.indexOf('>', start) + 1, html.indexOf('</script>', start));
  return JSON.parse(text) as PageData;
}

describe('CLI printers', () => {
  const recording = (): { io: Io; out: string[]; err: string[] } => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), now: () => new Date(T), cwd: '/', interactive: false } as unknown as Io;
    return { io, out, err };
  };

  it('readiness --reasons: nothing raw, the tables keep their rows', () => {
    const { io, out } = recording();
    printReadiness(readiness, io, { reasons: true, all: true });
    const text = out.join('\n');
    expectNothingRaw(text);
    // the clusters first, then every namespace
    const namespaceTable = text.split('\n\n')[2]!.split('\n');
    expect(namespaceTable).toHaveLength(readiness.namespaces.length + 1);
    expect(text).toContain(`\n  - `);
    expect(text).toContain(displaySafe(HOSTILE_NAMES[6]));
  });

  it('evidence: nothing raw, one table row per service account and mechanism', () => {
    const mechanism = (n: number) => ({ firstSeen: iso(T - DAY), lastSeen: iso(T), lastFailed: null, lastError: HOSTILE_NAMES[3], assumes: n, failed: 0 });
    const evidence: NamespaceEvidence = {
      coverage: [{ account: HOSTILE_NAMES[0], region: HOSTILE_NAMES[1], from: iso(T - DAY), through: iso(T), gaps: [], sources: ['files'], unreadLogFiles: [], missingDigests: [] }],
      cluster: HOSTILE_NAMES[4],
      clusterArns: [clusterArn(4)],
      oidcIssuers: [issuer(4)],
      namespace: HOSTILE_NAMES[5],
      serviceAccounts: HOSTILE_NAMES.map((h) => ({ serviceAccount: h, roles: [role(h)], irsa: mechanism(1), podIdentity: mechanism(2), lastPod: h })),
      days: [{ day: '2024-05-15', irsa: 1, irsaFailed: 0, podIdentity: 2, podIdentityFailed: 0 }],
    };
    const { io, out } = recording();
    printEvidence(evidence, io);
    const text = out.join('\n');
    expectNothingRaw(text);
    expect(out[0]).toBe(`${displaySafe(HOSTILE_NAMES[4])} / ${displaySafe(HOSTILE_NAMES[5])}`);
    const saTable = text.split('\n\n')[1]!.split('\n');
    expect(saTable).toHaveLength(1 + 2 * HOSTILE_NAMES.length);
  });

  it('alerts: the text and the one-line forms', () => {
    for (const h of HOSTILE_NAMES) {
      const alert = hostileAlert(h);
      expectNothingRaw(alertText(alert));
      expect(alertLine(alert)).not.toMatch(RAW_UNSAFE);
      expect(alertLine(alert)).not.toContain('\n');
    }
  });

  it('table(): a cell cannot add a row or drive the terminal', () => {
    const out = table(['A', 'B'], HOSTILE_NAMES.map((h) => [h, 1]));
    expect(out.split('\n')).toHaveLength(1 + HOSTILE_NAMES.length);
    expectNothingRaw(out);
  });
});

function hostileAlert(h: string): Alert {
  return {
    id: `a:${h}`,
    detection: 'irsa-regression',
    severity: 'high',
    key: h,
    window: h,
    cluster: h,
    clusterArn: h,
    oidcIssuer: h,
    namespace: h,
    serviceAccount: h,
    roleArn: h,
    nodeRoleArn: h,
    nodeInstanceId: h,
    action: h,
    count: 1,
    firstEventTime: h,
    lastEventTime: h,
    sampleEventIds: [h],
    summary: h,
    likelyCause: h,
    nextStep: h,
    raisedAt: h,
  };
}


/** A strict RFC 4180 reader: CRLF records, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), (i += 1);
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') row.push(field), out.push(row), (row = []), (field = ''), (i += 1);
    else if (c === '\r' || c === '\n' || c === '"') throw new Error(`bare ${JSON.stringify(c)} at ${i}`);
    else field += c;
  }
  if (field !== '' || row.length > 0) throw new Error('last record without CRLF');
  return out;
}
