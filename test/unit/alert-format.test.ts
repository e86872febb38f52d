import type { HeaderBlock, KnownBlock, SectionBlock, ContextBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../functions/core/alert';
import {
  SLACK_LIMITS,
  alertLine,
  alertSubject,
  alertText,
  escapeSlack,
  escapeSlackProse,
  slackMessage,
  toAscii,
} from '../../functions/core/alert-format';
import { numberedAlert } from '../support/alerts';

function makeAlert(over: Partial<Alert> = {}): Alert {
  return numberedAlert(0, {
    id: 'access-denied-spike:0123456789abcdef',
    detection: 'access-denied-spike',
    key: 'payments-prod|i-0abc1234def567890',
    window: '2026-11-20T22:00:00.000Z',
    action: 'eks-auth:AssumeRoleForPodIdentity',
    count: 12,
    firstEventTime: '2026-11-20T22:00:04Z',
    lastEventTime: '2026-11-20T22:03:11Z',
    sampleEventIds: ['6f1c2b3a-1111-2222-3333-444455556666', '7a2d3c4b-1111-2222-3333-444455556666'],
    summary: '12 denied Pod Identity fetches on i-0abc1234def567890',
    likelyCause: "the associated role's trust policy lacks sts:TagSession",
    nextStep: 'check the trust policy of the associated role',
    ...over,
  });
}

/** Every printable ASCII character, nothing else (no control characters, no line breaks). */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

describe('alertSubject', () => {
  it('reads as severity, detection, cluster and summary', () => {
    expect(alertSubject(makeAlert())).toBe('[HIGH] access-denied-spike | payments-prod | 12 denied Pod Identity fetches on i-0abc1234def567890');
  });

  it('follows the SNS Subject rules for a long summary: ASCII, under 100 characters, one line, starts with [', () => {
    const subject = alertSubject(makeAlert({ summary: `${'very long summary '.repeat(20)}\nsecond line` }));

    expect(subject).toMatch(PRINTABLE_ASCII);
    expect(subject.length).toBeLessThan(100);
    expect(subject.length).toBe(99);
    expect(subject.startsWith('[')).toBe(true);
    expect(subject.endsWith('...')).toBe(true);
  });

  it('transliterates or strips non-ASCII input and drops control characters', () => {
    const subject = alertSubject(
      makeAlert({
        severity: 'critical',
        cluster: 'prod-zürich',
        summary: 'Rôle “paiements” — façade\u0007 ß ✅ 東京 …\u202edone',
      }),
    );

    expect(subject).toMatch(PRINTABLE_ASCII);
    expect(subject).toBe('[CRITICAL] access-denied-spike | prod-zurich | Role "paiements" - facade ss ...done');
  });

  it('leaves the cluster out when unknown', () => {
    expect(alertSubject(makeAlert({ cluster: null }))).toBe('[HIGH] access-denied-spike | 12 denied Pod Identity fetches on i-0abc1234def567890');
  });
});

describe('toAscii', () => {
  it.each([
    ['café', 'cafe'],
    ['Ｆｕｌｌ', 'Full'],
    ['a\u00a0b\tc', 'a b c'],
    ['ﬁle', 'file'],
    ['🚨 alert', 'alert'],
  ])('%j → %j', (input, expected) => {
    expect(toAscii(input)).toBe(expected);
  });
});

describe('alertText', () => {
  it('includes every non-null field, likely cause, next step and a ready lookup command', () => {
    const alert = makeAlert({
      namespace: 'orders',
      serviceAccount: 'orders-api',
      roleArn: 'arn:aws:iam::111122223333:role/orders-api',
      oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF',
    });
    const text = alertText(alert);

    expect(text.split('\n')[0]).toBe(alert.summary);
    for (const [label, value] of [
      ['Detection:', 'access-denied-spike'],
      ['Severity:', 'high'],
      ['Cluster:', 'payments-prod'],
      ['Cluster ARN:', alert.clusterArn],
      ['OIDC issuer:', alert.oidcIssuer],
      ['Namespace:', 'orders'],
      ['Service account:', 'orders-api'],
      ['Role:', alert.roleArn],
      ['Node role:', alert.nodeRoleArn],
      ['Node instance:', 'i-0abc1234def567890'],
      ['Action:', 'eks-auth:AssumeRoleForPodIdentity'],
      ['Count:', '12'],
      ['Window:', '2026-11-20T22:00:00.000Z'],
      ['First event:', '2026-11-20T22:00:04Z'],
      ['Last event:', '2026-11-20T22:03:11Z'],
    ] as const) {
      expect(text).toMatch(new RegExp(`^  ${label} +${value!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
    }
    expect(text).toContain("\nLikely cause: the associated role's trust policy lacks sts:TagSession\n");
    expect(text).toContain('\nNext step: check the trust policy of the associated role\n');
    expect(text).toContain('Sample events: 6f1c2b3a-1111-2222-3333-444455556666, 7a2d3c4b-1111-2222-3333-444455556666');
    expect(text).toContain(
      '\n  aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventId,AttributeValue=6f1c2b3a-1111-2222-3333-444455556666\n',
    );
  });

  it('omits null fields instead of printing them empty', () => {
    const text = alertText(makeAlert());

    for (const label of ['OIDC issuer:', 'Namespace:', 'Service account:', 'Role:']) {
      expect(text).not.toContain(`  ${label}`);
    }
    expect(text).not.toContain('null');
  });

  it('shows control characters as escapes and quotes a hostile event id for the shell', () => {
    const text = alertText(makeAlert({ namespace: 'ns\u001b[31m', sampleEventIds: ["x'; rm -rf /"] }));

    expect(text).not.toContain('\u001b');
    expect(text).toMatch(/^ {2}Namespace: +ns\\x1b\[31m$/m);
    expect(text).toContain(`'AttributeKey=EventId,AttributeValue=x'\\''; rm -rf /'`);
  });

  it('says so when there are no sample events', () => {
    const text = alertText(makeAlert({ sampleEventIds: [] }));

    expect(text).toContain('Sample events: none recorded');
    expect(text).not.toContain('lookup-events');
  });
});

describe('the owner', () => {
  it('is a line of the text and a field of the Slack message, when the alert has one', () => {
    const owner = { team: 'payments', email: 'payments@example.com', slack: '#payments' };
    expect(alertText(makeAlert({ namespace: 'checkout', owner }))).toMatch(/\n  Owner: +payments \(payments@example\.com, #payments\)\n/);
    expect(alertText(makeAlert())).not.toContain('Owner:');
    const section = slackMessage(makeAlert({ namespace: 'checkout', owner })).blocks.find((b): b is SectionBlock => b.type === 'section' && 'fields' in b && b.fields !== undefined)!;
    expect(section.fields!.map((f) => f.text)).toContain('*Owner*\n`payments (payments@example.com, #payments)`');
  });
});

describe('alertLine', () => {
  it('is one line: severity, detection, where, who, summary and last event minute', () => {
    expect(alertLine(makeAlert())).toBe(
      'HIGH  access-denied-spike  payments-prod/– i-0abc1234def567890: 12 denied Pod Identity fetches on i-0abc1234def567890 (last 2026-11-20 22:03)',
    );
  });

  it('names the service account when there is one and keeps a multi-line summary on one line', () => {
    const line = alertLine(makeAlert({ cluster: null, namespace: 'orders', serviceAccount: 'orders-api', nodeInstanceId: null, summary: 'a\nb' }));

    expect(line).toBe('HIGH  access-denied-spike  –/orders orders-api: a\\nb (last 2026-11-20 22:03)');
  });
});

describe('escapeSlack', () => {
  it.each([
    ['payments-prod', '`payments-prod`'],
    ['<!channel>', '`&lt;!channel&gt;`'],
    ['<https://evil.example|click here>', '`&lt;https://evil.example|click here&gt;`'],
    ['@here please', '`@\u2060here please`'],
    ['@Channel and @everyone', '`@\u2060Channel and @\u2060everyone`'],
    ['a & b', '`a &amp; b`'],
    ['&lt;already&gt;', '`&amp;lt;already&amp;gt;`'],
    ['*bold* _it_ ~s~', '`*bold* _it_ ~s~`'],
    ['ends `code` early', '`ends \u02cbcode\u02cb early`'],
    ['line\nbreak', '`line\\nbreak`'],
    ['arn:aws:iam::111122223333:role/my_role', '`arn:aws:iam::111122223333:role/my_role`'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(escapeSlack(input)).toBe(expected);
  });
});

describe('escapeSlackProse', () => {
  it.each([
    ['restart *now*', 'restart \u2217now\u2217'],
    ['AWS_WEB_IDENTITY_TOKEN_FILE stays', 'AWS_WEB_IDENTITY_TOKEN_FILE stays'],
    ['_italic_ and ~strike~', '\u02cditalic\u02cd and \u223cstrike\u223c'],
    ['see <https://evil.example|here>', 'see &lt;https:\u2060//evil.example|here&gt;'],
    ['ping @here', 'ping @\u2060here'],
    ['`code`', '\u02cbcode\u02cb'],
  ])('%j → %j', (input, expected) => {
    expect(escapeSlackProse(input)).toBe(expected);
  });
});

describe('slackMessage', () => {
  const byType = <T extends KnownBlock['type']>(blocks: KnownBlock[], type: T) =>
    blocks.filter((b): b is Extract<KnownBlock, { type: T }> => b.type === type);

  it('builds header, summary, fields, likely cause, next step and context', () => {
    const { text, blocks } = slackMessage(makeAlert());

    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'context']);
    expect((blocks[0] as HeaderBlock).text).toEqual({ type: 'plain_text', text: 'HIGH · access-denied-spike', emoji: false });
    expect((blocks[1] as SectionBlock).text?.text).toBe('12 denied Pod Identity fetches on i-0abc1234def567890');
    expect((blocks[2] as SectionBlock).fields?.map((f) => f.text)).toEqual([
      '*Cluster*\n`payments-prod`',
      '*Node role*\n`arn:aws:iam::111122223333:role/eks-node`',
      '*Node instance*\n`i-0abc1234def567890`',
      '*Action*\n`eks-auth:AssumeRoleForPodIdentity`',
      '*Count*\n`12`',
      '*Window*\n`2026-11-20T22:00:00.000Z`',
      '*Events*\n`2026-11-20T22:00:04Z → 2026-11-20T22:03:11Z`',
    ]);
    expect((blocks[3] as SectionBlock).text?.text).toBe("*Likely cause*\nthe associated role's trust policy lacks sts:TagSession");
    expect((blocks[4] as SectionBlock).text?.text).toBe('*Next step*\ncheck the trust policy of the associated role');
    const context = (blocks[5] as ContextBlock).elements.map((e) => ('text' in e ? e.text : ''));
    expect(context[0]).toBe('Sample events: `6f1c2b3a-1111-2222-3333-444455556666` `7a2d3c4b-1111-2222-3333-444455556666`');
    expect(context[1]).toContain('AttributeValue=6f1c2b3a-1111-2222-3333-444455556666');
    expect(text).toBe('HIGH · access-denied-spike: 12 denied Pod Identity fetches on i-0abc1234def567890');
  });

  it('marks every mrkdwn object verbatim, so Slack does not link URLs or parse mentions', () => {
    const { blocks } = slackMessage(makeAlert());
    const mrkdwn = JSON.stringify(blocks).match(/"type":"mrkdwn"[^}]*/g) ?? [];

    expect(mrkdwn.length).toBeGreaterThan(5);
    expect(mrkdwn.every((m) => m.includes('"verbatim":true'))).toBe(true);
  });

  it('never emits a broadcast, mention or link from hostile values', () => {
    const hostile = '<!channel> <@U123> <https://evil.example|click here> @here @everyone';
    const body = JSON.stringify(
      slackMessage(makeAlert({ namespace: hostile, serviceAccount: hostile, summary: `denied for ${hostile}`, nextStep: hostile, sampleEventIds: [hostile] })),
    );

    expect(body).not.toMatch(/<[!@#]/);
    expect(body).not.toContain('<http');
    expect(body).not.toMatch(/@(here|channel|everyone)/i);
  });

  it('respects the Block Kit limits with very long values', () => {
    const long = '&<>'.repeat(5_000); // 15,000 characters, 60,000 once escaped
    const { text, blocks } = slackMessage(
      makeAlert({
        cluster: long,
        namespace: long,
        serviceAccount: long,
        roleArn: long,
        nodeRoleArn: long,
        nodeInstanceId: long,
        action: long,
        window: long,
        summary: long,
        likelyCause: long,
        nextStep: long,
        sampleEventIds: [long, long, long, long, long, long, long],
        firstEventTime: long,
      }),
    );

    const header = byType(blocks, 'header')[0]!;
    expect(header.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    for (const section of byType(blocks, 'section')) {
      if (section.text) expect(section.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
      if (section.fields) {
        expect(section.fields.length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
        for (const f of section.fields) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
      }
    }
    const fields = byType(blocks, 'section').find((s) => s.fields)!.fields!;
    expect(fields).toHaveLength(SLACK_LIMITS.fields);
    expect(fields.at(-1)!.text.startsWith('*Events*\n')).toBe(true);
    expect(fields[0]!.text).toMatch(/^\*Cluster\*\n`(&amp;&lt;&gt;)+&amp;?(&lt;)?…`$/);
    const context = byType(blocks, 'context')[0]!;
    expect(context.elements.length).toBeLessThanOrEqual(SLACK_LIMITS.contextElements);
    for (const e of context.elements) expect('text' in e ? e.text.length : 0).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    // Cut before escaping: no entity is split.
    expect(JSON.stringify(blocks)).not.toMatch(/&(a|am|l|g|lt|gt|amp)?…/);
  });

  it('truncates a long summary with an ellipsis and keeps the likely cause section', () => {
    const { blocks } = slackMessage(makeAlert({ summary: 'x'.repeat(4_000), likelyCause: 'short cause' }));

    const summary = (blocks[1] as SectionBlock).text!.text;
    expect(summary).toHaveLength(SLACK_LIMITS.sectionText);
    expect(summary.endsWith('…')).toBe(true);
    expect((blocks[3] as SectionBlock).text?.text).toBe('*Likely cause*\nshort cause');
  });
});
