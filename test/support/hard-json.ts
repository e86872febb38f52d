/**
 * JSON written the hard way, for the tests that hold a scanner to JSON.parse: records with duplicate
 * keys, any key order, escapes (keys too), whitespace, and one byte replaced or inserted; and
 * `{"Records":[…]}` documents of them, well formed or not.
 */
import fc from 'fast-check';

/** A node role the generated records name (the tests' rule sets know it). */
export const NODE_ROLE = 'arn:aws:iam::111122223333:role/eksctl-payments-prod-nodegroup-ng-1-NodeInstanceRole-ABC';

// ---------------------------------------------------------------------------------------------
// Records written the hard way: duplicate keys, any key order, escapes, whitespace.

type Entry = [key: string, value: Value];
type Value = { object: Entry[] } | { array: Value[] } | { scalar: unknown };

const SPACES = ['', ' ', '\n', '\t', '\r\n  '];

/** JSON text for `s`, each character written plainly or as `\uXXXX` as `escapes` says. */
function writeString(s: string, escapes: boolean[]): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (escapes[i % escapes.length] || c < 0x20 || c === 0x22 || c === 0x5c) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

function write(v: Value, ws: number[], escapes: boolean[], at = { n: 0 }): string {
  const space = () => SPACES[(ws[at.n++ % ws.length] ?? 0) % SPACES.length];
  if ('scalar' in v) return typeof v.scalar === 'string' ? writeString(v.scalar, escapes.slice(at.n++ % 7)) : JSON.stringify(v.scalar);
  if ('array' in v) return `[${space()}${v.array.map((x) => write(x, ws, escapes, at)).join(`${space()},${space()}`)}${space()}]`;
  return `{${space()}${v.object.map(([k, x]) => `${writeString(k, escapes.slice(at.n++ % 5))}${space()}:${space()}${write(x, ws, escapes, at)}`).join(`${space()},${space()}`)}${space()}}`;
}

const scalar = (values: unknown[]) => fc.constantFrom(...values).map((s): Value => ({ scalar: s }));
const anyJson: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 0 }).map((s): Value => ({ scalar: s })),
    fc.array(tie('v'), { maxLength: 3 }).map((array): Value => ({ array })),
    fc.array(fc.tuple(fc.string({ maxLength: 6 }), tie('v')), { maxLength: 3 }).map((object): Value => ({ object: object as Entry[] })),
  ),
})).v;

const sessionContext = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constant('sessionIssuer'), fc.array(fc.tuple(fc.constantFrom('arn', 'type', 'x'), scalar([NODE_ROLE, 'arn:aws:iam::111122223333:role/KarpenterNodeRole-c1', 'arn:aws:iam::111122223333:role/app', 'arn:aws:iam::1:role/custom-nodes', 7, null])), { maxLength: 3 }).map((object): Value => ({ object: object as Entry[] }))),
      fc.tuple(fc.constant('ec2RoleDelivery'), scalar(['2.0', '1.0', null, 1])),
      fc.tuple(fc.constant('attributes'), anyJson),
    ),
    { maxLength: 4 },
  )
  .map((object): Value => ({ object: object as Entry[] }));

const userIdentity = fc.oneof(
  fc
    .array(
      fc.oneof(
        fc.tuple(fc.constant('type'), scalar(['AWSService', 'AssumedRole', 'WebIdentityUser', 'IAMUser', 3])),
        fc.tuple(fc.constant('invokedBy'), scalar(['pods.eks.amazonaws.com', 'ssm.amazonaws.com', null])),
        fc.tuple(fc.constant('identityProvider'), scalar(['arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC', 'token.actions.githubusercontent.com', 'arn:aws-cn:iam::1:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/X'])),
        fc.tuple(fc.constant('accountId'), scalar(['111122223333', '444455556666', 12, null])),
        fc.tuple(fc.constant('sessionContext'), sessionContext),
        fc.tuple(fc.string({ maxLength: 4 }), anyJson),
      ),
      { maxLength: 8 },
    )
    .map((object): Value => ({ object: object as Entry[] })),
  anyJson,
);

const recordEntry: fc.Arbitrary<Entry> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constant('eventSource'), scalar(['sts.amazonaws.com', 'eks-auth.amazonaws.com', 'ec2.amazonaws.com', 's3.amazonaws.com', 'ssmmessages.amazonaws.com', 'aws:sqs', 5, null])) },
  { weight: 3, arbitrary: fc.tuple(fc.constant('eventName'), scalar(['AssumeRole', 'AssumeRoleWithWebIdentity', 'AssumeRoleForPodIdentity', 'GetCallerIdentity', 'ListBuckets', true])) },
  { weight: 3, arbitrary: fc.tuple(fc.constant('userIdentity'), userIdentity) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('eventTime'), scalar(['2026-11-01T05:06:07Z', '2026-11-01T23:59:59Z', 'soon', 0])) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('awsRegion'), scalar(['us-east-1', 'eu-west-1', null, ['us-east-1']])) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('recipientAccountId'), scalar(['111122223333', null, 42])) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('body', 'requestParameters', '__proto__', 'eventID'), anyJson) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), anyJson) },
);

/** A record's text; with `mutation`, one byte replaced or inserted (mostly breaking it). */
export const recordText = fc
  .record({
    entries: fc.array(recordEntry, { maxLength: 12 }),
    ws: fc.array(fc.nat(9), { minLength: 1, maxLength: 8 }),
    escapes: fc.array(fc.boolean(), { minLength: 1, maxLength: 9 }).map((e) => e.map((x, i) => x && i % 3 === 0)),
    mutation: fc.option(fc.record({ at: fc.nat(), byte: fc.constantFrom(0x00, 0x09, 0x0a, 0x22, 0x2c, 0x5c, 0x7b, 0x7d, 0x5d, 0x3a, 0x30, 0x2d, 0xe2, 0x80, 0xff, 0x41), insert: fc.boolean() }), { freq: 3 }),
  })
  .map(({ entries, ws, escapes, mutation }) => {
    const bytes = Buffer.from(write({ object: entries }, ws, escapes), 'utf8');
    if (mutation === null) return bytes;
    const at = mutation.at % (bytes.length + 1);
    const byte = Buffer.from([mutation.byte]);
    return Buffer.concat([bytes.subarray(0, at), byte, bytes.subarray(mutation.insert ? at : at + 1)]);
  });

/** An element of `Records`: a record, any JSON value, or an SQS message of a Lambda event. */
const element = fc.oneof(
  recordText.map((b) => b.toString('utf8')),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{"eventSource":"aws:sqs","eventName":"x","body":"{\\"detail-type\\":\\"d\\",\\"source\\":\\"s\\",\\"detail\\":{}}","messageId":"1"}'),
);

/** A `{"Records":[…]}` document's bytes, or something close to one: another key, a BOM, a stray comma, text after it. */
export const recordsDocumentText = fc
  .record({
    elements: fc.array(element, { maxLength: 5 }),
    open: fc.constantFrom('{"Records":[', ' {\n "Records" : [ ', '\ufeff{"Records":[', '{"Records":[', '{"records":['),
    close: fc.constantFrom(']}', ' ] }\n', ']}x', '],"Records":[]}', '],"x":1}', ']'),
    comma: fc.constantFrom(',', ' , ', ',\n', ',,'),
  })
  .map(({ elements, open, close, comma }) => Buffer.from(`${open}${elements.join(comma)}${close}`, 'utf8'));

