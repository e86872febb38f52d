import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readRecordChunks } from '../../functions/adapters/cloudtrail-files';
import { CoverageAccumulator, fileRecordHour } from '../../functions/core/coverage';
import type { InputItem } from '../../functions/core/envelopes';
import { JsonStreamSplitter, type SplitItem } from '../../functions/core/json-stream';
import { DEFAULT_NODE_ROLE_PATTERNS, nodeRoleMatcher } from '../../functions/core/node-roles';
import { normalizeRecord } from '../../functions/core/normalize';
import {
  expandRaw,
  OutOfScopeMemo,
  PARSED_FIELDS,
  PREFILTER_FIELDS,
  prefilterCovers,
  recordsDocument,
  skeletonOf,
  skeletonOutOfScope,
  VERDICT_FIELDS,
  type FieldTree,
  type RawRecord,
  type SkimDictionary,
} from '../../functions/core/record-prefilter';
import { EventColumnsReader } from '../../functions/core/event-columns';
import { MAX_WASM_FILE_BYTES } from '../../functions/core/record-scan';
import { eventsHold, NONE, normalizingOf, rawRecordAt, SKIM_FIELDS_PER_RECORD, Skimmer, type Skim, type SkimEvents, type SkimmedRecords } from '../../functions/core/record-skim';
import { cloudTrailEnvelope, matchingRules, rulePatterns, widestRulePatterns, type EventPattern, type RuleName } from '../../functions/core/rule-patterns';
import { SELECTED_FIELDS } from '../../functions/core/trail-sql';
import { NODE_ROLE, recordsDocumentText as document, recordText } from '../support/hard-json';
import { generateScaledFile, planScaledFleet, scaledInventory, SCALE_PRESETS } from '../../functions/local/sample-fleet/scale';

const NOW = new Date('2026-11-20T00:00:00Z');

/** Fixed, so a run is repeatable; a failure prints its counterexample. */
const SEED = 20261202;

type Rules = Partial<Record<RuleName, EventPattern>>;
type Json = Record<string, unknown>;

/** The normalizer's view of node roles, for what it makes of a record: the default patterns and the role above. */
const NODE_ROLES = nodeRoleMatcher({ roleArns: [NODE_ROLE] });
/** The rule sets the ingest may hold: no node role known, the default globs, globs and exact ARNs. */
const RULE_SETS: Rules[] = [
  rulePatterns({}),
  rulePatterns({ nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS }),
  rulePatterns({ nodeRoleArns: [NODE_ROLE, 'arn:aws:iam::111122223333:role/custom-nodes'], nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS }),
];

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the skeleton must be: the parsed record restricted to the key tree. */
function project(value: Json, tree: FieldTree): Json {
  const out: Json = {};
  for (const [key, sub] of Object.entries(tree)) {
    if (!Object.hasOwn(value, key)) continue;
    const v = value[key];
    out[key] = sub === true || !isObject(v) ? v : project(v, sub);
  }
  return out;
}

/** ingest-pipeline's test of a parsed record: out of scope when no rule matches and it names its source. */
function fullOutOfScope(record: Json, rules: Rules): boolean {
  return matchingRules(cloudTrailEnvelope(record), rules).length === 0 && typeof record['eventSource'] === 'string' && typeof record['eventName'] === 'string';
}

function parsed(bytes: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

describe('record prefilter', () => {
  it('keeps what today’s rules read, and every rule set the ingest builds is decided by it', () => {
    expect(PREFILTER_FIELDS).toMatchObject({
      eventSource: true,
      eventName: true,
      eventTime: true,
      awsRegion: true,
      recipientAccountId: true,
      userIdentity: { type: true, invokedBy: true, identityProvider: true, accountId: true, sessionContext: { sessionIssuer: { arn: true }, ec2RoleDelivery: true } },
    });
    for (const rules of RULE_SETS) expect(prefilterCovers(rules)).toBe(true);
    // A rule reading another field, or the record whole, is not: the ingest then parses every record.
    expect(prefilterCovers({ ...RULE_SETS[0], irsa: { detail: { requestParameters: { roleArn: [{ prefix: 'arn' }] } } } })).toBe(false);
    expect(prefilterCovers({ irsa: { detail: [{ exists: true }] } as unknown as EventPattern })).toBe(false);
    expect(prefilterCovers({ irsa: { resources: ['x'] } })).toBe(false);
  });

  it('hands a parsed record over with every field the normalizer reads and every field the rules read', () => {
    const holds = (tree: FieldTree, path: readonly string[]): boolean => {
      const at = tree[path[0] as string];
      return at === true || (at !== undefined && path.length > 1 && holds(at, path.slice(1)));
    };
    for (const field of SELECTED_FIELDS) expect(holds(PARSED_FIELDS, field.path), field.path.join('.')).toBe(true);
    expect(project(PARSED_FIELDS as unknown as Json, PREFILTER_FIELDS)).toStrictEqual(PREFILTER_FIELDS);
    // and nothing else: the credentials and the rest of responseElements stay behind
    expect(PARSED_FIELDS['responseElements']).toStrictEqual({ provider: true, subjectFromWebIdentityToken: true });
    expect(Object.keys(PARSED_FIELDS).sort()).toEqual(['awsRegion', 'errorCode', 'eventID', 'eventName', 'eventSource', 'eventTime', 'recipientAccountId', 'requestParameters', 'responseElements', 'sourceIPAddress', 'userAgent', 'userIdentity']);
  });

  it('a skeleton is the parsed record restricted to the fields, and exists only for what JSON.parse accepts (property)', () => {
    fc.assert(
      fc.property(recordText, (bytes) => {
        const full = parsed(bytes);
        const skeleton = skeletonOf(bytes);
        if (!full.ok) {
          expect(skeleton).toBeNull();
          return;
        }
        if (!isObject(full.value)) {
          expect(skeleton).toBeNull();
          return;
        }
        // Everything JSON.parse accepts as an object here (shallow) is skeletoned, not only the easy cases.
        expect(skeleton).not.toBeNull();
        expect(skeleton).toStrictEqual(project(full.value, PREFILTER_FIELDS));
        for (const rules of RULE_SETS) expect(skeletonOutOfScope(skeleton as Json, rules)).toBe(fullOutOfScope(full.value, rules) && full.value['eventSource'] !== 'aws:sqs');
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('never drops a record the full path keeps: prefilter-skip ⇒ matchingRules finds nothing (property, any bytes)', () => {
    // One memo per rule set for the whole run, as the ingest keeps it: its answers are remembered ones.
    const memos = RULE_SETS.map((rules) => new OutOfScopeMemo(rules));
    fc.assert(
      fc.property(fc.oneof(recordText, fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))), (bytes) => {
        const skeleton = skeletonOf(bytes);
        if (skeleton === null) return;
        const full = parsed(bytes);
        expect(full.ok).toBe(true);
        for (const [i, rules] of RULE_SETS.entries()) {
          const skipped = skeletonOutOfScope(skeleton, rules);
          expect((memos[i] as OutOfScopeMemo).outOfScope(skeleton)).toBe(skipped);
          if (skipped) expect(fullOutOfScope((full as { value: Json }).value, rules)).toBe(true);
        }
      }),
      { seed: SEED, numRuns: 1500 },
    );
  });

  it('a record out of scope for the widest rules is out of scope for any rules the ingest builds (property)', () => {
    const widest = widestRulePatterns();
    const config = fc.record({
      nodeRoleArns: fc.array(fc.oneof(fc.constantFrom(NODE_ROLE, 'arn:aws:iam::111122223333:role/KarpenterNodeRole-c1', 'arn:aws:iam::111122223333:role/app', 'arn:aws:iam::1:role/custom-nodes'), fc.string({ maxLength: 12 })), { maxLength: 3 }),
      nodeRolePatterns: fc.array(fc.constantFrom(...DEFAULT_NODE_ROLE_PATTERNS, '*', 'custom-*', 'app'), { maxLength: 3 }),
    });
    let never = 0;
    fc.assert(
      fc.property(recordText, config, (bytes, nodeRoles) => {
        const skeleton = skeletonOf(bytes);
        if (skeleton === null || !skeletonOutOfScope(skeleton, widest)) return;
        never += 1;
        expect(skeletonOutOfScope(skeleton, rulePatterns(nodeRoles))).toBe(true);
      }),
      { seed: SEED, numRuns: 1500 },
    );
    expect(never).toBeGreaterThan(100);
  });

  it('is not fooled by escapes, duplicate keys, whitespace or key order', () => {
    const rules = RULE_SETS[2] as Rules;
    const irsaProvider = '"identityProvider":"arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"';
    const cases: [string, boolean][] = [
      // An IRSA assume whose name is escaped: in scope.
      [`{"eventSource":"sts.amazonaws.com","eventName":"\\u0041ssumeRoleWithWebIdentity","userIdentity":{${irsaProvider}}}`, false],
      // The key escaped.
      [`{"eventSource":"sts.amazonaws.com","\\u0065ventName":"AssumeRoleWithWebIdentity","userIdentity":{${irsaProvider}}}`, false],
      // The last duplicate wins, both ways.
      [`{"eventName":"GetCallerIdentity","eventSource":"sts.amazonaws.com","userIdentity":{${irsaProvider}},"eventName":"AssumeRoleWithWebIdentity"}`, false],
      [`{"eventName":"AssumeRoleWithWebIdentity","eventSource":"sts.amazonaws.com","userIdentity":{${irsaProvider}},"eventName":"GetCallerIdentity"}`, true],
      // A duplicate object replaces the first whole (no merge).
      [`{"eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity","userIdentity":{${irsaProvider}},"userIdentity":{"type":"x"}}`, true],
      [`{"eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity","userIdentity":{"type":"x"},"userIdentity":{${irsaProvider}}}`, false],
      // Whitespace everywhere, keys in another order.
      [`\n {\r\n "userIdentity" :\t{ "sessionContext" : { "ec2RoleDelivery" : "2.0" , "sessionIssuer" : { "arn" : "${NODE_ROLE}" } } , "type" : "AssumedRole" } ,\n "eventName":"ListBuckets" , "eventSource" : "s3.amazonaws.com" }\t`, false],
      // The node role's ARN written with escapes.
      [`{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"${NODE_ROLE.replace('N', '\\u004e')}"},"ec2RoleDelivery":"2.0"}}}`, false],
      // The same call from an ordinary role: out of scope.
      [`{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/app"},"ec2RoleDelivery":"2.0"}}}`, true],
      // In-scope words inside other strings do not matter either way.
      [`{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","requestParameters":{"note":"AssumeRoleWithWebIdentity sts.amazonaws.com \\"eventName\\":\\"AssumeRole\\""}}`, true],
      // No eventName: the normalizer must reject it, so it is parsed.
      [`{"eventSource":"kms.amazonaws.com","eventNam":"Decrypt"}`, false],
      [`{"eventSource":"kms.amazonaws.com","eventName":null}`, false],
      // A Lambda SQS message is unwrapped, not read as a record.
      [`{"eventSource":"aws:sqs","eventName":"x","body":"{}"}`, false],
    ];
    for (const [text, skipped] of cases) {
      const skeleton = skeletonOf(Buffer.from(text));
      expect(skeleton, text).not.toBeNull();
      expect(skeletonOutOfScope(skeleton as Json, rules), text).toBe(skipped);
      expect(fullOutOfScope(JSON.parse(text) as Json, rules) && !text.includes('aws:sqs'), text).toBe(skipped);
    }
  });

  it('leaves to JSON.parse what it does not accept: broken JSON, non-objects, lone values, deep nesting', () => {
    for (const text of ['{"a":1,}', '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":"\t"}', '{"a":"\\x"}', '{"a":"\\u12G4"}', '{"a" 1}', '{"a":tru}', '{"a":1}x', '[1]', '"x"', '', '{', '{"a":[1,]}', '{"a":NaN}']) {
      expect(skeletonOf(Buffer.from(text)), text).toBeNull();
    }
    const deep = `{"eventSource":"s3.amazonaws.com","eventName":"x","a":${'['.repeat(500)}${']'.repeat(500)}}`;
    expect(JSON.parse(deep)).toBeTruthy();
    expect(skeletonOf(Buffer.from(deep))).toBeNull();
    for (const text of ['{"a":-0.5e+10,"b":[true,false,null,{}],"c":"\\u00e9\\n\\/"}', '{}', ' {"x":"é\u2028"} ']) {
      expect(skeletonOf(Buffer.from(text)), text).toStrictEqual({});
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Whole files: what the ingest loop does with the items, parsed and raw.

interface Outcome {
  records: number;
  outOfScope: number;
  coverage: ReturnType<CoverageAccumulator['days']>;
  /** Records handed to the normalizer (their PARSED_FIELDS, and its outcome), and problems, in order. */
  passed: { where: string | null; value: unknown; normalized?: unknown }[];
}

/** What the small-file thread's client keeps (adapters/small-file-thread `received`). */
function receive(dictionary: SkimDictionary, skim: Skim): SkimDictionary {
  const into = skim.epoch === dictionary.epoch ? dictionary : { epoch: skim.epoch, skeletons: new Map<number, Json>() };
  for (const [key, skeleton] of skim.keys) into.skeletons.set(key, skeleton);
  return into;
}

/** ingest-pipeline's per-record loop, without the store. */
/** Records `ingestLoop` took as matched by their key, over the file's tests: that path is taken, not only allowed. */
let matchedByKey = 0;
/** Of those, the ones the reading thread (or a Skimmer) normalized: `ingestLoop` took its event. */
let normalizedByThread = 0;
/** How the ingest mirrored here normalizes, and so how the skims are asked to. */
const NORMALIZING = normalizingOf({ now: NOW });

function ingestLoop(items: readonly (SplitItem | SkimmedRecords)[], rules: Rules): Outcome {
  const memo = new OutOfScopeMemo(rules);
  const coverage = new CoverageAccumulator();
  const out: Outcome = { records: 0, outOfScope: 0, coverage: [], passed: [] };
  const note = (record: Json) => {
    const time = record['eventTime'];
    if (typeof time !== 'string') return;
    const identity = record['userIdentity'] as Json | undefined;
    const account = record['recipientAccountId'] ?? identity?.['accountId'];
    const region = record['awsRegion'];
    coverage.addFileRecord(typeof account === 'string' ? account : null, typeof region === 'string' ? region : null, time);
  };
  for (const entry of items) {
    /** A record the thread normalized comes as its event; its bytes are read here only to show what they hold. */
    let expanded: (InputItem | { type: 'normalized'; where: string; bytes: Buffer; event: unknown })[];
    /** Records a rule matches by their key (ingest-pipeline's `matched`): their hour noted from the skim, no rule matched again. */
    const matched = new Set<InputItem>();
    if (entry.type === 'skimmed') {
      // ingest-pipeline decideSkimmed: per key, each hour once
      expanded = [];
      const events = entry.events && eventsHold(entry.events.normalizing, { now: NOW }) ? entry.events : null;
      const reader = events === null ? null : new EventColumnsReader(events, (v) => v);
      for (let i = 0; i < entry.records.length / SKIM_FIELDS_PER_RECORD; i++) {
        const key = entry.records[i * SKIM_FIELDS_PER_RECORD + 2] as number;
        const hour = entry.records[i * SKIM_FIELDS_PER_RECORD + 3] as number;
        if (key !== NONE && memo.outOfScopeKey(entry.dictionary, key)) {
          out.records += 1;
          if (hour !== NONE) coverage.addFileRecord(...(entry.hours[hour] as [string | null, string | null, string]));
          out.outOfScope += 1;
        } else if (entry.records[i * SKIM_FIELDS_PER_RECORD] === NONE) expanded.push({ type: 'problem', file: entry.file, where: `record ${i + 1}`, reason: 'left out' });
        else if (key !== NONE && memo.matchesKey(entry.dictionary, key)) {
          if (hour !== NONE) coverage.addFileRecord(...(entry.hours[hour] as [string | null, string | null, string]));
          const event = events === null ? NONE : (events.of[i] as number);
          if (event !== NONE) {
            matchedByKey += 1;
            normalizedByThread += 1;
            expanded.push({ type: 'normalized', where: `record ${i + 1}`, bytes: rawRecordAt(entry, i).bytes, event: (reader as EventColumnsReader).eventAt(event) });
            continue;
          }
          for (const item of expandRaw(rawRecordAt(entry, i))) {
            matchedByKey += 1;
            if (item.type === 'record') matched.add(item);
            expanded.push(item);
          }
        } else expanded.push(...expandRaw(rawRecordAt(entry, i)));
      }
    } else if (entry.type === 'raw') {
      if (entry.skeleton !== null && skeletonOutOfScope(entry.skeleton, rules)) {
        out.records += 1;
        note(entry.skeleton);
        out.outOfScope += 1;
        continue;
      }
      expanded = expandRaw(entry);
    } else expanded = [entry];
    for (const item of expanded) {
      if (item.type === 'problem') {
        out.passed.push({ where: item.where, value: item.reason });
        continue;
      }
      out.records += 1;
      if (item.type === 'normalized') {
        out.passed.push({ where: item.where, value: project(JSON.parse(item.bytes.toString('utf8')) as Json, PARSED_FIELDS), normalized: { status: 'event', event: item.event } });
        continue;
      }
      const record = item.record as Json;
      if (matched.has(item)) {
        out.passed.push({ where: item.where, value: project(record, PARSED_FIELDS), normalized: normalizeRecord(record, NODE_ROLES, { now: NOW }) });
        continue;
      }
      if (/^record \d+$/.test(item.where)) note(record);
      if (fullOutOfScope(record, rules)) {
        out.outOfScope += 1;
        continue;
      }
      // What the ingest reads of it (a skimmed record comes as these fields alone), and what the normalizer makes of that.
      out.passed.push({ where: item.where, value: project(record, PARSED_FIELDS), normalized: normalizeRecord(record, NODE_ROLES, { now: NOW }) });
    }
  }
  out.coverage = coverage.days();
  return out;
}

async function readAll(file: string, raw: boolean, skim = false): Promise<(SplitItem | SkimmedRecords)[]> {
  const out: (SplitItem | SkimmedRecords)[] = [];
  for await (const chunk of raw ? readRecordChunks(file, { raw: true, skim, normalizing: () => NORMALIZING }) : readRecordChunks(file)) out.push(...chunk);
  return out;
}

const fixtures = path.resolve(import.meta.dirname, '../fixtures');
const fixtureFiles = ['cloudtrail', 'hostile'].flatMap((d) => readdirSync(path.join(fixtures, d)).filter((f) => f.endsWith('.json')).map((f) => path.join(fixtures, d, f)));

describe('raw records through the ingest loop give what parsed records give', () => {
  it.each(fixtureFiles.map((f) => [path.relative(fixtures, f), f]))('%s', async (_name, file) => {
    const parsedItems = await readAll(file, false);
    const rawItems = await readAll(file, true);
    const skimmedItems = await readAll(file, true, true);
    for (const rules of RULE_SETS) {
      expect(ingestLoop(rawItems, rules)).toStrictEqual(ingestLoop(parsedItems, rules));
      expect(ingestLoop(skimmedItems, rules)).toStrictEqual(ingestLoop(parsedItems, rules));
    }
  });

  it('a trail log file comes skimmed by the reading thread, and gives what its raw records give', async () => {
    const trail = fixtureFiles.filter((f) => /^\{\s*"Records"/.test(readFileSync(f, 'utf8')));
    expect(trail.length).toBeGreaterThan(0);
    for (const file of trail) {
      const skimmed = await readAll(file, true, true);
      expect(skimmed.map((i) => i.type), file).toEqual(['skimmed']);
      for (const rules of RULE_SETS) expect(ingestLoop(skimmed, rules)).toStrictEqual(ingestLoop(await readAll(file, true), rules));
    }
  });

  it('the fixtures as one trail log file each ({"Records":[…]}): raw, and the same outcome', () => {
    let raws = 0;
    for (const file of fixtureFiles) {
      const text = readFileSync(file, 'utf8');
      const doc = JSON.parse(text) as unknown;
      if (!isObject(doc) || 'Records' in doc) continue;
      // Written by hand, pretty-printed, as a trail would not: the record's own bytes.
      const bytes = Buffer.from(`{ "Records" : [\n${text.trim()} ,${text.trim()}\n] }\n`);
      const items = recordsDocument('f.json', bytes);
      expect(items, file).not.toBeNull();
      raws += (items as RawRecord[]).length;
      const whole = (JSON.parse(bytes.toString()) as { Records: Json[] }).Records.map((record, i): InputItem => ({ type: 'record', file: 'f.json', where: `record ${i + 1}`, record }));
      for (const rules of RULE_SETS) expect(ingestLoop(items as RawRecord[], rules)).toStrictEqual(ingestLoop(whole, rules));
    }
    expect(raws).toBeGreaterThan(20);
  });

  it('every record of the scaled sample fleet (tiny preset), with its inventory’s node roles', () => {
    const plan = planScaledFleet(SCALE_PRESETS.tiny);
    const nodeRoleArns = scaledInventory(plan).flatMap((f) => JSON.stringify(f.content).match(/arn:aws:iam::\d+:role\/[\w+=,.@-]+/g) ?? []);
    const rules = [...RULE_SETS, rulePatterns({ nodeRoleArns, nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS })];
    let records = 0;
    let skipped = 0;
    // and skimmed as the reading thread does, one dictionary for the run
    const skimmer = new Skimmer();
    let leftOut = 0;
    const countLeftOut = (skim: Skim) => skim.records.filter((v, i) => i % SKIM_FIELDS_PER_RECORD === 0 && v === NONE).length;
    let dictionary: SkimDictionary = { epoch: -1, skeletons: new Map() };
    let threadEvents = 0;
    const takenBefore = normalizedByThread;
    for (let h = 0; h < plan.hours; h += 5) {
      for (let p = 0; p < plan.places.length; p++) {
        const file = generateScaledFile(plan, p, h);
        const bytes = Buffer.from(JSON.stringify({ Records: file.records }));
        const items = recordsDocument(file.key, bytes);
        expect(items).not.toBeNull();
        const skim = skimmer.skim(bytes, NORMALIZING) as Skim;
        dictionary = receive(dictionary, skim);
        const skimmed: SkimmedRecords = { type: 'skimmed', file: file.key, bytes: skim.bytes, records: skim.records, dictionary, hours: skim.hours, events: skim.events };
        // Normalized by the skim: exactly the identity calls that become events, each as the ingest would make it.
        const reader = new EventColumnsReader(skim.events as SkimEvents, (v) => v);
        for (const [i, record] of file.records.entries()) {
          const parsed = JSON.parse(JSON.stringify(record)) as Json;
          const result = normalizeRecord(parsed, NODE_ROLES, { now: NOW });
          const event = (skim.events as SkimEvents).of[i] as number;
          if (event !== NONE) {
            expect({ status: 'event', event: reader.eventAt(event) }).toStrictEqual(result);
            threadEvents += 1;
          } else expect(result.status === 'event' && result.event.kind !== 'node-role', `record ${i + 1} of ${file.key}`).toBe(false);
        }
        const whole = file.records.map((record, i): InputItem => ({ type: 'record', file: file.key, where: `record ${i + 1}`, record: JSON.parse(JSON.stringify(record)) }));
        for (const r of rules) {
          const outcome = ingestLoop(items as RawRecord[], r);
          expect(outcome).toStrictEqual(ingestLoop(whole, r));
          expect(ingestLoop([skimmed], r)).toStrictEqual(outcome);
          leftOut += r === rules[0] ? countLeftOut(skim) : 0;
          records += outcome.records;
        }
        skipped += (items as RawRecord[]).filter((raw) => raw.skeleton !== null && skeletonOutOfScope(raw.skeleton, rules[3] as Rules)).length;
      }
    }
    expect(records).toBeGreaterThan(1000);
    expect(matchedByKey).toBeGreaterThan(100);
    expect(threadEvents).toBeGreaterThan(10);
    // and the ingest's loop took those events rather than parsing the records
    expect(normalizedByThread - takenBefore).toBeGreaterThan(3 * threadEvents);
    // The point of it: most records are decided without being parsed, and their bytes stay on the reading thread.
    expect(skipped / (records / rules.length)).toBeGreaterThan(0.7);
    expect(leftOut / (records / rules.length)).toBeGreaterThan(0.5);
  });
});

describe('recordsDocument', () => {
  it('gives raw elements only for a valid {"Records":[…]} document, each what JSON.parse of the file holds (property)', () => {
    fc.assert(
      fc.property(document, (bytes) => {
        const raws = recordsDocument('f.json', bytes);
        let text = bytes.toString('utf8');
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        let doc: unknown;
        try {
          doc = JSON.parse(text);
        } catch {
          expect(raws).toBeNull();
          return;
        }
        if (raws === null) return; // a valid file of another shape: read as before
        expect(Object.keys(doc as Json)).toEqual(['Records']);
        const records = (doc as { Records: unknown[] }).Records;
        expect(raws.map((r) => JSON.parse(r.bytes.toString('utf8')) as unknown)).toStrictEqual(records);
        expect(raws.map((r) => r.index)).toEqual(records.map((_, i) => i + 1));
        for (const [i, raw] of raws.entries()) {
          const record = records[i];
          expect(raw.skeleton).toStrictEqual(isObject(record) ? project(record, PREFILTER_FIELDS) : null);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('skimmed, gives each record’s bytes, a key that decides every rule set as the record’s skeleton does, and its hour (property)', () => {
    // One skimmer and dictionary for the whole run, as the reading thread keeps them.
    const skimmer = new Skimmer();
    let dictionary: SkimDictionary = { epoch: -1, skeletons: new Map() };
    const memos = RULE_SETS.map((rules) => new OutOfScopeMemo(rules));
    let keyed = 0;
    let left = 0;
    let parsedFields = 0;
    let matchedKeys = 0;
    fc.assert(
      fc.property(document, (bytes) => {
        const raws = recordsDocument('f.json', bytes);
        const skim = skimmer.skim(bytes);
        expect(skim === null).toBe(raws === null);
        if (skim === null || raws === null) return;
        dictionary = receive(dictionary, skim);
        const skimmed: SkimmedRecords = { type: 'skimmed', file: 'f.json', bytes: skim.bytes, records: skim.records, dictionary, hours: skim.hours };
        expect(skim.records.length).toBe(raws.length * SKIM_FIELDS_PER_RECORD);
        for (const [i, raw] of raws.entries()) {
          const key = skim.records[i * SKIM_FIELDS_PER_RECORD + 2] as number;
          const hour = skim.records[i * SKIM_FIELDS_PER_RECORD + 3] as number;
          const leftOut = skim.records[i * SKIM_FIELDS_PER_RECORD] === NONE;
          // a record's bytes, unless it was left out: then no rule set wants it
          if (leftOut) {
            left += 1;
            for (const rules of RULE_SETS) expect(raw.skeleton !== null && skeletonOutOfScope(raw.skeleton, rules)).toBe(true);
          } else {
            const handed = rawRecordAt(skimmed, i);
            expect({ ...handed, bytes: null }).toStrictEqual({ ...raw, bytes: null, skeleton: null });
            // a trail's record as the fields the ingest parses, never longer than itself; an SQS message (unwrapped) or a non-object as it is
            if (raw.skeleton !== null && raw.skeleton['eventSource'] !== 'aws:sqs') {
              parsedFields += 1;
              expect(JSON.parse(handed.bytes.toString('utf8'))).toStrictEqual(project(JSON.parse(raw.bytes.toString('utf8')) as Json, PARSED_FIELDS));
              expect(handed.bytes.length).toBeLessThanOrEqual(raw.bytes.length);
            } else expect(handed.bytes.equals(raw.bytes)).toBe(true);
          }
          if (raw.skeleton === null) {
            expect([key, hour]).toEqual([NONE, NONE]);
            continue;
          }
          keyed += 1;
          for (const [r, rules] of RULE_SETS.entries()) expect((memos[r] as OutOfScopeMemo).outOfScopeKey(dictionary, key)).toBe(skeletonOutOfScope(raw.skeleton, rules));
          // and whether a rule matches the record itself, as the ingest would ask of it once parsed
          const whole = JSON.parse(raw.bytes.toString('utf8')) as Json;
          for (const [r, rules] of RULE_SETS.entries()) {
            expect((memos[r] as OutOfScopeMemo).matchesKey(dictionary, key)).toBe(whole['eventSource'] !== 'aws:sqs' && matchingRules(cloudTrailEnvelope(whole), rules).length > 0);
            if ((memos[r] as OutOfScopeMemo).matchesKey(dictionary, key)) matchedKeys += 1;
          }
          // what any rules can read of the record is what its key's skeleton holds, not just today's verdicts
          expect(project(dictionary.skeletons.get(key) as Json, VERDICT_FIELDS)).toStrictEqual(project(raw.skeleton, VERDICT_FIELDS));
          // addFileRecord reads the account, the region and the first 13 characters of eventTime
          const asCoverage = (h: readonly [string | null, string | null, string] | null | undefined) => (h ? [h[0], h[1], h[2].slice(0, 13)] : null);
          expect(asCoverage(hour === NONE ? null : skim.hours[hour])).toStrictEqual(asCoverage(fileRecordHour(raw.skeleton)));
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
    expect(keyed).toBeGreaterThan(150);
    expect(left).toBeGreaterThan(2);
    expect(parsedFields).toBeGreaterThan(50);
    // generated records seldom match a rule: the sample fleet's test below has hundreds that do
    expect(matchedKeys).toBeGreaterThan(2);
    // Keys are few: a record's key leaves out eventTime and everything no rule reads.
    expect(dictionary.skeletons.size).toBeLessThan(keyed);
  });

  it('a key says a rule matches a trail’s record only: an SQS message of a Lambda event is unwrapped, whatever its own fields match', () => {
    const rules = rulePatterns({ nodeRoleArns: [NODE_ROLE], nodeRolePatterns: DEFAULT_NODE_ROLE_PATTERNS });
    const byNodeRole = { eventName: 'x', userIdentity: { type: 'AssumedRole', sessionContext: { sessionIssuer: { arn: NODE_ROLE }, ec2RoleDelivery: '2.0' } } };
    const message = { eventSource: 'aws:sqs', body: '{}', ...byNodeRole };
    const call = { eventSource: 's3.amazonaws.com', ...byNodeRole };
    // the message's own fields match the node-role rule, as the call's do
    expect(matchingRules(cloudTrailEnvelope(message), rules)).toEqual(['node-role']);
    const skim = new Skimmer().skim(Buffer.from(JSON.stringify({ Records: [message, call] }))) as Skim;
    const dictionary = receive({ epoch: -1, skeletons: new Map() }, skim);
    const memo = new OutOfScopeMemo(rules);
    expect(memo.matchesKey(dictionary, skim.records[2] as number)).toBe(false);
    expect(memo.matchesKey(dictionary, skim.records[SKIM_FIELDS_PER_RECORD + 2] as number)).toBe(true);
  });

  it('a key decides nothing for rules that read a field it leaves out: such records are parsed', () => {
    const skim = new Skimmer().skim(Buffer.from('{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2026-11-01T00:00:00Z"}]}')) as Skim;
    const dictionary = receive({ epoch: -1, skeletons: new Map() }, skim);
    expect(new OutOfScopeMemo(RULE_SETS[0] as Rules).outOfScopeKey(dictionary, 0)).toBe(true);
    const readsTime: Rules = { irsa: { detail: { eventTime: [{ prefix: '2026' }] } } };
    expect(prefilterCovers(readsTime)).toBe(true);
    expect(new OutOfScopeMemo(readsTime).outOfScopeKey(dictionary, 0)).toBe(false);
    // an unknown key is parsed too
    expect(new OutOfScopeMemo(RULE_SETS[0] as Rules).outOfScopeKey(dictionary, 7)).toBe(false);
  });

  it('skimmed, a file names each hour once, and each record the hour of its own account, region and eventTime', () => {
    const record = (recipientAccountId: string | null, awsRegion: string | null, eventTime: string) => ({ eventSource: 's3.amazonaws.com', eventName: 'GetObject', recipientAccountId, awsRegion, eventTime });
    const records = [
      record('111122223333', 'us-east-1', '2026-11-01T05:06:07Z'),
      record('111122223333', 'us-east-1', '2026-11-01T05:59:59Z'),
      // the same account and region, another hour of the same day
      record('111122223333', 'us-east-1', '2026-11-01T23:00:00Z'),
      // another account, then another region, at that hour
      record('444455556666', 'us-east-1', '2026-11-01T23:00:00Z'),
      record('444455556666', 'eu-west-1', '2026-11-01T23:00:00Z'),
      // back to the first hour: named once
      record('111122223333', 'us-east-1', '2026-11-01T05:30:00Z'),
      // a time shorter than an hour names itself, and does not stand for the hour it starts
      record('111122223333', 'us-east-1', '2026-11-01'),
      record('111122223333', 'us-east-1', '2026-11-01T05:00:00Z'),
    ];
    const skim = new Skimmer().skim(Buffer.from(JSON.stringify({ Records: records }))) as Skim;
    const hourIds = records.map((_, i) => skim.records[i * SKIM_FIELDS_PER_RECORD + 3] as number);
    expect(hourIds.map((id) => skim.hours[id]?.slice(0, 2).concat([(skim.hours[id]?.[2] as string).slice(0, 13)]))).toEqual(records.map((r) => [r.recipientAccountId, r.awsRegion, r.eventTime.slice(0, 13)]));
    expect(hourIds).toEqual([0, 0, 1, 2, 3, 0, 4, 0]);
    expect(skim.hours).toHaveLength(5);
  });

  it('skimmed, the hour of a record is read from its own bytes: the account from userIdentity without recipientAccountId, an eventTime written with escapes', () => {
    const record = (fields: string) => `{"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1",${fields}}`;
    const records = [
      record('"userIdentity":{"accountId":"111122223333"},"eventTime":"2026-11-01T05:06:07Z"'),
      // the same hour and region, another account: userIdentity's, as no recipientAccountId says otherwise
      record('"userIdentity":{"accountId":"444455556666"},"eventTime":"2026-11-01T05:07:00Z"'),
      record('"recipientAccountId":null,"userIdentity":{"accountId":"111122223333"},"eventTime":"2026-11-01T05:08:00Z"'),
      // recipientAccountId wins over userIdentity's
      record('"recipientAccountId":"444455556666","userIdentity":{"accountId":"111122223333"},"eventTime":"2026-11-01T05:09:00Z"'),
      record('"recipientAccountId":"444455556666","eventTime":"2026-11-01T05:10:00Z"'),
      // escapes: the same first 13 bytes, not the same first 13 characters
      record('"recipientAccountId":"444455556666","eventTime":"\\u0032026-11-01T05:11:00Z"'),
      record('"recipientAccountId":"444455556666","eventTime":"\\u0032026-11-02T07:00:00Z"'),
      // a character outside ASCII is one character of two bytes
      record('"recipientAccountId":"444455556666","eventTime":"é026-11-01T05:11:00Z"'),
      record('"recipientAccountId":"444455556666","eventTime":"é026-11-01T06:00:00Z"'),
    ];
    const skim = new Skimmer().skim(Buffer.from(`{"Records":[${records.join(',')}]}`)) as Skim;
    const hourOf = (i: number) => {
      const hour = skim.hours[skim.records[i * SKIM_FIELDS_PER_RECORD + 3] as number];
      return hour && [hour[0], hour[1], hour[2].slice(0, 13)];
    };
    const expected = records.map((text) => {
      const hour = fileRecordHour(JSON.parse(text) as Json);
      return hour && [hour[0], hour[1], hour[2].slice(0, 13)];
    });
    expect(records.map((_, i) => hourOf(i))).toEqual(expected);
    expect(expected.map((h) => h?.join(' '))).toEqual([
      '111122223333 us-east-1 2026-11-01T05',
      '444455556666 us-east-1 2026-11-01T05',
      '111122223333 us-east-1 2026-11-01T05',
      '444455556666 us-east-1 2026-11-01T05',
      '444455556666 us-east-1 2026-11-01T05',
      '444455556666 us-east-1 2026-11-01T05',
      '444455556666 us-east-1 2026-11-02T07',
      '444455556666 us-east-1 é026-11-01T05',
      '444455556666 us-east-1 é026-11-01T06',
    ]);
  });

  it('skimmed, records with values longer than the key’s buffer are keyed by all their bytes', () => {
    const long = (c: string) => `arn:aws:iam::111122223333:role/${c.repeat(100_000)}`;
    const record = (arn: string, eventName = 'GetCallerIdentity') => ({ eventSource: 'sts.amazonaws.com', eventName, userIdentity: { type: 'AssumedRole', sessionContext: { sessionIssuer: { arn } } } });
    const skimmer = new Skimmer();
    // the last: another call of the same name's length, so that only its bytes before the grown value tell it apart
    const records = [record(long('a')), record(long('a')), record(long('b')), record('arn:aws:iam::1:role/short'), record(long('a'), 'GetCallerIdentitY')];
    const first = skimmer.skim(Buffer.from(JSON.stringify({ Records: records }))) as Skim;
    expect([2, 6, 10, 14, 18].map((at) => first.records[at])).toEqual([0, 0, 1, 2, 3]);
    expect(first.keys.map(([, skeleton]) => skeleton)).toStrictEqual([records[0], records[2], records[3], records[4]]);
    // and the next file, whose keys fit the buffer again, finds them
    const second = skimmer.skim(Buffer.from(JSON.stringify({ Records: [record('arn:aws:iam::1:role/short'), record(long('b'))] }))) as Skim;
    expect([2, 6].map((at) => second.records[at])).toEqual([2, 1]);
    expect(second.keys).toEqual([]);
  });

  it('skimmed, a record whose userIdentity is an empty object and one without it have keys of their own', () => {
    const skim = new Skimmer().skim(Buffer.from('{"Records":[{"eventSource":"s","eventName":"n","userIdentity":{}},{"eventSource":"s","eventName":"n"},{"eventSource":"s","eventName":"n","userIdentity":{"type":"A"},"userIdentity":{}}]}')) as Skim;
    expect(skim.keys).toEqual([
      [0, { eventSource: 's', eventName: 'n', userIdentity: {} }],
      [1, { eventSource: 's', eventName: 'n' }],
    ]);
    expect([2, 6, 10].map((at) => skim.records[at])).toEqual([0, 1, 0]);
  });

  it('a skimmer whose dictionary fills starts a new one; a file that straddles the two, or is not a log file, hands over no key', () => {
    const skimmer = new Skimmer(3);
    const records = (names: string[]) => JSON.stringify(names.map((eventName) => ({ eventSource: 'sts.amazonaws.com', eventName })));
    const file = (...names: string[]) => Buffer.from(`{"Records":${records(names)}}`);
    const keys = (skim: Skim | null) => skim && [skim.epoch, skim.keys.map(([k, s]) => [k, s['eventName']])];
    expect(keys(skimmer.skim(file('A', 'B', 'A')))).toEqual([0, [[0, 'A'], [1, 'B']]]);
    // not a log file (a key after Records): read whole by the caller, and its new key C is not kept
    expect(skimmer.skim(Buffer.from(`{"Records":${records(['A', 'C'])},"x":1}`))).toBeNull();
    expect(keys(skimmer.skim(file('C')))).toEqual([0, [[2, 'C']]]);
    // a fourth key: the dictionary starts over mid-file, so the file's first keys are gone
    expect(skimmer.skim(file('D', 'A'))).toBeNull();
    // the new dictionary's keys that file made are handed over by the next files that have them
    expect(keys(skimmer.skim(file('A')))).toEqual([1, [[1, 'A']]]);
    expect(keys(skimmer.skim(file('A', 'D', 'E')))).toEqual([1, [[0, 'D'], [2, 'E']]]);
  });

  it('a skim that fails part-way (the thread then hands the file over unskimmed) keeps the keys it made for the next file', () => {
    const skimmer = new Skimmer();
    const file = (...names: string[]) => Buffer.from(JSON.stringify({ Records: names.map((eventName) => ({ eventSource: 'sts.amazonaws.com', eventName })) }));
    const patched = skimmer as unknown as { scannedKey: (...args: unknown[]) => number };
    const scannedKey = patched.scannedKey;
    let calls = 0;
    patched.scannedKey = function (this: unknown, ...args: unknown[]) {
      if (++calls === 2) throw new Error('a bug in the skim');
      return scannedKey.apply(this, args);
    };
    expect(() => skimmer.skim(file('A', 'B'))).toThrow('a bug in the skim');
    patched.scannedKey = scannedKey;
    const next = skimmer.skim(file('B', 'A')) as Skim;
    expect(next.keys.map(([k, s]) => [k, s['eventName']])).toEqual([[1, 'B'], [0, 'A']]);
  });

  it('a skimmer keys a file too large for the WebAssembly scan by its text, and the files after it by the scan, each key handed over once', () => {
    const skimmer = new Skimmer();
    const call = (eventName: string, padding = '') => ({ eventSource: 'sts.amazonaws.com', eventName, ...(padding === '' ? {} : { requestParameters: { padding } }) });
    const large = Buffer.from(JSON.stringify({ Records: [call('A', 'x'.repeat(MAX_WASM_FILE_BYTES)), call('B'), call('A')] }));
    expect(large.length).toBeGreaterThan(MAX_WASM_FILE_BYTES);
    const first = skimmer.skim(large) as Skim;
    expect([2, 6, 10].map((at) => first.records[at])).toEqual([0, 1, 0]);
    const second = skimmer.skim(Buffer.from(JSON.stringify({ Records: [call('B'), call('C'), call('A')] }))) as Skim;
    // the scan's dictionary is another: its keys are new ids, for the same projections
    expect(second.keys.map(([k, s]) => [k, s['eventName']])).toEqual([[2, 'B'], [3, 'C'], [4, 'A']]);
    const third = skimmer.skim(large) as Skim;
    expect([third.keys, [2, 6, 10].map((at) => third.records[at])]).toEqual([[], [0, 1, 0]]);
  });

  it('a record whose verdict fields alone are longer than the dictionary can keep has no key (the ingest parses it); many long keys start a new dictionary', () => {
    const skimmer = new Skimmer();
    const call = (eventName: string) => ({ eventSource: 'sts.amazonaws.com', eventName });
    const huge = call('H'.repeat(9 * 2 ** 20));
    const skim = skimmer.skim(Buffer.from(JSON.stringify({ Records: [call('A'), huge] }))) as Skim;
    expect([skim.records[2], skim.records[6]]).toEqual([0, NONE]);
    // handed over whole, for the ingest to parse
    expect(JSON.parse(rawRecordAt({ type: 'skimmed', file: 'f', bytes: skim.bytes, records: skim.records, dictionary: { epoch: 0, skeletons: new Map() }, hours: skim.hours }, 1).bytes.toString())).toStrictEqual(huge);
    // alone in an empty dictionary too
    const alone = new Skimmer().skim(Buffer.from(JSON.stringify({ Records: [huge] }))) as Skim;
    expect(alone.records[2]).toBe(NONE);
    // nine keys of a megabyte fill the dictionary's 8 MiB: it starts over in the file, so the file is not handed over
    expect(skimmer.skim(Buffer.from(JSON.stringify({ Records: Array.from({ length: 9 }, (_, i) => call(String(i).repeat(2 ** 20))) })))).toBeNull();
    const after = skimmer.skim(Buffer.from(JSON.stringify({ Records: [call('A')] }))) as Skim;
    expect(after.epoch).toBe(skim.epoch + 1);
  });

  it('the streaming splitter hands over the same raw elements for a large file', () => {
    fc.assert(
      fc.property(fc.array(recordText, { maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 4 }), (elements, cuts) => {
        const bytes = Buffer.from(`{"Records":[${elements.map((e) => e.toString('utf8')).join(',')}]}`, 'utf8');
        const splitter = new JsonStreamSplitter<SplitItem>('f.json', { maxRecordBytes: 1 << 20 }, bytes.toString('utf8', 0, 4096), { raw: true });
        const items: SplitItem[] = [];
        for (let at = 0, k = 0; at < bytes.length; k++) {
          const next = Math.min(bytes.length, at + (cuts[k % cuts.length] ?? 1));
          items.push(...splitter.push(bytes.subarray(at, next)));
          at = next;
        }
        items.push(...splitter.end());
        const plain = new JsonStreamSplitter('f.json', { maxRecordBytes: 1 << 20 }, bytes.toString('utf8', 0, 4096));
        const expected = [...plain.push(bytes), ...plain.end()];
        const expanded = items.flatMap((item) => (item.type === 'raw' ? expandRaw(item) : [item]));
        expect(expanded).toStrictEqual(expected);
        for (const item of items) {
          if (item.type !== 'raw' || item.skeleton === null) continue;
          expect(item.skeleton).toStrictEqual(project(JSON.parse(item.bytes.toString('utf8')) as Json, PREFILTER_FIELDS));
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});
