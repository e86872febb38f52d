import type { Command } from 'commander';
import type { DynamoEvidenceStore } from '../../../adapters/dynamo-evidence-store';
import type { EvidenceItem } from '../../../core/evidence';
import { placeCoverage, summarizeCoverage, type CoverageSummary } from '../../../core/coverage';
import { roleName } from '../../../core/readiness';
import { scopeId } from '../../../core/table-schema';
import { readinessReport } from '../../../adapters/readiness-query';
import { command, UsageError, type Io } from '../io';
import { requireMatches } from '../filters';
import { openView, outputFormat, printDocument, printRows, viewTable, withOutputOptions, type OutputFlags, type OutputFormat, type View } from '../output';
import { displaySafe, shortTime } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

export interface NamespaceEvidence {
  cluster: string;
  clusterArns: string[];
  oidcIssuers: string[];
  namespace: string;
  serviceAccounts: {
    serviceAccount: string;
    roles: string[];
    irsa: MechanismEvidence;
    podIdentity: MechanismEvidence;
    lastPod: string | null;
  }[];
  days: { day: string; irsa: number; irsaFailed: number; podIdentity: number; podIdentityFailed: number }[];
  /** Where complete CloudTrail ends for the cluster's account and regions (and us-east-1 of the account): what the timeline can show. */
  coverage: CoverageSummary[];
}

interface MechanismEvidence {
  firstSeen: string | null;
  lastSeen: string | null;
  lastFailed: string | null;
  lastError: string | null;
  assumes: number;
  failed: number;
}

export function evidenceCommand(program: Command, io: Io): void {
  withOutputOptions(
    withStoreOptions(
      program
        .command('evidence')
        .summary('the timeline behind a verdict: daily counts, first/last seen, service accounts, roles')
        .description(
          'Shows the evidence for one namespace of one cluster: per service account the first and last IRSA and Pod Identity assume, counts and roles, and the daily counts per mechanism.',
        )
        .requiredOption('-c, --cluster <name>', 'cluster name or ARN')
        .requiredOption('-n, --namespace <name>', 'Kubernetes namespace'),
    ),
    undefined,
    '{schemaVersion, cluster, clusterArns, oidcIssuers, namespace, serviceAccounts, days, coverage}',
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch evidence -c payments-prod -n checkout\n' +
        '  cutover-watch evidence -c payments-prod -n orders -o csv\n' +
        '\nExit codes: 0 done; 2 unusable arguments, a cluster or namespace the store has no evidence for (the known ones are listed), or no store.',
    )
    .action(async (flags: StoreOptions & OutputFlags & { cluster: string; namespace: string }) => {
      const format = outputFormat<OutputFormat>(flags, 'table');
      await withStore(flags, io, async ({ store }) => {
        const evidence = await namespaceEvidence(store, flags.cluster, flags.namespace, io);
        const view = openView(io, flags);
        try {
          if (format === 'json' || format === 'yaml') await printDocument(view.io, format, { ...evidence });
          else if (format === 'csv' || format === 'md') {
            printRows(view.io, format, ['day', 'irsa', 'irsa_failed', 'pod_identity', 'pod_identity_failed'], evidence.days.map((d) => [d.day, d.irsa, d.irsaFailed, d.podIdentity, d.podIdentityFailed]));
          } else printEvidence(evidence, view.io, { ...view, wide: format === 'wide' });
        } finally {
          await view.end();
        }
      }, { write: false });
    });
}

export async function namespaceEvidence(store: DynamoEvidenceStore, cluster: string, namespace: string, io: Pick<Io, 'invocation' | 'now'> = { now: () => new Date() }): Promise<NamespaceEvidence> {
  const [scopes, inventory] = await Promise.all([store.scopes(), store.loadInventory()]);
  const clusterArns = new Set<string>();
  for (const s of scopes) {
    if (s['kind'] === 'cluster' && (s['name'] === cluster || s['cluster'] === cluster)) clusterArns.add(String(s['name']));
  }
  const issuers = new Set<string>();
  for (const c of inventory.clusters) {
    if (c.name === cluster || c.arn === cluster) {
      clusterArns.add(c.arn);
      if (c.oidcIssuer) issuers.add(c.oidcIssuer);
    }
  }
  if (clusterArns.size === 0) {
    // clusters of the inventory (IRSA-only ones included) and of Pod Identity evidence
    const known = [...inventory.clusters.map((c) => c.name), ...scopes.filter((s) => s['kind'] === 'cluster').map((s) => String(s['cluster']))];
    requireMatches('cluster', [cluster], known, { hint: `run \`${command(io, 'analyze PATH')}\` first` });
  }
  const items = await store.namespaceEvidence(
    [...[...clusterArns].map((a) => scopeId('cluster', a)), ...[...issuers].map((i) => scopeId('issuer', i))],
    namespace,
  );
  const accounts = new Set([...clusterArns].map((arn) => arn.split(':')[4]));
  const places = placeCoverage(await store.coverageDays());
  const coverage = summarizeCoverage(places, { asOf: Number.MAX_SAFE_INTEGER }).filter(
    (c) => accounts.has(c.account) && ([...clusterArns].some((arn) => arn.split(':')[3] === c.region) || c.region === 'us-east-1'),
  );
  if (items.length === 0) {
    // A namespace name with a typo must not read as "no IRSA here": say so, with the ones that exist.
    const report = await readinessReport(store, { asOf: io.now(), soakDays: 14, activeHours: 24 });
    const known = report.namespaces.filter((n) => (n.clusterArn !== null && clusterArns.has(n.clusterArn)) || (n.oidcIssuer !== null && issuers.has(n.oidcIssuer))).map((n) => n.namespace);
    throw new UsageError(`no evidence for namespace '${namespace}' in ${cluster} (${known.length > 0 ? `known: ${[...new Set(known)].sort().slice(0, 12).join(', ')}${known.length > 12 ? ', …' : ''}` : 'none recorded for this cluster yet'})`);
  }
  return { ...shapeEvidence(cluster, [...clusterArns], [...issuers], namespace, items), coverage };
}

function shapeEvidence(cluster: string, clusterArns: string[], oidcIssuers: string[], namespace: string, items: EvidenceItem[]): Omit<NamespaceEvidence, 'coverage'> {
  const sas = new Map<string, NamespaceEvidence['serviceAccounts'][number]>();
  const days = new Map<string, NamespaceEvidence['days'][number]>();
  for (const item of items) {
    if (item.type === 'sa') {
      const name = String(item['serviceAccount']);
      const prior = sas.get(name);
      const mech = (p: string): MechanismEvidence => ({
        firstSeen: str(item[`${p}FirstOk`]),
        lastSeen: str(item[`${p}LastOk`]),
        lastFailed: str(item[`${p}LastFailed`]),
        lastError: str(item[`${p}LastError`]),
        assumes: num(item[`${p}Ok`]),
        failed: num(item[`${p}Failed`]),
      });
      const next = {
        serviceAccount: name,
        roles: [...new Set([...(prior?.roles ?? []), ...((item['roles'] as string[] | undefined) ?? [])])].sort(),
        irsa: String(item['scope']).startsWith('issuer:') ? mech('irsa') : (prior?.irsa ?? mech('irsa')),
        podIdentity: String(item['scope']).startsWith('cluster:') ? mech('pi') : (prior?.podIdentity ?? mech('pi')),
        lastPod: str(item['lastPod']) ?? prior?.lastPod ?? null,
      };
      sas.set(name, next);
    } else if (item.type === 'day') {
      const day = String(item['day']);
      const d = days.get(day) ?? { day, irsa: 0, irsaFailed: 0, podIdentity: 0, podIdentityFailed: 0 };
      d.irsa += num(item['irsaOk']);
      d.irsaFailed += num(item['irsaFailed']);
      d.podIdentity += num(item['piOk']);
      d.podIdentityFailed += num(item['piFailed']);
      days.set(day, d);
    }
  }
  return {
    cluster,
    clusterArns,
    oidcIssuers,
    namespace,
    serviceAccounts: [...sas.values()].sort((a, b) => a.serviceAccount.localeCompare(b.serviceAccount)),
    days: [...days.values()].sort((a, b) => a.day.localeCompare(b.day)),
  };
}

export function printEvidence(e: NamespaceEvidence, io: Io, view: Pick<View, 'width' | 'colour'> & { wide?: boolean } = { colour: false }): void {
  io.out(displaySafe(`${e.cluster} / ${e.namespace}`));
  io.out(
    displaySafe(
      e.coverage.length === 0
        ? `  evidence through: no complete CloudTrail of this cluster's account and region read yet (\`${command(io, 'coverage')}\`)`
        : `  evidence through: ${e.coverage.map((c) => `${c.account}/${c.region} ${c.through?.slice(0, 16).replace('T', ' ') ?? '-'}${c.gaps.length > 0 ? ` (${c.gaps.length} holes)` : ''}`).join(' · ')}`,
    ),
  );
  if (e.oidcIssuers.length === 0) io.out(`  (OIDC issuer not in the inventory: IRSA evidence cannot be shown; run \`${command(io, 'inventory import')}\`)`);
  if (e.serviceAccounts.length === 0) {
    io.out('no evidence for this namespace');
    return;
  }
  io.out('');
  io.out(
    viewTable(
      view,
      ['SERVICE ACCOUNT', 'MECHANISM', 'FIRST SEEN', 'LAST SEEN', 'ASSUMES', 'FAILED', 'LAST ERROR', 'ROLES'],
      e.serviceAccounts.flatMap((s) =>
        (
          [
            ['IRSA', s.irsa],
            ['Pod Identity', s.podIdentity],
          ] as const
        )
          .filter(([, m]) => m.assumes + m.failed > 0)
          .map(([label, m]) => [s.serviceAccount, label, shortTime(m.firstSeen), shortTime(m.lastSeen), m.assumes, m.failed, m.lastError, s.roles.map(roleName).join(', ')]),
      ),
      { wide: view.wide, flex: [6, 7] },
    ),
  );
  io.out('');
  io.out(
    viewTable(
      view,
      ['DAY', 'IRSA', 'IRSA FAILED', 'POD IDENTITY', 'PI FAILED'],
      e.days.map((d) => [d.day, d.irsa, d.irsaFailed, d.podIdentity, d.podIdentityFailed]),
    ),
  );
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
