/**
 * The policy's globs: `*` (any run of characters), `?` (one character) and literal text, matched
 * case-insensitively; neither wildcard crosses `/`, so a glob for a role name cannot match a role
 * whose path merely mentions it. That is all the policy documents, and all namespace, role and
 * `eventSource:eventName` globs need.
 *
 * A regular-expression glob engine backtracks: 24 `*a` against a 36-character namespace ran for
 * minutes. Here a pattern is compiled once into its `/`-separated segments and each segment is
 * matched with the greedy two-pointer wildcard algorithm: on a mismatch only the most recent `*`
 * takes one more character, so a segment costs at most (pattern length x text length) steps, with
 * no backtracking into earlier stars.
 */
export type GlobMatcher = (value: string) => boolean;

/** Characters other glob dialects give a meaning; here they would silently match themselves. */
const UNSUPPORTED = /[[\]{}()!\\]/;

/** Why a glob is unusable, or null. Unbalanced brackets first: they are the typo that bites. */
export function globProblem(pattern: string): string | null {
  if (pattern.trim() === '') return 'empty glob';
  for (const [open, close] of [['[', ']'], ['{', '}'], ['(', ')']] as const) {
    let depth = 0;
    for (const ch of pattern) {
      if (ch === open) depth += 1;
      else if (ch === close) depth -= 1;
      if (depth < 0) return `unbalanced ${close}`;
    }
    if (depth !== 0) return `unbalanced ${open}`;
  }
  const bad = UNSUPPORTED.exec(pattern);
  if (bad) return `${bad[0]} is not supported: only * (any characters) and ? (one character) are wildcards`;
  return null;
}

/** Compiles a glob (checked with `globProblem` first: this throws on an unusable one). */
export function compileGlob(pattern: string): GlobMatcher {
  const problem = globProblem(pattern);
  if (problem) throw new Error(`bad glob ${JSON.stringify(pattern)}: ${problem}`);
  const segments = pattern.toLowerCase().split('/');
  if (segments.every((s) => !s.includes('*') && !s.includes('?'))) {
    const literal = segments.join('/');
    return (value) => value.toLowerCase() === literal;
  }
  // Matched for every event (the policy's namespace and role globs): one segment, the usual case, is
  // matched without splitting the value into a new array and strings each time.
  if (segments.length === 1) {
    const only = segments[0]!;
    return (value) => {
      const lower = value.toLowerCase();
      return !lower.includes('/') && matchSegment(only, lower);
    };
  }
  return (value) => {
    const parts = value.toLowerCase().split('/');
    if (parts.length !== segments.length) return false;
    return segments.every((segment, i) => matchSegment(segment, parts[i]!));
  };
}

/** True when any of the globs matches; each is compiled once. */
export function compileGlobs(patterns: readonly string[]): GlobMatcher {
  const matchers = patterns.map(compileGlob);
  return (value) => {
    for (const matches of matchers) if (matches(value)) return true;
    return false;
  };
}

/**
 * Greedy wildcard match of one segment (no `/` in either). `star` is the pattern position after
 * the last `*` seen and `mark` the text position that star's match ends at; a mismatch lets that
 * star swallow one more character. Exported for the step-count test.
 */
export function matchSegment(pattern: string, text: string, steps?: { count: number }): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (steps) steps.count += 1;
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p += 1;
      t += 1;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p + 1;
      mark = t;
      p += 1;
    } else if (star >= 0) {
      mark += 1;
      t = mark;
      p = star;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p += 1;
  return p === pattern.length;
}
