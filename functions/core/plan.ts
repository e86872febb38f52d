import { groupedBy } from './collections';
import { ArrayAsWritten, shellCommand, shellQuote } from './display';
import { roleName } from './keys';
import type { Owner } from './policy';
import type { PreflightFinding } from './preflight';
import type { Verdict } from './readiness';
import type { ClusterSection, NextStep, Straggler, StragglerReport } from './report';

/**
 * The migration plan: per cluster, namespace and service account, the ordered steps of the switch
 * from IRSA to EKS Pod Identity, each with complete commands built from argv (`shellCommand`), so
 * a name is never left unquoted. The report (core/report.ts) builds every straggler's commands
 * with these functions and the default options; `cutover-watch plan` builds the same steps with
 * the user's `--profile` and `--context-template`: one source for what to do next. Pure.
 *
 * Command syntax, per reference page:
 * - aws eks create-pod-identity-association: https://docs.aws.amazon.com/cli/latest/reference/eks/create-pod-identity-association.html
 * - aws iam get-role: https://docs.aws.amazon.com/cli/latest/reference/iam/get-role.html
 * - aws iam update-assume-role-policy (replaces the whole trust policy, so the current one is read first):
 *   https://docs.aws.amazon.com/cli/latest/reference/iam/update-assume-role-policy.html
 * - aws iam delete-open-id-connect-provider ("does not update any roles that reference the provider"):
 *   https://docs.aws.amazon.com/cli/latest/reference/iam/delete-open-id-connect-provider.html
 * - the Pod Identity trust statement (pods.eks.amazonaws.com, sts:AssumeRole and sts:TagSession):
 *   https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html
 * - kubectl rollout restart RESOURCE: https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/kubectl_rollout_restart/
 * - kubectl annotate, `KEY-` removes an annotation: https://kubernetes.io/docs/reference/kubectl/generated/kubectl_annotate/
 * - kubectl JSONPath filters `?(@.field=="value")`: https://kubernetes.io/docs/reference/kubectl/jsonpath/
 * - eksctl utils migrate-to-pod-identity (a plan without --approve): https://docs.aws.amazon.com/eks/latest/eksctl/pod-identity-associations.html
 */

/** What running a command does: `read` and `local` change nothing in AWS or the cluster. */
export type CommandEffect = 'read' | 'local' | 'change' | 'destructive';

export interface PlanCommand {
  /** One complete shell line, every name quoted. */
  run: string;
  effect: CommandEffect;
  /** A check that exits non-zero when the commands after it must not run (`readiness --require READY`). */
  gate?: boolean;
}

export type PlanStepKind =
  /** A preflight finding's fix (core/preflight.ts): before anything else. */
  | 'preflight'
  /** Add the pods.eks.amazonaws.com statement to the role's trust policy (keeping the OIDC one). */
  | 'trust-pod-identity'
  | 'create-association'
  /** Restart only the workloads whose pod template runs as the service account. */
  | 'restart-workloads'
  | 'remove-annotation'
  | 'remove-oidc-statement'
  | 'delete-oidc-provider'
  /** eksctl's own migration: where it fits, and as a dry run. */
  | 'eksctl-migrate';

export interface PlanStep {
  kind: PlanStepKind;
  /** A few words: what the step does. */
  title: string;
  /** One sentence: why, and what it needs first. */
  why: string;
  /** The strongest effect of its commands. */
  effect: CommandEffect;
  /** Where its AWS commands run; null for kubectl-only steps. */
  account: string | null;
  region: string | null;
  commands: PlanCommand[];
  /** A policy document or statement the step applies (the JSON a person reviews). */
  document?: unknown;
  notes: string[];
  /** `preflight` steps: the finding's kind. */
  finding?: PreflightFinding['kind'];
}

export interface PlanOptions {
  /** `--profile` for every aws command; `{account}` is replaced by the step's account. Null: the default credentials (the steps say which account). */
  profile?: string | null;
  /**
   * The kubectl context per cluster: `{cluster}`, `{arn}`, `{account}`, `{region}` are replaced.
   * Default `{arn}`: the context name `aws eks update-kubeconfig` writes ("the cluster ARN by
   * default", https://docs.aws.amazon.com/cli/latest/reference/eks/update-kubeconfig.html).
   */
  contextTemplate?: string | null;
  /** How to invoke cutover-watch in a gate command. @default cutover-watch */
  invocation?: string;
  /** The store the gate reads (`--store DIR`, `--table NAME --region R`), as the plan was made from. */
  storeArgs?: readonly string[];
}

export const DEFAULT_CONTEXT_TEMPLATE = '{arn}';

/** The statement EKS documents for a role Pod Identity assumes. */
export const POD_IDENTITY_TRUST_STATEMENT = {
  Sid: 'AllowEksAuthToAssumeRoleForPodIdentity',
  Effect: 'Allow',
  Principal: { Service: 'pods.eks.amazonaws.com' },
  Action: ['sts:AssumeRole', 'sts:TagSession'],
} as const;

/** Where a straggler's commands apply: what `Straggler` carries, and no more. */
export type StepSubject = Pick<
  Straggler,
  'clusterArn' | 'oidcIssuer' | 'namespace' | 'serviceAccount' | 'role' | 'nextStep' | 'associationRole' | 'hasAssociation'
> & { clusterName: string | null };

const ANNOTATION = 'eks.amazonaws.com/role-arn';

/** `arn:aws:eks:us-east-1:111122223333:cluster/payments-prod` → its parts, or nulls. */
export function clusterArnParts(arn: string | null): { partition: string; region: string | null; account: string | null; name: string | null } {
  const parts = arn?.split(':') ?? [];
  const resource = parts[5] ?? '';
  return {
    partition: parts[1] || 'aws',
    region: parts[3] || null,
    account: /^\d{12}$/.test(parts[4] ?? '') ? parts[4]! : null,
    name: resource.startsWith('cluster/') ? resource.slice('cluster/'.length) : null,
  };
}

const accountOfRole = (arn: string | null): string | null => {
  const account = arn?.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : null;
};

/** The kubectl context of a cluster under the options' template. */
export function contextOf(clusterArn: string | null, clusterName: string | null, options: PlanOptions = {}): string {
  const p = clusterArnParts(clusterArn);
  const template = options.contextTemplate ?? DEFAULT_CONTEXT_TEMPLATE;
  return template
    .replaceAll('{arn}', clusterArn ?? clusterName ?? '<context>')
    .replaceAll('{cluster}', clusterName ?? p.name ?? '<cluster>')
    .replaceAll('{account}', p.account ?? '<account>')
    .replaceAll('{region}', p.region ?? '<region>');
}

/** `aws …` argv with `--profile` when the options give one (its `{account}` filled in). */
function aws(options: PlanOptions, account: string | null, ...args: string[]): string[] {
  const argv = ['aws', ...args];
  if (options.profile) argv.push('--profile', options.profile.replaceAll('{account}', account ?? '<account>'));
  return argv;
}

function kubectl(context: string, namespace: string, ...args: string[]): string[] {
  return ['kubectl', '--context', context, '-n', namespace, ...args];
}

const strongest = (commands: readonly PlanCommand[]): CommandEffect => {
  const order: CommandEffect[] = ['read', 'local', 'change', 'destructive'];
  return commands.reduce<CommandEffect>((m, c) => (order.indexOf(c.effect) > order.indexOf(m) ? c.effect : m), 'read');
};

function step(fields: Omit<PlanStep, 'effect' | 'notes'> & { notes?: string[] }): PlanStep {
  return { ...fields, effect: strongest(fields.commands), notes: fields.notes ?? [] };
}

/** The file a role's current trust policy is read into (role names hold only `[\w+=,.@-]`, but it is quoted anyway). */
const trustFile = (role: string, suffix = '') => `trust-${roleName(role)}${suffix}.json`;

/** `aws iam get-role … > trust-ROLE.json`: the current trust policy, which update-assume-role-policy would replace whole. */
function readTrust(options: PlanOptions, role: string): PlanCommand {
  return {
    run: `${shellCommand(aws(options, accountOfRole(role), 'iam', 'get-role', '--role-name', roleName(role), '--query', 'Role.AssumeRolePolicyDocument', '--output', 'json'))} > ${shellQuote(trustFile(role))}`,
    effect: 'read',
  };
}

/** Lets the role trust pods.eks.amazonaws.com, keeping every other statement (the OIDC one keeps IRSA working meanwhile). */
export function trustPodIdentityStep(subject: StepSubject, options: PlanOptions): PlanStep {
  const role = subject.associationRole ?? subject.role;
  const account = accountOfRole(role);
  if (role === null) {
    return step({
      kind: 'trust-pod-identity',
      title: 'let the role trust pods.eks.amazonaws.com',
      why: `the evidence names no role for ${subject.serviceAccount}: find it (\`kubectl get serviceaccount ${subject.serviceAccount} -n ${subject.namespace} -o yaml\`, annotation ${ANNOTATION}) and add the statement below to its trust policy`,
      account,
      region: null,
      commands: [{ run: shellCommand(kubectl(contextOf(subject.clusterArn, subject.clusterName, options), subject.namespace, 'get', 'serviceaccount', subject.serviceAccount, '-o', `jsonpath={.metadata.annotations.${ANNOTATION.replaceAll('.', '\\.')}}`)), effect: 'read' }],
      document: POD_IDENTITY_TRUST_STATEMENT,
    });
  }
  // Replaces a statement of the same Sid, so running it twice changes nothing the second time.
  const jq = [
    'jq',
    '--argjson', 'statement', JSON.stringify(POD_IDENTITY_TRUST_STATEMENT),
    '.Statement |= (map(select(.Sid != $statement.Sid)) + [$statement])',
    trustFile(role),
  ];
  return step({
    kind: 'trust-pod-identity',
    title: `let ${roleName(role)} trust pods.eks.amazonaws.com`,
    why: `Pod Identity assumes the role as pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession; without both every assume is denied. The OIDC statement stays until the namespace is READY`,
    account,
    region: null,
    commands: [
      readTrust(options, role),
      { run: `${shellCommand(jq)} > ${shellQuote(trustFile(role, '.pod-identity'))}`, effect: 'local' },
      {
        run: shellCommand(aws(options, account, 'iam', 'update-assume-role-policy', '--role-name', roleName(role), '--policy-document', `file://${trustFile(role, '.pod-identity')}`)),
        effect: 'change',
      },
    ],
    document: POD_IDENTITY_TRUST_STATEMENT,
  });
}

export function createAssociationStep(subject: StepSubject, options: PlanOptions): PlanStep {
  const p = clusterArnParts(subject.clusterArn);
  const argv = aws(
    options,
    p.account,
    'eks', 'create-pod-identity-association',
    '--cluster-name', subject.clusterName ?? p.name ?? '<cluster>',
    '--namespace', subject.namespace,
    '--service-account', subject.serviceAccount,
    '--role-arn', subject.role ?? '<role ARN>',
    '--region', p.region ?? '<region>',
  );
  return step({
    kind: 'create-association',
    title: `create the Pod Identity association for ${subject.namespace}/${subject.serviceAccount}`,
    why: 'pods started after it get the EKS Pod Identity environment (the Pod Identity Agent serves their credentials); the role must trust pods.eks.amazonaws.com first',
    account: p.account,
    region: p.region,
    commands: [{ run: shellCommand(argv), effect: 'change' }],
    notes: subject.role === null ? ['the evidence names no role: use the one in the service account\'s eks.amazonaws.com/role-arn annotation'] : [],
  });
}

/**
 * Restarts only what runs as the service account: the Deployments, StatefulSets and DaemonSets
 * whose pod template names it. CronJobs and Jobs are listed, not restarted: the next run starts
 * new pods, which get the new credentials.
 */
export function restartWorkloadsStep(subject: StepSubject, options: PlanOptions): PlanStep {
  const context = contextOf(subject.clusterArn, subject.clusterName, options);
  const sa = JSON.stringify(subject.serviceAccount);
  const names = `{range .items[?(@.spec.template.spec.serviceAccountName==${sa})]}{.metadata.name}{"\\n"}{end}`;
  const restart =
    `for kind in deployment statefulset daemonset; do ` +
    `${shellCommand(kubectl(context, subject.namespace, 'get'))} "$kind" -o ${shellQuote(`jsonpath=${names}`)} | ` +
    `while read -r name; do ${shellCommand(kubectl(context, subject.namespace, 'rollout', 'restart'))} "$kind/$name"; done; done`;
  const cronJobs = shellCommand(
    kubectl(context, subject.namespace, 'get', 'cronjobs', '-o', `jsonpath={range .items[?(@.spec.jobTemplate.spec.template.spec.serviceAccountName==${sa})]}{.metadata.name}{"\\n"}{end}`),
  );
  const notes = ['CronJobs and Jobs that run as it pick Pod Identity up on their next run (the second command lists the CronJobs); a Job running now finishes on IRSA'];
  if (subject.serviceAccount === 'default') notes.push('pods that name no service account run as default too: the filter does not find those, restart them by name');
  return step({
    kind: 'restart-workloads',
    title: `restart the workloads that run as ${subject.serviceAccount}`,
    why: 'running pods keep the credentials they started with: only new pods get Pod Identity',
    account: null,
    region: null,
    commands: [
      { run: restart, effect: 'change' },
      { run: cronJobs, effect: 'read' },
    ],
    notes,
  });
}

export function removeAnnotationStep(subject: StepSubject, options: PlanOptions): PlanStep {
  const context = contextOf(subject.clusterArn, subject.clusterName, options);
  return step({
    kind: 'remove-annotation',
    title: `remove the ${ANNOTATION} annotation from ${subject.serviceAccount}`,
    why: 'a pod started from a spec that still carries it gets the IRSA environment back (an irsa-regression); remove it in the manifest or chart too, or the next deploy puts it back',
    account: null,
    region: null,
    commands: [{ run: shellCommand(kubectl(context, subject.namespace, 'annotate', 'serviceaccount', subject.serviceAccount, `${ANNOTATION}-`)), effect: 'change' }],
  });
}

/** The IAM OIDC provider ARN of an issuer in an account: `arn:aws:iam::ACCOUNT:oidc-provider/oidc.eks…/id/X`. */
export function oidcProviderArn(partition: string, account: string, issuer: string): string {
  return `arn:${partition}:iam::${account}:oidc-provider/${issuer}`;
}

export function removeOidcStatementStep(subject: StepSubject, options: PlanOptions): PlanStep {
  const role = subject.role;
  const issuer = subject.oidcIssuer;
  const account = accountOfRole(role);
  if (role === null || issuer === null || account === null) {
    return step({
      kind: 'remove-oidc-statement',
      title: 'remove the OIDC statement from the role trust policy',
      why: `remove the statement that lets system:serviceaccount:${subject.namespace}:${subject.serviceAccount} in through ${issuer ?? 'the OIDC provider'}; the evidence names no role or issuer to build the command from`,
      account,
      region: null,
      commands: [],
    });
  }
  const provider = oidcProviderArn(clusterArnParts(subject.clusterArn).partition, account, issuer);
  const jq = [
    'jq',
    '--arg', 'provider', provider,
    '--arg', 'key', `${issuer}:sub`,
    '--arg', 'sub', `system:serviceaccount:${subject.namespace}:${subject.serviceAccount}`,
    '.Statement |= map(select(((.Principal.Federated? // "") == $provider and ([.Condition[]?[$key]?] | flatten | index($sub)) != null) | not))',
    trustFile(role),
  ];
  return step({
    kind: 'remove-oidc-statement',
    title: `remove ${subject.namespace}/${subject.serviceAccount}'s OIDC statement from ${roleName(role)}`,
    why: 'soak complete: nothing assumed the role through IRSA for the whole soak period; the statement is what the OIDC provider still grants',
    account,
    region: null,
    commands: [
      readTrust(options, role),
      { run: `${shellCommand(jq)} > ${shellQuote(trustFile(role, '.no-oidc'))}`, effect: 'local' },
      { run: `${shellCommand(['diff', trustFile(role), trustFile(role, '.no-oidc')])} || true`, effect: 'local' },
      {
        run: shellCommand(aws(options, account, 'iam', 'update-assume-role-policy', '--role-name', roleName(role), '--policy-document', `file://${trustFile(role, '.no-oidc')}`)),
        effect: 'destructive',
      },
    ],
    notes: ['a statement whose sub condition also names other service accounts is removed whole: check the diff and keep theirs'],
  });
}

/** The steps of one straggler (or clean-up), preflight fixes first. */
export function serviceAccountSteps(subject: StepSubject, findings: readonly PreflightFinding[], options: PlanOptions): PlanStep[] {
  const steps = findings.map((f) => preflightStep(f, options));
  // A trust finding's fix already writes the role's whole trust policy: a second edit would only repeat it.
  const trust = findings.some((f) => f.kind === 'trust-no-pods-principal' || f.kind === 'trust-no-tag-session') ? [] : [trustPodIdentityStep(subject, options)];
  const byStep: Record<NextStep, () => PlanStep[]> = {
    'create-association': () => [...trust, createAssociationStep(subject, options), restartWorkloadsStep(subject, options)],
    'check-trust-policy': () => [...trust, restartWorkloadsStep(subject, options)],
    'restart-pods': () => [restartWorkloadsStep(subject, options)],
    'clean-up': () => [removeAnnotationStep(subject, options), removeOidcStatementStep(subject, options)],
  };
  return [...steps, ...byStep[subject.nextStep]()];
}

/** A read-only AWS or kubectl call (get/describe/list) changes nothing; anything else a finding suggests is a change. */
function effectOfArgv(argv: readonly string[]): CommandEffect {
  const verb = argv[0] === 'aws' ? argv[2] : argv[0] === 'kubectl' ? argv.find((a) => !a.startsWith('-') && a !== 'kubectl') : undefined;
  if (verb && /^(get|describe|list)/.test(verb)) return 'read';
  if (argv[0] === 'aws' && /^delete/.test(argv[2] ?? '')) return 'destructive';
  return 'change';
}

export function preflightStep(finding: PreflightFinding, options: PlanOptions): PlanStep {
  const commands = finding.fix.commands.map((argv): PlanCommand => {
    let full = [...argv];
    if (argv[0] === 'aws' && options.profile && !argv.includes('--profile')) full = aws(options, finding.account, ...argv.slice(1));
    // Every kubectl command names its cluster, as the plan's own do.
    if (argv[0] === 'kubectl' && !argv.includes('--context') && finding.clusterArn !== null) full = ['kubectl', '--context', contextOf(finding.clusterArn, finding.cluster, options), ...argv.slice(1)];
    return { run: shellCommand(full), effect: effectOfArgv(argv) };
  });
  const fields: Omit<PlanStep, 'effect' | 'notes'> & { notes?: string[] } = {
    kind: 'preflight',
    title: finding.fix.text,
    why: `${finding.severity === 'blocker' ? 'before the switch: ' : ''}${finding.summary} (${finding.evidence})`,
    account: finding.account,
    region: finding.region,
    commands,
    finding: finding.kind,
  };
  if (finding.fix.document !== undefined) fields.document = finding.fix.document;
  return step(fields);
}

/** Whether a finding is about this straggler: its service account, else its role, within its cluster. */
export function findingApplies(f: PreflightFinding, s: Pick<Straggler, 'clusterArn' | 'namespace' | 'serviceAccount' | 'role' | 'associationRole' | 'nextStep'>): boolean {
  if (f.clusterArn !== null && s.clusterArn !== null && f.clusterArn !== s.clusterArn) return false;
  // Clean-up findings belong to clean-up rows, switch findings to the switch.
  if ((f.severity === 'cleanup') !== (s.nextStep === 'clean-up')) return false;
  if (f.namespace !== null) return f.namespace === s.namespace && (f.serviceAccount === null || f.serviceAccount === s.serviceAccount);
  // A role finding (a trust policy) is about every row that assumes that role, through IRSA or its association.
  if (f.roleArn !== null) return f.roleArn === s.role || f.roleArn === s.associationRole;
  return false;
}

/** Cluster-wide findings (the Pod Identity Agent, …): no namespace and no role. */
export const isClusterFinding = (f: PreflightFinding): boolean => f.namespace === null && f.roleArn === null;

/**
 * What to do at the cluster's level: the cluster-wide preflight fixes (before any of its
 * namespaces), eksctl's migration where it fits, and the OIDC provider's deletion once its
 * verdict is READY (after every clean-up).
 */
export function clusterSteps(
  c: Pick<ClusterSection, 'clusterArn' | 'name' | 'oidcIssuer' | 'verdict'>,
  rows: readonly Pick<Straggler, 'nextStep' | 'role'>[],
  usedIrsa: boolean,
  findings: readonly PreflightFinding[],
  options: PlanOptions,
): { before: PlanStep[]; after: PlanStep[] } {
  const before = findings.filter((f) => isClusterFinding(f) && f.clusterArn !== null && f.clusterArn === c.clusterArn).map((f) => preflightStep(f, options));
  const after: PlanStep[] = [];
  const p = clusterArnParts(c.clusterArn);
  const name = c.name ?? p.name;
  const toCreate = rows.filter((r) => r.nextStep === 'create-association').length;
  if (toCreate > 0 && name !== null) {
    after.push(
      step({
        kind: 'eksctl-migrate',
        title: 'or: eksctl utils migrate-to-pod-identity (a dry run)',
        why:
          `fits only when eksctl manages this cluster's IAM service accounts and every one of them moves at once: it creates an association for each IRSA service account and add-on without looking at usage; ` +
          `without --approve it prints its plan and changes nothing`,
        account: p.account,
        region: p.region,
        commands: [{ run: shellCommand(['eksctl', 'utils', 'migrate-to-pod-identity', '--cluster', name, '--region', p.region ?? '<region>', ...(options.profile ? ['--profile', options.profile.replaceAll('{account}', p.account ?? '<account>')] : [])]), effect: 'read' }],
        notes: ['never add --remove-oidc-provider-trust-relationship before this cluster\'s OIDC provider is READY: it removes the OIDC trust of every service account, used or not'],
      }),
    );
  }
  if (c.verdict === 'READY' && usedIrsa && c.oidcIssuer !== null) {
    const accounts = [...new Set([p.account, ...rows.map((r) => accountOfRole(r.role))].filter((a): a is string => a !== null))].sort();
    const invocation = options.invocation ?? 'cutover-watch';
    after.push(
      step({
        kind: 'delete-oidc-provider',
        title: `delete ${name ?? 'the cluster'}'s IAM OIDC provider`,
        why: 'its OIDC verdict is READY: no namespace used IRSA through it for the whole soak period and the coverage has no hole. Deleting it does not edit trust policies: remove their OIDC statements first (the clean-ups)',
        account: p.account,
        region: p.region,
        commands: [
          { run: `${invocation} ${shellCommand(['readiness', ...(options.storeArgs ?? []), '-c', name ?? c.clusterArn ?? '<cluster>', '--require', 'READY'])}`, effect: 'read', gate: true },
          ...accounts.map((account) => ({
            run: shellCommand(aws(options, account, 'iam', 'delete-open-id-connect-provider', '--open-id-connect-provider-arn', oidcProviderArn(p.partition, account, c.oidcIssuer!))),
            effect: 'destructive' as const,
          })),
        ],
        notes: accounts.length > 1 ? ['IRSA reached roles in more than one account: each has its own provider for this issuer'] : [],
      }),
    );
  }
  return { before, after };
}

// ---------------------------------------------------------------------------------------------
// The plan document

export interface PlanServiceAccount {
  serviceAccount: string;
  role: string | null;
  nextStep: NextStep;
  steps: PlanStep[];
}

export interface PlanNamespace {
  namespace: string;
  verdict: Verdict;
  owner: Owner | null;
  serviceAccounts: PlanServiceAccount[];
}

export interface PlanCluster {
  clusterId: string;
  cluster: string;
  clusterArn: string | null;
  account: string | null;
  region: string | null;
  /** The kubectl context its kubectl commands use. */
  context: string;
  oidcVerdict: Verdict;
  /** Cluster-wide preflight fixes: before any namespace. */
  before: PlanStep[];
  namespaces: PlanNamespace[];
  /** eksctl's migration, and the OIDC provider's deletion: after every namespace. */
  after: PlanStep[];
}

export interface MigrationPlan {
  kind: 'cutover-watch-plan';
  asOf: string;
  options: { profile: string | null; contextTemplate: string };
  /**
   * Made a cluster at a time as they are written or rendered, and let go after: held whole, the
   * steps of 40,000 namespaces took `plan` past 700 MB. Each pass over them makes them again.
   */
  clusters: ArrayAsWritten<PlanCluster>;
  /** Total steps, and those that change something when run. */
  totals: { clusters: number; namespaces: number; serviceAccounts: number; steps: number; changes: number; preflight: number };
}

/** The plan as `plan -o json` writes it. */
export type MigrationPlanDocument = Omit<MigrationPlan, 'clusters'> & { clusters: PlanCluster[] };

/**
 * The plan of a (possibly filtered) report: its stragglers and clean-ups, grouped by cluster and
 * namespace, each with its steps rebuilt under `options`. With the default options every step's
 * commands are exactly the report's.
 */
export function buildPlan(report: StragglerReport, options: PlanOptions = {}): MigrationPlan {
  const findings = report.preflight ?? [];
  // Rows and namespaces by cluster, rows by namespace: looked up, not filtered for each cluster and
  // namespace (at 40,000 namespaces the filtering took 16 of the plan's 33 s).
  const rowsOf = groupedBy([...report.stragglers, ...report.readyToCleanUp], (r) => r.clusterId);
  const namespacesOf = groupedBy(report.namespaces, (n) => n.clusterId);
  function* clusters(): Generator<PlanCluster> {
    for (const c of report.clusters) {
      const mine = rowsOf.get(c.clusterId) ?? [];
      const theirs = namespacesOf.get(c.clusterId) ?? [];
      const usedIrsa = theirs.some((n) => n.lastIrsa !== null);
      const { before, after } = clusterSteps(c, mine, usedIrsa, findings, options);
      if (mine.length === 0 && before.length === 0 && after.length === 0) continue;
      const namespaces: PlanNamespace[] = [];
      const rowsOfNamespace = groupedBy(mine, (r) => r.namespace);
      for (const n of theirs) {
        const sas = rowsOfNamespace.get(n.namespace) ?? [];
        if (sas.length === 0) continue;
        namespaces.push({
          namespace: n.namespace,
          verdict: n.verdict,
          owner: n.owner ?? null,
          serviceAccounts: sas.map((s) => planServiceAccount(s, findings, options)),
        });
      }
      const p = clusterArnParts(c.clusterArn);
      yield {
        clusterId: c.clusterId,
        cluster: c.cluster,
        clusterArn: c.clusterArn,
        account: p.account,
        region: p.region,
        context: contextOf(c.clusterArn, c.name, options),
        oidcVerdict: c.verdict,
        before,
        namespaces,
        after,
      };
    }
  }
  // Counted in a pass of their own: the header that prints them comes before the first cluster.
  const totals = { clusters: 0, namespaces: 0, serviceAccounts: 0, steps: 0, changes: 0, preflight: 0 };
  const count = (steps: readonly PlanStep[]) => {
    totals.steps += steps.length;
    totals.changes += steps.filter((s) => s.effect === 'change' || s.effect === 'destructive').length;
    totals.preflight += steps.filter((s) => s.kind === 'preflight').length;
  };
  for (const c of clusters()) {
    totals.clusters += 1;
    totals.namespaces += c.namespaces.length;
    count(c.before);
    for (const n of c.namespaces) {
      totals.serviceAccounts += n.serviceAccounts.length;
      for (const sa of n.serviceAccounts) count(sa.steps);
    }
    count(c.after);
  }
  return {
    kind: 'cutover-watch-plan',
    asOf: report.asOf,
    options: { profile: options.profile ?? null, contextTemplate: options.contextTemplate ?? DEFAULT_CONTEXT_TEMPLATE },
    clusters: new ArrayAsWritten(clusters),
    totals,
  };
}

/**
 * A service account of the plan whose `steps` are made each time they are read (they are pure),
 * in their place among its keys for JSON and YAML: `--by owner` holds every namespace of the plan
 * in its groups, and with their steps held too `plan --by owner` took 650–812 MB at 40,000 namespaces.
 */
function planServiceAccount(row: Straggler, findings: readonly PreflightFinding[], options: PlanOptions): PlanServiceAccount {
  const sa = { serviceAccount: row.serviceAccount, role: row.role, nextStep: row.nextStep } as PlanServiceAccount;
  Object.defineProperty(sa, 'steps', { enumerable: true, get: () => stepsOfRow(row, findings, options) });
  return sa;
}

/** A report row's steps under `options`: with the default options, its plan in the report (`stragglerPlan`). */
export function stepsOfRow(s: Straggler, findings: readonly PreflightFinding[], options: PlanOptions): PlanStep[] {
  return serviceAccountSteps(subjectOf(s), findings.filter((f) => findingApplies(f, s)), options);
}

export function subjectOf(s: Straggler): StepSubject {
  return { ...s, clusterName: clusterArnParts(s.clusterArn).name };
}
