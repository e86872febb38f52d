/**
 * How an alert looks: the SNS subject and plain text (email, terminal), the one-line terminal
 * form, and the Slack Block Kit message. Pure: no I/O, no clock.
 *
 * Everything an alert carries besides its detection and severity came from a CloudTrail record
 * or the inventory (the prose fields quote namespaces, roles and user agents), so every renderer
 * treats it as hostile: control and bidi characters are shown as escapes by `displaySafe` (a user
 * agent must not drive the terminal or reorder a line), and the Slack renderer escapes it (see
 * `escapeSlack`).
 */
import type { ContextBlock, HeaderBlock, KnownBlock, MrkdwnElement, SectionBlock } from '@slack/types';
import { SAMPLE_EVENT_IDS, type Alert } from './alert';
import { displaySafe, shellCommand } from './display';
import { ownerLabel } from './policy';

/**
 * SNS Publish, `Subject` (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html): "must be
 * ASCII text that begins with a letter, number, or punctuation mark; must not include line breaks
 * or control characters; and must be less than 100 characters long". Newer revisions of the
 * reference say UTF-8; ASCII satisfies both, and every mail client shows it as sent.
 */
export const SNS_SUBJECT_MAX_CHARS = 99;

/**
 * Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks/header-block, …/section-block,
 * …/context-block, …/composition-objects/text-object). Lengths are in characters; we count UTF-16
 * code units, which is never fewer.
 */
export const SLACK_LIMITS = {
  /** Header block: plain_text, at most 150 characters. */
  headerText: 150,
  /** Section `text` (and any text object): at most 3000 characters. */
  sectionText: 3000,
  /** Section `fields`: at most 10 items… */
  fields: 10,
  /** …of at most 2000 characters each. */
  fieldText: 2000,
  /** Context block: at most 10 elements. */
  contextElements: 10,
} as const;

// ---------------------------------------------------------------------------------------------
// Shared: fitting rendered values into limits

/** Cut at most `max` UTF-16 units, never between the halves of a surrogate pair. */
function cutAt(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * `render(raw)`, or if that is longer than `max`, `render` of the longest prefix of `raw` plus `…`
 * that fits. Cutting the raw value (not the rendered one) never splits an escape like `&amp;`;
 * the rendered length grows with the prefix, so a binary search finds the cut.
 */
function fitRendered(raw: string, max: number, render: (value: string) => string): string {
  const full = render(raw);
  if (full.length <= max) return full;
  let lo = 0;
  let hi = raw.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (render(`${cutAt(raw, mid)}…`).length <= max) lo = mid;
    else hi = mid - 1;
  }
  return render(`${cutAt(raw, lo)}…`);
}

/** `2026-11-20T22:03:11Z` → `2026-11-20 22:03` (UTC); anything unparseable is shown as it came. */
function minuteOf(time: string): string {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? displaySafe(time) : new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

const severityLabel = (alert: Alert): string => alert.severity.toUpperCase();

/** The CLI line that finds one CloudTrail event by id (LookupEvents: management events of the last 90 days, one region). */
export function lookupEventCommand(eventId: string): string {
  return shellCommand(['aws', 'cloudtrail', 'lookup-events', '--lookup-attributes', `AttributeKey=EventId,AttributeValue=${eventId}`]);
}

// ---------------------------------------------------------------------------------------------
// SNS subject (ASCII)

/** Characters NFKD leaves non-ASCII that have an obvious ASCII spelling. */
const ASCII_SPELLING: Record<string, string> = {
  ß: 'ss', æ: 'ae', Æ: 'AE', œ: 'oe', Œ: 'OE', ø: 'o', Ø: 'O', đ: 'd', Đ: 'D', ð: 'd', Ð: 'D',
  ł: 'l', Ł: 'L', þ: 'th', Þ: 'Th', ı: 'i', ħ: 'h', Ħ: 'H',
  '‘': "'", '’': "'", '‚': "'", '‛': "'", '′': "'", '‹': '<', '›': '>',
  '“': '"', '”': '"', '„': '"', '‟': '"', '″': '"', '«': '"', '»': '"',
  '‐': '-', '‒': '-', '–': '-', '—': '-', '―': '-', '−': '-', '·': '-', '•': '-', '∙': '-',
  '×': 'x', '÷': '/', '⁄': '/', '→': '->', '←': '<-', '⇒': '=>', '≥': '>=', '≤': '<=', '≠': '!=',
  '©': '(c)', '®': '(R)', '€': 'EUR', '£': 'GBP', '¡': '!', '¿': '?',
};

/**
 * Transliterate to printable ASCII: compatibility decomposition (NFKD: `é` → `e` + accent,
 * `…` → `...`, full-width → ASCII), accents dropped, a few spellings, and anything left
 * (emoji, CJK, controls) removed. Whitespace of any kind becomes one space.
 */
export function toAscii(value: string): string {
  let out = '';
  for (const ch of value.normalize('NFKD')) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code < 0x7f) out += ch;
    else if (/[\s\u0000-\u001f\u007f-\u009f]/u.test(ch)) out += ' ';
    else out += ASCII_SPELLING[ch] ?? '';
  }
  return out.replace(/ {2,}/g, ' ').trim();
}

/**
 * The SNS subject, what an inbox shows: `[HIGH] access-denied-spike | payments-prod | <summary>`.
 * Follows the Publish rules quoted at `SNS_SUBJECT_MAX_CHARS`: printable ASCII only (so no line
 * breaks or control characters), starts with `[` (punctuation), at most 99 characters, cut
 * with `...`.
 */
export function alertSubject(alert: Alert): string {
  const parts = [`[${severityLabel(alert)}] ${alert.detection}`, alert.cluster, alert.summary]
    .filter((part): part is string => part !== null)
    .map((part) => toAscii(part))
    .filter((part) => part !== '');
  const subject = parts.join(' | ');
  if (subject.length <= SNS_SUBJECT_MAX_CHARS) return subject;
  return `${subject.slice(0, SNS_SUBJECT_MAX_CHARS - 3).trimEnd()}...`;
}

// ---------------------------------------------------------------------------------------------
// Plain text (email, terminal)

/** The key fields in display order, nulls left out. */
function keyFields(alert: Alert): [label: string, value: string][] {
  const rows: [string, string | null][] = [
    ['Detection', alert.detection],
    ['Severity', alert.severity],
    ['Cluster', alert.cluster],
    ['Cluster ARN', alert.clusterArn],
    ['OIDC issuer', alert.oidcIssuer],
    ['Namespace', alert.namespace],
    ['Owner', alert.owner ? ownerLabel(alert.owner) : null],
    ['Service account', alert.serviceAccount],
    ['Role', alert.roleArn],
    ['Node role', alert.nodeRoleArn],
    ['Node instance', alert.nodeInstanceId],
    ['Action', alert.action],
    ['Count', String(alert.count)],
    ['Window', alert.window],
    ['First event', alert.firstEventTime],
    ['Last event', alert.lastEventTime],
  ];
  return rows.filter((row): row is [string, string] => row[1] !== null).map(([label, value]) => [label, displaySafe(value)]);
}

/**
 * The alert as plain text for email and terminals: summary, the key fields, likely cause, next
 * step, and the sample event ids with a ready `aws cloudtrail lookup-events` line.
 */
export function alertText(alert: Alert): string {
  const fields = keyFields(alert);
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  const ids = alert.sampleEventIds.map(displaySafe);
  const lines = [
    displaySafe(alert.summary),
    '',
    ...fields.map(([label, value]) => `  ${`${label}:`.padEnd(width)} ${value}`),
    '',
    `Likely cause: ${displaySafe(alert.likelyCause)}`,
    '',
    `Next step: ${displaySafe(alert.nextStep)}`,
    '',
  ];
  const first = alert.sampleEventIds[0];
  if (first === undefined) {
    lines.push('Sample events: none recorded');
  } else {
    lines.push(`Sample events: ${ids.join(', ')}`);
    lines.push('Look up the first (LookupEvents covers 90 days, in the region of the event):');
    lines.push(`  ${displaySafe(lookupEventCommand(first))}`);
  }
  lines.push('', `Alert ${displaySafe(alert.id)}, raised ${displaySafe(alert.raisedAt)}`);
  return lines.join('\n');
}

/**
 * One terminal line: `HIGH  access-denied-spike  payments-prod/– i-0abc…: <summary> (last 2026-11-20 22:03)`.
 * `cluster/namespace` (– when unknown), then the service account or node instance it is about.
 */
export function alertLine(alert: Alert): string {
  const where = `${alert.cluster ?? '–'}/${alert.namespace ?? '–'}`;
  const who = alert.serviceAccount ?? alert.nodeInstanceId;
  const subject = who === null ? where : `${where} ${who}`;
  return `${severityLabel(alert)}  ${alert.detection}  ${displaySafe(subject)}: ${displaySafe(alert.summary)} (last ${minuteOf(alert.lastEventTime)})`;
}

// ---------------------------------------------------------------------------------------------
// Slack

/** Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping): `&` first, so the others' entities survive. */
function escapeControlCharacters(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** `@channel`, `@here`, `@everyone` with a word joiner (U+2060) after `@`: reads the same, notifies nobody. */
function neutraliseBroadcasts(text: string): string {
  return text.replace(/@(?=channel|here|everyone)/gi, '@\u2060');
}

/** A backtick would close (or open) a code span; U+02CB MODIFIER LETTER GRAVE ACCENT looks the same. */
const BACKTICK_LOOKALIKE = '\u02cb';

/**
 * mrkdwn formatting markers and a look-alike each. Slack has no backslash escape for them
 * (https://api.slack.com/reference/surfaces/formatting#escaping lists only `&`, `<`, `>`).
 */
const MARKER_LOOKALIKE: Record<string, string> = {
  '*': '\u2217', // ∗ ASTERISK OPERATOR
  _: '\u02cd', // ˍ MODIFIER LETTER LOW MACRON
  '~': '\u223c', // ∼ TILDE OPERATOR
  '`': BACKTICK_LOOKALIKE,
};

/**
 * Escape one value from a CloudTrail record or the inventory for a Slack mrkdwn text object.
 *
 * The value becomes an inline code span, after:
 * - control and invisible characters are written out (`\x1b`, `\u{202e}`), so it stays one line;
 * - backticks become U+02CB, so the value cannot close the span;
 * - `&`, `<`, `>` become entities, Slack's only escapes: no `<!channel>`, `<@U…>` or `<url|text>`;
 * - `@channel`/`@here`/`@everyone` get U+2060 after the `@`.
 *
 * Why a code span rather than look-alike characters: mrkdwn applies no `*_~` formatting inside
 * code and does not turn a URL there into a link, and the value stays exactly as it was — an
 * ARN, `system:serviceaccount:ns:sa` or `my_role` can be copied into a CLI. Look-alikes would
 * corrupt exactly the identifiers a responder copies. Only backticks are changed, and no
 * Kubernetes name, ARN or event id contains one. (Every mrkdwn object we send is also
 * `verbatim: true`, which stops Slack's own URL and mention parsing.)
 */
export function escapeSlack(value: string): string {
  if (value === '') return '';
  const inner = neutraliseBroadcasts(escapeControlCharacters(displaySafe(value).replaceAll('`', BACKTICK_LOOKALIKE)));
  return `\`${inner}\``;
}

/**
 * Escape prose (summary, likely cause, next step): written by a detection but quoting values,
 * so it gets the same treatment as `escapeSlack` except the code span, which would make a whole
 * sentence monospace. Instead a formatting marker is replaced by its look-alike where it could
 * open or close formatting: mrkdwn only formats at a word boundary, so `AWS_ROLE_ARN` or
 * `my_role` inside a word are left as they are, while `*urgent*` or `_x_` are not formatted.
 */
export function escapeSlackProse(text: string): string {
  // A word joiner inside `://` keeps a quoted URL from being linked where `verbatim` does not
  // apply: the message's top-level `text`, which notifications show.
  const escaped = neutraliseBroadcasts(escapeControlCharacters(displaySafe(text))).replaceAll('://', ':\u2060//');
  return escaped.replace(/[*_~`]/g, (marker, offset: number, whole: string) => {
    const before = whole[offset - 1] ?? '';
    const after = whole[offset + 1] ?? '';
    const inWord = marker !== '`' && /[\p{L}\p{N}]/u.test(before) && /[\p{L}\p{N}]/u.test(after);
    return inWord ? marker : (MARKER_LOOKALIKE[marker] ?? marker);
  });
}

/** Rendered length of one sample id in the context block (a CloudTrail eventID is a 36-character UUID). */
const SAMPLE_ID_MAX_CHARS = 500;

function mrkdwn(text: string): MrkdwnElement {
  return { type: 'mrkdwn', text, verbatim: true };
}

/** A section field: bold label, value as a code span, within the 2000-character field limit. */
function field(label: string, value: string): MrkdwnElement {
  return mrkdwn(fitRendered(value, SLACK_LIMITS.fieldText, (v) => `*${label}*\n${escapeSlack(v)}`));
}

/** A section of prose under a bold label, within the 3000-character section limit. */
function proseSection(label: string | null, text: string): SectionBlock {
  const render = (t: string) => (label === null ? escapeSlackProse(t) : `*${label}*\n${escapeSlackProse(t)}`);
  return { type: 'section', text: mrkdwn(fitRendered(text, SLACK_LIMITS.sectionText, render)) };
}

/**
 * The alert as a Slack Block Kit message: header (severity and detection), the summary, the key
 * fields, likely cause, next step, and a context line with sample event ids. `text` is what
 * notifications and clients without blocks show.
 */
export function slackMessage(alert: Alert): { text: string; blocks: KnownBlock[] } {
  const title = `${severityLabel(alert)} · ${alert.detection}`;
  const header: HeaderBlock = {
    type: 'header',
    text: { type: 'plain_text', text: fitRendered(title, SLACK_LIMITS.headerText, (t) => t), emoji: false },
  };

  const fieldValues: [string, string | null][] = [
    ['Cluster', alert.cluster],
    ['Namespace', alert.namespace],
    ['Owner', alert.owner ? ownerLabel(alert.owner) : null],
    ['Service account', alert.serviceAccount],
    ['Role', alert.roleArn],
    ['Node role', alert.nodeRoleArn],
    ['Node instance', alert.nodeInstanceId],
    ['Action', alert.action],
    ['Count', String(alert.count)],
    ['Window', alert.window],
  ];
  const fields = fieldValues
    .filter((row): row is [string, string] => row[1] !== null)
    .map(([label, value]) => field(label, value));
  const events = fitRendered(
    alert.firstEventTime === alert.lastEventTime ? alert.lastEventTime : `${alert.firstEventTime} → ${alert.lastEventTime}`,
    SLACK_LIMITS.fieldText,
    (v) => `*Events*\n${escapeSlack(v)}`,
  );
  // Count and Window are always present, so the section has fields; Events is last and kept.
  const kept = [...fields.slice(0, SLACK_LIMITS.fields - 1), mrkdwn(events)];

  const ids = alert.sampleEventIds.slice(0, SAMPLE_EVENT_IDS);
  const first = ids[0];
  const contextTexts = [
    // Five ids of at most 500 characters each stay within one text object's 3000.
    ids.length === 0
      ? 'No sample events recorded'
      : `Sample events: ${ids.map((id) => fitRendered(id, SAMPLE_ID_MAX_CHARS, escapeSlack)).join(' ')}`,
    ...(first === undefined
      ? []
      : [fitRendered(lookupEventCommand(first), SLACK_LIMITS.sectionText, (v) => `Look up: ${escapeSlack(v)}`)]),
    fitRendered(alert.id, SLACK_LIMITS.sectionText, (v) => `Alert ${escapeSlack(v)} · raised ${escapeSlack(alert.raisedAt)}`),
  ];
  const context: ContextBlock = {
    type: 'context',
    elements: contextTexts.slice(0, SLACK_LIMITS.contextElements).map(mrkdwn),
  };

  const blocks: KnownBlock[] = [
    header,
    proseSection(null, alert.summary),
    { type: 'section', fields: kept },
    proseSection('Likely cause', alert.likelyCause),
    proseSection('Next step', alert.nextStep),
    context,
  ];
  const text = fitRendered(alert.summary, SLACK_LIMITS.sectionText, (s) => `${title}: ${escapeSlackProse(s)}`);
  return { text, blocks };
}
