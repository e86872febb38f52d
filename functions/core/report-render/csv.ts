import { displaySafe } from '../display';
import { stragglerPlan, type Straggler, type StragglerReport } from '../report';

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
  'evidence_through',
] as const;

/**
 * One row per straggler, then one per service account role ready to clean up (`next_step` =
 * `clean-up`), RFC 4180: CRLF line ends, fields with a comma, quote or line break in double
 * quotes, quotes doubled. Empty means unknown.
 */
export function renderCsv(report: StragglerReport): string {
  return [...csvLines(report)].join('');
}

/** `renderCsv`'s text a line at a time, each with its CRLF: a row (and its plan) is made as it is taken. */
export function* csvLines(report: StragglerReport): Generator<string> {
  // Each row says where the evidence of its namespace ends: a row read alone still says what it rests on.
  const through = new Map(report.namespaces.map((n) => [`${n.clusterId}|${n.namespace}`, n.evidenceThrough]));
  yield `${CSV_COLUMNS.join(',')}\r\n`;
  for (const rows of [report.stragglers, report.readyToCleanUp]) {
    for (const s of rows) yield `${[...row(s, report), through.get(`${s.clusterId}|${s.namespace}`) ?? null].map(csvField).join(',')}\r\n`;
  }
}

function row(s: Straggler, report: StragglerReport): CsvValue[] {
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
    stragglerPlan(s, report.preflight).commands,
  ];
}

/** A cell: null is empty, a list is one item per line (the commands). */
export type CsvValue = string | number | boolean | null | readonly string[];

/**
 * One cell, RFC 4180 quoted. Text is first made `displaySafe` (a name's ESC or bidi override
 * must not reach a terminal that `cat`s the file, and its line breaks must not look like our
 * own); a list keeps its items on lines of their own. A text a spreadsheet would run as a formula
 * (leading `=`, `+`, `-`, `@`, tab or CR) gets a leading `'` (OWASP "CSV Injection"); a number
 * stays a number, `-1` included.
 */
export function csvField(value: CsvValue): string {
  if (value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return quoteCsv(String(value));
  let text = typeof value === 'string' ? displaySafe(value) : value.map(displaySafe).join('\n');
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return quoteCsv(text);
}

const quoteCsv = (text: string): string => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
