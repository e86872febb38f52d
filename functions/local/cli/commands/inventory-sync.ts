import type { EKSClient } from '@aws-sdk/client-eks';
import type { IAMClient } from '@aws-sdk/client-iam';
import { rolesToRead, syncRoles } from '../../../adapters/iam-roles';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { AwsFatalError, eksClient, syncInventory, type InventoryProblem, type SyncResult } from '../../../adapters/eks-inventory';
import { mergeInventory, type Inventory } from '../../../core/inventory';
import { UsageError, type Io } from '../io';
import { outputFormat, printDocument, withOutputOptions, type OutputFlags } from '../output';
import { placeParkedAlerts, printPlacement } from './inventory';
import { collect } from '../options';
import { plural, table } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';

/** AWS region names: `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`. */
export const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** Flags of a command that reads AWS regions and stores into the store (`--region` repeatable). */
export interface RegionStoreFlags extends Omit<StoreOptions, 'region'> {
  region?: string[];
  tableRegion?: string;
}

/**
 * The store options' `--region` names the region of --table; a command that reads several regions
 * takes `--region` repeatable instead, and the table's region moves to `--table-region`.
 */
export function withRegionList(command: Command, what: string): Command {
  const description = `${what} (repeatable; default: AWS_REGION)`;
  const existing = command.options.find((o) => o.long === '--region');
  if (existing) {
    existing.description = description;
    existing.argParser(collect);
  } else {
    command.option('--region <region>', description, collect);
  }
  return command.option('--table-region <region>', 'AWS region of --table (default: the first --region)');
}

/** The regions to read: the flags, else AWS_REGION / AWS_DEFAULT_REGION; each must look like a region name. */
export function resolveRegions(flags: string[] | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'];
  const regions = flags && flags.length > 0 ? flags : fromEnv ? [fromEnv] : [];
  if (regions.length === 0) throw new UsageError('no region: pass --region (e.g. --region us-east-1) or set AWS_REGION');
  for (const region of regions) {
    if (!REGION_PATTERN.test(region)) {
      throw new UsageError(`${JSON.stringify(region)} is not an AWS region name such as us-east-1, eu-west-2 or us-gov-west-1`);
    }
  }
  return [...new Set(regions)];
}

/** The store options for `withStore`: the table lives in --table-region, else the first region read. */
export function storeOptionsOf(flags: RegionStoreFlags, regions: readonly string[]): StoreOptions {
  return { store: flags.store, table: flags.table, endpoint: flags.endpoint, region: flags.tableRegion ?? regions[0] };
}

interface SyncFlags extends RegionStoreFlags, OutputFlags {
  cluster?: string[];
}

export interface InventorySyncDeps {
  /** @default eksClient (default credential chain, adaptive retry) */
  clientFor?: (region: string) => EKSClient;
  /** @default iamClient (per partition) */
  iamClientFor?: (partition: string) => IAMClient;
  env?: NodeJS.ProcessEnv;
}

/**
 * `inventory sync`: reads the inventory from the EKS API and stores it like `inventory import`.
 * Exit codes: 0 all read; 1 some clusters, associations or node groups could not be read (each is
 * printed); 2 none could, or bad arguments, expired credentials, an unknown region.
 */
export function inventorySyncCommand(inventory: Command, io: Io, setExit: (code: number) => void, deps: InventorySyncDeps = {}): void {
  withRegionList(
    withOutputOptions(withStoreOptions(
      inventory
        .command('sync')
        .summary('read clusters, Pod Identity associations and node groups from the EKS API into the store')
        .description(
          'Reads every EKS cluster of the regions (or the --cluster ones) with the default AWS credentials: ' +
            'the OIDC issuer of each cluster, its Pod Identity associations with their roles, the node role of each managed node group and its eks-pod-identity-agent add-on, ' +
            'then the IAM roles of the associations and of the IRSA evidence (trust, inline and customer managed policies, for the preflight), ' +
            'and stores them as `inventory import` does. A cluster, association or node group that cannot be read is reported with the permission it needs; the rest is still synced.',
        )
        .option('-c, --cluster <name>', 'only this cluster (repeatable)', collect),
    ), ['table', 'json', 'yaml'], '{schemaVersion, stored, store, clusters, inventory, problems}'),
    'EKS region to read',
  )
    .addHelpText(
      'after',
      '\nPermissions: eks:ListClusters, eks:DescribeCluster, eks:ListPodIdentityAssociations, eks:DescribePodIdentityAssociation, eks:ListNodegroups, eks:DescribeNodegroup,\n' +
        'eks:ListAddons, eks:DescribeAddon; for the preflight, iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy, iam:ListAttachedRolePolicies, iam:GetPolicy, iam:GetPolicyVersion.\n' +
        '\nExamples:\n' +
        '  cutover-watch inventory sync --region us-east-1 --region us-west-2\n' +
        '  cutover-watch inventory sync --cluster payments-prod --table cutover-watch-evidence --table-region us-east-1\n' +
        '\nExit codes: 0 everything read; 1 some clusters, associations or node groups could not be read;\n' +
        '2 nothing could be read, bad arguments, expired credentials or an unknown region.',
    )
    .action(async (flags: SyncFlags) => {
      const format = outputFormat<'table' | 'json' | 'yaml'>(flags, 'table');
      const regions = resolveRegions(flags.region, deps.env);
      const clients: EKSClient[] = [];
      const clientFor = (region: string) => {
        const client = (deps.clientFor ?? eksClient)(region);
        clients.push(client);
        return client;
      };
      const bar =
        io.interactive && format === 'table'
          ? new cliProgress.SingleBar({ format: 'inventory sync | {value} clusters | {where}', stream: io.progressStream, hideCursor: true, clearOnComplete: true })
          : null;
      bar?.start(0, 0, { where: regions.join(', ') });
      let result: SyncResult;
      try {
        result = await syncInventory({
          regions,
          clusters: flags.cluster,
          clientFor,
          onCluster: (region, cluster) => bar?.increment(1, { where: `${region} ${cluster}` }),
        });
      } catch (e) {
        if (e instanceof AwsFatalError) throw new UsageError(e.message, { cause: e });
        throw e;
      } finally {
        bar?.stop();
        for (const client of clients) client.destroy();
      }

      if (result.clusters === 0 && result.problems.length > 0) {
        // Nothing was read: store nothing, say why.
        if (format !== 'table') printDocument(io, format, { stored: false, clusters: 0, inventory: result.inventory, problems: result.problems });
        printProblems(result.problems, io);
        io.err(`no cluster could be read in ${regions.join(', ')}: nothing stored`);
        setExit(2);
        return;
      }
      await withStore(storeOptionsOf(flags, regions), io, async ({ store, where, localDir }) => {
        // The preflight's IAM side: the associations' roles and every role IRSA evidence names.
        try {
          const roles = await syncRoles({ roleArns: await rolesToRead(result.inventory, store), clientFor: deps.iamClientFor });
          result.inventory = mergeInventory(result.inventory, roles.inventory);
          result.problems.push(...roles.problems);
        } catch (e) {
          if (e instanceof AwsFatalError) throw new UsageError(e.message, { cause: e });
          throw e;
        }
        await store.saveInventory(result.inventory);
        const placement = await placeParkedAlerts(store, localDir, io);
        if (format !== 'table') {
          printDocument(io, format, { stored: true, store: where, clusters: result.clusters, inventory: result.inventory, problems: result.problems });
        } else {
          io.out(
            `synced ${plural(result.clusters, 'cluster')}, ${plural(result.inventory.associations.length, 'association')}, ` +
              `${plural(result.inventory.nodegroups.length, 'node group')}${result.inventory.roles?.length ? `, ${plural(result.inventory.roles.length, 'IAM role')}` : ''} from ${regions.join(', ')} into ${where}`,
          );
          if (result.clusters > 0) {
            io.out('');
            io.out(clusterTable(result.inventory));
          } else {
            io.out(`no EKS clusters${flags.cluster?.length ? ` named ${flags.cluster.join(', ')}` : ''} in ${regions.join(', ')}`);
          }
          printPlacement(placement, io);
        }
      });
      printProblems(result.problems, io);
      if (result.problems.length > 0) setExit(1);
    });
}

function clusterTable(inv: Inventory): string {
  return table(
    ['CLUSTER', 'REGION', 'OIDC ISSUER', 'ASSOCIATIONS', 'WITH ROLE', 'NODE GROUPS'],
    inv.clusters.map((c) => {
      const associations = inv.associations.filter((a) => (a.clusterArn ? a.clusterArn === c.arn : a.cluster === c.name));
      return [
        c.name,
        c.region,
        c.oidcIssuer,
        associations.length,
        associations.filter((a) => a.roleArn !== null).length,
        inv.nodegroups.filter((n) => n.cluster === c.name).length,
      ];
    }),
  );
}

function printProblems(problems: readonly InventoryProblem[], io: Io): void {
  if (problems.length === 0) return;
  io.err(`${plural(problems.length, 'problem')}:`);
  for (const p of problems) io.err(`  ${p.region}${p.cluster ? ` ${p.cluster}` : ''}: ${p.operation}: ${p.reason}`);
}
