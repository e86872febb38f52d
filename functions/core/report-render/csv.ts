import type { Straggler, StragglerReport } from '../report';

export const CSV_COLUMNS = [
  'cluster',
  'cluster_arn',
  'oidc_issuer',
  'namespace',
  'service_account',
  'role_arn',
  'namespace_verdict',
  'last_irsa',
  'last_pod_identity',
  'has_association',
  'association_role_arn',
  'irsa_in_active_window',
  'next_step',
  'next_step_detail',
  'commands',
] as const;

/**
 * One row per straggler, then one per service account role ready to clean up (`next_step` =
 * `clean-up`), RFC 4180: CRLF line ends, fields with a comma, quote or line break in double
 * quotes, quotes doubled. Empty means unknown.
 */
export function renderCsv(report: StragglerReport): string {
  const rows = [...report.stragglers, ...report.readyToCleanUp].map((s) => row(s).map(csvField).join(','));
  return `${[CSV_COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}

function row(s: Straggler): (string | boolean | null)[] {
  return [
    s.cluster,
    s.clusterArn,
    s.oidcIssuer,
    s.namespace,
    s.serviceAccount,
    s.role,
    s.namespaceVerdict,
    s.lastIrsa,
    s.lastPodIdentity,
    s.hasAssociation,
    s.associationRole,
    s.irsaInActiveWindow,
    s.nextStep,
    s.nextStepText,
    s.commands.join('\n'),
  ];
}

/**
 * RFC 4180 quoting. A value a spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab
 * or CR; none of the identifiers here can start so) gets a leading `'` (OWASP CSV injection).
 */
export function csvField(value: string | boolean | null): string {
  if (value === null) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
