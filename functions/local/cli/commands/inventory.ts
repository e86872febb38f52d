import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { jsonErrorMessage } from '../../../core/envelopes';
import { emptyInventory, mergeInventory, parseInventoryDocument, type Inventory } from '../../../core/inventory';
import { roleName } from '../../../core/readiness';
import { command, UsageError, type Io } from '../io';
import { matcherOf, requireMatches, withFilterOptions, type FilterFlags } from '../filters';
import { outputFormat, printDocument, withOutputOptions, type OutputFlags } from '../output';
import { displaySafe, plural, table } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';
import path from 'node:path';
import { deliverAlerts, JsonlAlertLog } from '../../../adapters/alert-delivery';
import type { DynamoEvidenceStore } from '../../../adapters/dynamo-evidence-store';
import { placeParked } from '../../../adapters/placement';
import type { Alert } from '../../../core/alert';
import { loadPolicy } from '../alert-options';
import { printAlerts } from './analyze';

export function inventoryCommand(program: Command, io: Io): void {
  const inventory = program
    .command('inventory')
    .summary('the EKS side: which OIDC issuer is which cluster, Pod Identity associations, node roles')
    .description(
      'IRSA records name an OIDC issuer, not a cluster: import the clusters so IRSA evidence lands on the right cluster. Unmapped issuers are shown as such, never guessed.',
    );

  withOutputOptions(
    withStoreOptions(
      inventory
        .command('import')
        .summary('store the JSON printed by aws eks describe-cluster / list-pod-identity-associations / aws iam get-role / …')
        .argument('<file...>', 'JSON files printed by the AWS CLI'),
    ),
    ['table', 'json', 'yaml'],
    '{schemaVersion, clusters, associations, nodegroups}: the whole stored inventory',
  )
    .addHelpText(
      'after',
      '\nAccepted (the AWS CLI output, unchanged):\n' +
        '  aws eks describe-cluster --name C                   > describe-cluster-C.json      (issuer → cluster)\n' +
        '  aws eks list-pod-identity-associations --cluster-name C > associations-C.json    (who has an association)\n' +
        '  aws eks describe-pod-identity-association --cluster-name C --association-id A    (adds the role)\n' +
        '  aws eks describe-nodegroup --cluster-name C --nodegroup-name N                   (node role → cluster)\n' +
        '  aws eks describe-addon --cluster-name C --addon-name eks-pod-identity-agent      (the Pod Identity Agent: preflight)\n' +
        '  aws iam get-role --role-name R                  > get-role-R.json               (trust policy: preflight)\n' +
        '  aws iam get-role-policy --role-name R --policy-name P                             (an inline policy)\n' +
        '  aws iam list-attached-role-policies --role-name R > list-attached-role-policies--R.json   (the file name names the role)\n' +
        '  aws iam get-policy-version --policy-arn A --version-id V > get-policy-version--NAME.json    (the file name names the policy)\n' +
        '  aws iam get-account-authorization-details --filter Role LocalManagedPolicy      (all roles and policies at once)\n' +
        '\nExample:\n  cutover-watch inventory import inventory/*.json',
    )
    .action(async (files: string[], flags: StoreOptions & OutputFlags) => {
      const format = outputFormat<'table' | 'json' | 'yaml'>(flags, 'table');
      const parsed = await readInventoryFiles(files);
      await withStore(flags, io, async ({ store, where, localDir }) => {
        const merged = await store.saveInventory(parsed);
        const placement = await placeParkedAlerts(store, localDir, io);
        if (format !== 'table') await printDocument(io, format, { ...merged });
        else {
          io.out(
            `imported ${plural(parsed.clusters.length, 'cluster')}, ${plural(parsed.associations.length, 'association')}, ` +
              `${plural(parsed.nodegroups.length, 'node group')}` +
              `${parsed.addons?.length ? `, ${plural(parsed.addons.length, 'add-on')}` : ''}${parsed.roles?.length ? `, ${plural(parsed.roles.length, 'IAM role')}` : ''} into ${where}`,
          );
          printInventory(merged, io);
          printPlacement(placement, io);
        }
      });
    });

  withOutputOptions(withFilterOptions(withStoreOptions(inventory.command('show').summary('print the stored inventory')), ['cluster']), ['table', 'json', 'yaml'], '{schemaVersion, clusters, associations, nodegroups}')
    .addHelpText('after', '\nExamples:\n  cutover-watch inventory show\n  cutover-watch inventory show -c payments-prod -o yaml')
    .action(async (flags: StoreOptions & OutputFlags & Pick<FilterFlags, 'cluster'>) => {
      const format = outputFormat<'table' | 'json' | 'yaml'>(flags, 'table');
      await withStore(flags, io, async ({ store }) => {
        const all = await store.loadInventory();
        requireMatches('cluster', flags.cluster, all.clusters.map((c) => c.name), { alsoMatch: all.clusters.map((c) => c.arn), hint: `run \`${command(io, 'inventory import FILE…')}\` first` });
        const cluster = matcherOf(flags.cluster);
        const stored = cluster
          ? {
              ...all,
              clusters: all.clusters.filter((c) => cluster(c.name) || cluster(c.arn)),
              associations: all.associations.filter((a) => cluster(a.cluster) || (a.clusterArn !== null && a.clusterArn !== undefined && cluster(a.clusterArn))),
              nodegroups: all.nodegroups.filter((n) => cluster(n.cluster)),
              ...(all.addons ? { addons: all.addons.filter((a) => cluster(a.cluster) || (a.clusterArn !== null && cluster(a.clusterArn))) } : {}),
            }
          : all;
        if (format !== 'table') await printDocument(io, format, { ...stored });
        else printInventory(stored, io);
      }, { write: false });
    });
}

/** Parses every file first: one bad file stores nothing, and the message names it. */
export async function readInventoryFiles(files: readonly string[]): Promise<Inventory> {
  let parsed = emptyInventory();
  for (const file of files) {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? `a folder: name its files (${path.join(file, '*.json')})` : code ? (e as Error).message : `not JSON: ${jsonErrorMessage(e)}`;
      throw new UsageError(displaySafe(`${file}: ${why}`));
    }
    const result = parseInventoryDocument(doc, { fileName: file });
    if (!result.ok) throw new UsageError(displaySafe(`${file}: ${result.reason}`));
    parsed = mergeInventory(parsed, result.inventory);
  }
  return parsed;
}

function printInventory(inv: Inventory, io: Io): void {
  if (inv.clusters.length + inv.associations.length + inv.nodegroups.length + (inv.roles?.length ?? 0) + (inv.addons?.length ?? 0) === 0) {
    io.out(`the inventory is empty: run \`${command(io, 'inventory import FILE…')}\``);
    return;
  }
  io.out('');
  io.out(table(['CLUSTER', 'REGION', 'ACCOUNT', 'OIDC ISSUER'], inv.clusters.map((c) => [c.name, c.region, c.account, c.oidcIssuer])));
  if (inv.associations.length > 0) {
    io.out('');
    io.out(
      table(
        ['CLUSTER', 'NAMESPACE', 'SERVICE ACCOUNT', 'ROLE', 'SESSION TAGS'],
        inv.associations.map((a) => [a.cluster, a.namespace, a.serviceAccount, a.roleArn ? roleName(a.roleArn) : '(list only)', a.disableSessionTags === null ? '-' : a.disableSessionTags ? 'disabled' : 'on']),
      ),
    );
  }
  if (inv.nodegroups.length > 0) {
    io.out('');
    io.out(table(['CLUSTER', 'NODE GROUP', 'NODE ROLE'], inv.nodegroups.map((n) => [n.cluster, n.nodegroup, roleName(n.nodeRoleArn)])));
  }
  if ((inv.addons ?? []).length > 0) {
    io.out('');
    io.out(table(['CLUSTER', 'ADD-ON', 'STATUS', 'VERSION'], inv.addons!.map((a) => [a.cluster, a.addonName, a.status, a.addonVersion])));
  }
  if ((inv.roles ?? []).length > 0) {
    io.out('');
    io.out(
      table(
        ['ROLE', 'TRUST STATEMENTS', 'INLINE POLICIES', 'ATTACHED POLICIES'],
        inv.roles!.map((r) => [
          r.arn.startsWith('name:') ? `${r.name} (get-role not imported)` : r.arn,
          r.trustPolicy === null ? '-' : statementCount(r.trustPolicy),
          r.inlinePolicies === null ? '-' : r.inlinePolicies.length,
          r.attachedPolicies === null ? '-' : r.attachedPolicies.length,
        ]),
      ),
    );
  }
}

function statementCount(doc: Record<string, unknown>): number {
  const s = doc['Statement'];
  return Array.isArray(s) ? s.length : s ? 1 : 0;
}

/**
 * After the inventory changed: the alerts that waited for IRSA to be placed in a cluster, recorded
 * once and appended to alerts.jsonl (the policy file of the working directory applies).
 */
export async function placeParkedAlerts(store: DynamoEvidenceStore, localDir: string, io: Io): Promise<{ placed: number; alerts: Alert[] }> {
  const { policy } = await loadPolicy({}, io);
  const placement = await placeParked(store, policy, io.now());
  if (placement.alerts.length > 0) {
    const failures = await deliverAlerts(placement.alerts, [new JsonlAlertLog(path.join(localDir, 'alerts.jsonl'))]);
    for (const f of failures) io.err(`cutover-watch: alert not written to ${f.sink}: ${f.message}`);
  }
  return placement;
}

export function printPlacement(placement: { placed: number; alerts: Alert[] }, io: Io): void {
  if (placement.placed === 0) return;
  io.out('');
  io.out(`placed ${plural(placement.placed, 'IRSA event')} read before their cluster was known; the detections that needed it ran over them`);
  printAlerts(placement.alerts, io);
}
