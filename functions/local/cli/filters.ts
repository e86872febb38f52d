import { InvalidArgumentError, type Command } from 'commander';
import { DETECTIONS, SEVERITIES, type Detection, type Severity } from '../../core/alert';
import { accountOfArn } from '../../core/report';
import { compileGlobs, globProblem, type GlobMatcher } from '../../core/glob';
import { VERDICT_ORDER, type Verdict } from '../../core/readiness';
import { UsageError } from './io';

/**
 * One filter set for every command that lists things: the same flags, the same globs
 * (core/glob.ts: `*` and `?`, case-insensitive, linear time), repeatable or comma-separated
 * (`-c a -c 'b*'` is `-c a,'b*'`: EKS, Kubernetes and AWS names hold no comma).
 */
export interface FilterFlags {
  cluster?: string[];
  namespace?: string[];
  account?: string[];
  verdict?: Verdict[];
  severity?: Severity[];
  detection?: Detection[];
}

export type FilterName = keyof FilterFlags;

function globList(what: string, example: string) {
  return (value: string, previous: string[] = []): string[] => {
    const globs = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (globs.length === 0) throw new InvalidArgumentError(`expected a ${what} name or glob such as ${example}`);
    for (const glob of globs) {
      const problem = globProblem(glob);
      if (problem) throw new InvalidArgumentError(`expected a ${what} name or glob such as ${example} (only * and ? are wildcards): ${problem}`);
    }
    return [...previous, ...globs];
  };
}

function choiceList<T extends string>(choices: readonly T[], normalize: (v: string) => string) {
  return (value: string, previous: T[] = []): T[] => {
    const picked = value.split(',').map((v) => normalize(v.trim()));
    for (const v of picked) {
      if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')} (repeatable, or comma-separated), got ${JSON.stringify(v)}`);
    }
    return [...new Set([...previous, ...(picked as T[])])];
  };
}

const FILTER_OPTIONS: Record<FilterName, (command: Command) => Command> = {
  cluster: (c) => c.option('-c, --cluster <glob>', 'only clusters matching: name or ARN, glob (* ?), repeatable or comma-separated', globList('cluster', "payments-prod or 'payments-*'"), undefined),
  namespace: (c) => c.option('-n, --namespace <glob>', 'only namespaces matching: glob, repeatable or comma-separated', globList('namespace', "checkout or 'team-*'"), undefined),
  account: (c) => c.option('--account <id>', 'only these AWS accounts (12 digits; glob, repeatable or comma-separated)', globList('account', '111122223333'), undefined),
  verdict: (c) =>
    c.option('--verdict <verdict>', `only namespaces with these verdicts: ${VERDICT_ORDER.join(', ')} (repeatable or comma-separated)`, choiceList(VERDICT_ORDER, (v) => v.toUpperCase()), undefined),
  severity: (c) => c.option('--severity <severity>', `only these severities: ${SEVERITIES.join(', ')} (repeatable or comma-separated)`, choiceList(SEVERITIES, (v) => v.toLowerCase()), undefined),
  detection: (c) => c.option('--detection <name>', `only these detections: ${DETECTIONS.join(', ')} (repeatable or comma-separated)`, choiceList(DETECTIONS, (v) => v.toLowerCase()), undefined),
};

export function withFilterOptions(command: Command, filters: readonly FilterName[]): Command {
  for (const f of filters) FILTER_OPTIONS[f](command);
  return command;
}

/** A matcher for one filter's globs; null when the filter was not given (everything passes). */
export function matcherOf(globs: readonly string[] | undefined): GlobMatcher | null {
  return globs && globs.length > 0 ? compileGlobs(globs) : null;
}

/** How many known names to list in "no cluster matches" before "and N more". */
const KNOWN_SHOWN = 12;

/**
 * Every glob of a filter must name something: a typo is a usage error (exit 2) that lists what
 * exists, never an empty answer that reads like "nothing to worry about".
 */
export function requireMatches(
  what: string,
  globs: readonly string[] | undefined,
  known: Iterable<string>,
  options: { within?: string; hint?: string; alsoMatch?: Iterable<string> } = {},
): void {
  if (!globs || globs.length === 0) return;
  const names = [...new Set(known)].sort();
  const matchable = [...names, ...(options.alsoMatch ?? [])];
  for (const glob of globs) {
    const matches = compileGlobs([glob]);
    if (matchable.some((n) => matches(n))) continue;
    const where = options.within ? ` in ${options.within}` : '';
    const list =
      names.length === 0
        ? `no ${what} is known${options.hint ? `: ${options.hint}` : ''}`
        : `known: ${names.slice(0, KNOWN_SHOWN).join(', ')}${names.length > KNOWN_SHOWN ? ` and ${names.length - KNOWN_SHOWN} more` : ''}`;
    throw new UsageError(`no ${what} matches '${glob}'${where} (${list})`);
  }
}

/** The filters given, as the words a message repeats ("of 27 shown: --detection irsa-regression"). */
export function describeFilters(flags: FilterFlags & { since?: Date }): string {
  const parts: string[] = [];
  for (const [flag, value] of [
    ['-c', flags.cluster],
    ['-n', flags.namespace],
    ['--account', flags.account],
    ['--verdict', flags.verdict],
    ['--severity', flags.severity],
    ['--detection', flags.detection],
  ] as const) {
    if (value && value.length > 0) parts.push(`${flag} ${value.join(',')}`);
  }
  return parts.join(' ');
}

/** The account of an ARN (`arn:aws:eks:us-east-1:111122223333:cluster/x` → `111122223333`), or null: the report's filter reads it the same way. */
export const accountOf = accountOfArn;
