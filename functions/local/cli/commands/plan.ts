import { InvalidArgumentError, Option, type Command } from 'commander';
import path from 'node:path';
import { buildPlan } from '../../../core/plan';
import { planMarkdownPieces, planScriptPieces, planTextPieces } from '../../../core/plan-render';
import { filterReport, withOwners, type StragglerReport } from '../../../core/report';
import { readReportInputs, reportFrom, type GatheredReport } from '../../report';
import { loadPolicy } from '../alert-options';
import { describeFilters, withFilterOptions, type FilterFlags } from '../filters';
import { type Io } from '../io';
import { activeHours, soakDays, timeArg } from '../options';
import { openView, outputFormat, printDocument, printLines, type OutputFlags } from '../output';
import { displaySafe } from '../render';
import { withStore, withStoreOptions, type StoreOptions } from '../store-options';
import { selectReadiness } from './readiness';

const OUTPUTS = ['text', 'md', 'json', 'yaml', 'sh'] as const;
type PlanOutput = (typeof OUTPUTS)[number];

interface PlanFlags extends StoreOptions, OutputFlags, Pick<FilterFlags, 'cluster' | 'namespace' | 'account'> {
  asOf?: Date;
  soakDays: number;
  activeHours: number;
  profile?: string;
  contextTemplate?: string;
  by?: 'owner';
  policy?: string;
}

/** A value pasted into every command: one line of printable characters, or it is a mistake. */
function oneLine(what: string, example: string) {
  return (value: string): string => {
    if (value.trim() === '' || !/^[\x21-\x7e]+$/.test(value)) throw new InvalidArgumentError(`expected a ${what} such as ${example} (printable, no spaces), got ${JSON.stringify(value)}`);
    return value;
  };
}

export function planCommand(program: Command, io: Io): void {
  withFilterOptions(
    withStoreOptions(
      program
        .command('plan')
        .summary('the migration plan: per cluster and namespace, the ordered steps with complete commands (text, md, json, sh)')
        .description(
          'What to run, in order, to move every service account still on IRSA to EKS Pod Identity and to clean up after the soak:\n' +
            '- first the preflight fixes (the Pod Identity Agent, an SDK too old, a trust policy that would deny);\n' +
            '- per service account: let its role trust pods.eks.amazonaws.com (the statement, read-edit-write with aws iam get-role, jq and update-assume-role-policy), ' +
            'aws eks create-pod-identity-association with --region, and restart only the Deployments, StatefulSets and DaemonSets that run as it (CronJobs pick it up on their next run);\n' +
            '- once its namespace is READY: remove the eks.amazonaws.com/role-arn annotation and its OIDC statement;\n' +
            "- once the cluster's OIDC provider is READY: delete it (behind the readiness --require READY gate); where it fits, eksctl utils migrate-to-pod-identity as a dry run.\n" +
            'The steps are those of `report` and `readiness --reasons` (one source). kubectl commands use --context (default: the cluster ARN, the name `aws eks update-kubeconfig` gives the context). ' +
            'Nothing is run: -o sh prints a bash script that runs reads as they are, asks before each change and leaves destructive commands commented out.',
        ),
    ),
    ['cluster', 'namespace', 'account'],
  )
    .addOption(new Option('-o, --output <format>', 'text (default), md, json or yaml (one document with schemaVersion), sh (a reviewable bash script)').choices(OUTPUTS))
    .option('--json', 'same as -o json')
    .option('--as-of <time>', 'plan as of this time: ISO 8601, or a span before now such as -1d (default: now)', timeArg(io.now))
    .option('--soak-days <days>', 'soak period S (at most 3650)', soakDays, 14)
    .option('--active-hours <hours>', 'active window A (at most 8760)', activeHours, 24)
    .option('--profile <name>', 'add --profile NAME to every aws command; {account} is replaced by the step\'s account (e.g. \'admin-{account}\')', oneLine('profile name', "admin or 'admin-{account}'"))
    .option('--context-template <template>', 'the kubectl context of each cluster: {arn} (default), {cluster}, {account}, {region}', oneLine('context template', "'{cluster}'"))
    .addOption(new Option('--by <grouping>', 'group the namespaces by their owner (the policy file\'s owners)').choices(['owner']))
    .option('--policy <file>', 'the policy file whose owners --by owner and every namespace show (default: ./cutover-watch.policy.json when it exists)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  cutover-watch plan                                   every step, per cluster and namespace\n' +
        '  cutover-watch plan -c payments-prod -n orders        one team\'s part\n' +
        "  cutover-watch plan -o sh > plan.sh && bash -n plan.sh   a script to review, then run\n" +
        "  cutover-watch plan --profile 'admin-{account}' --context-template '{cluster}' -o md\n" +
        '  cutover-watch plan --by owner                        grouped by the owners in the policy file\n' +
        "  cutover-watch plan -o json | jq '.clusters[].namespaces[].serviceAccounts[].steps[].commands[].run'\n" +
        '\nExit codes: 0 done; 2 unusable arguments, a bad policy file, a -c/-n/--account that matches nothing, or no store.',
    )
    .action(async (flags: PlanFlags) => {
      const format = outputFormat<PlanOutput>(flags, 'text');
      const { policy } = await loadPolicy({ policy: flags.policy }, io);
      // Read with the store open, planned once it is closed: its thread's memory goes before the plan's peak.
      const settings = { asOf: flags.asOf ?? io.now(), soakDays: flags.soakDays, activeHours: flags.activeHours };
      // The globs are checked as `readiness` checks them: a typo is exit 2 listing what is known. The
      // verdicts are not needed after.
      const checked = ({ report, readiness }: GatheredReport): StragglerReport => {
        selectReadiness(readiness, flags, io);
        return report;
      };
      const full = checked(reportFrom(await withStore(flags, io, ({ store }) => readReportInputs(store, settings), { write: false })));
      const report = withOwners(filterReport(full, { cluster: flags.cluster, namespace: flags.namespace, account: flags.account }), policy);
      const storeArgs = flags.table ? ['--table', flags.table, ...(flags.tableRegion ? ['--table-region', flags.tableRegion] : [])] : flags.store ? ['--store', path.resolve(io.cwd, flags.store)] : [];
      const plan = buildPlan(report, { profile: flags.profile ?? null, contextTemplate: flags.contextTemplate ?? null, invocation: io.invocation ?? 'cutover-watch', storeArgs });
      const view = openView(io, { ...flags, pager: format === 'sh' ? false : flags.pager });
      try {
        if (format === 'json' || format === 'yaml') {
          const selection = describeFilters(flags);
          await printDocument(view.io, format, { ...plan, ...(selection ? { filters: report.filters } : {}) });
        } else {
          // a namespace at a time: at 40,000 namespaces the text is ~60 MB
          const byOwner = flags.by === 'owner';
          await printLines(view.io, format === 'sh' ? planScriptPieces(plan) : format === 'md' ? planMarkdownPieces(plan, { byOwner }) : planTextPieces(plan, { byOwner }));
        }
      } finally {
        await view.end();
      }
      if (flags.by === 'owner' && policy.owners.length === 0) io.err(displaySafe('cutover-watch: note: the policy file names no owners: every namespace is under (no owner)'));
    });
}
