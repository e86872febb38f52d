import { BatchGetItemCommand, BatchWriteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FAST_CHECK_TYPES_SOURCE } from '../../functions/local/dynalite-check-types';
import { prng } from '../support/prng';

// The store's thread replaces dynalite's `checkTypes` with a walk that returns a request unchanged
// when dynalite's copy of it would equal it, and calls dynalite's own otherwise. Whatever the
// request, the answer (the value, or the error and its body) must be dynalite's.
type CheckTypes = (data: unknown, types: unknown) => unknown;
const require = createRequire(import.meta.url);
const original = (require('dynalite/validations') as { checkTypes: CheckTypes }).checkTypes;
const make = new Function('Buffer', `${FAST_CHECK_TYPES_SOURCE}; return fastCheckTypes;`)(Buffer) as (original: CheckTypes, onFallback?: () => void) => CheckTypes;

const ACTIONS = ['batchGetItem', 'batchWriteItem', 'createTable', 'deleteItem', 'getItem', 'putItem', 'query', 'scan', 'updateItem', 'updateTable'];
const actionTypes = Object.fromEntries(ACTIONS.map((a) => [a, (require(`dynalite/validations/${a}`) as { types: Record<string, unknown> }).types]));

/** What a check makes of a request as dynalite would parse it (a fresh copy each time: dynalite's deletes members). */
function outcome(check: CheckTypes, json: string, types: unknown): string {
  try {
    return `value ${JSON.stringify(check(JSON.parse(json), types))}`;
  } catch (e) {
    const err = e as { statusCode?: number; body?: unknown; message?: string };
    return err.statusCode !== undefined ? `error ${err.statusCode} ${JSON.stringify(err.body)}` : `thrown ${err.message}`;
  }
}

// ---- requests made from the operations' own types, valid or damaged here and there ----

type Type = string | { type?: string; children?: unknown };
const ODD_VALUES: unknown[] = [null, true, false, 'true', 'YES', '0', 'no', 1, -2, 1.5, 0, '', 'x', 'abc', 'ab=c', 'AAAA', 'AA==', [], [null], {}, { S: 1 }, { N: 2 }, [1, 'a'], { x: null }];

function json(value: unknown): string {
  return JSON.stringify(value);
}

function member(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

function generate(type: Type, random: () => number, depth: number, damage: number): unknown {
  if (random() < damage) return ODD_VALUES[Math.floor(random() * ODD_VALUES.length)];
  const children = typeof type === 'object' ? (typeof type.children === 'string' ? { type: type.children } : type.children) : undefined;
  const name = typeof type === 'object' && type.type ? type.type : (type as string);
  const match = /(.+?)<(.+)>$/.exec(name);
  const base = match ? match[1] : name;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const count = () => (depth > 3 ? 0 : Math.floor(random() * 4));
  switch (base) {
    case 'AttrStruct': {
      const kind = pick(depth > 3 ? ['S', 'N', 'B', 'BOOL', 'NULL'] : ['S', 'N', 'B', 'BOOL', 'NULL', 'SS', 'NS', 'BS', 'L', 'M']);
      const scalar = (k: string): unknown => (random() < damage ? pick(ODD_VALUES) : k === 'S' ? pick(['a', 'SCOPE#x', 'ü', '']) : k === 'N' ? String(Math.floor(random() * 1000)) : k === 'B' ? Buffer.from([Math.floor(random() * 256), 7]).toString('base64') : true);
      const value =
        kind === 'SS' || kind === 'NS' || kind === 'BS'
          ? Array.from({ length: 1 + count() }, () => scalar(kind[0] as string))
          : kind === 'L'
            ? Array.from({ length: count() }, () => generate('AttrStruct<ValueStruct>', random, depth + 1, damage))
            : kind === 'M'
              ? Object.fromEntries(Array.from({ length: count() }, (_, i) => [`m${i}`, generate('AttrStruct<ValueStruct>', random, depth + 1, damage)]))
              : scalar(kind);
      return { [kind]: value };
    }
    case 'Boolean':
      return random() < 0.5;
    case 'Short':
    case 'Integer':
    case 'Long':
      return Math.floor(random() * 100);
    case 'Double':
      return random() * 100;
    case 'String':
      return pick(['t', 'attribute_not_exists(pk)', '#s = :v', 'TOTAL', 'NONE']);
    case 'Blob':
      return Buffer.from('blob').toString('base64');
    case 'List':
    case 'ParameterizedList':
      return Array.from({ length: count() }, () => generate(children as Type, random, depth + 1, damage));
    case 'Map':
    case 'ParameterizedMap': {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < count(); i++) member(out, random() < damage ? pick(['__proto__', 'constructor']) : `k${i}`, generate(children as Type, random, depth + 1, damage));
      return out;
    }
    case 'ValueStruct':
    case 'FieldStruct':
      return struct(children as Record<string, Type>, random, depth + 1, damage);
    default:
      return null;
  }
}

function struct(types: Record<string, Type>, random: () => number, depth: number, damage: number): Record<string, unknown> {
  let keys = Object.keys(types).filter(() => random() < 0.6);
  // another member order than the types', as a client may send it
  if (random() < 0.3) keys = keys.reverse();
  const out: Record<string, unknown> = {};
  for (const key of keys) member(out, key, generate(types[key] as Type, random, depth, damage));
  if (random() < damage) member(out, ['Unknown', '__proto__', 'constructor', 'toString'][Math.floor(random() * 4)] as string, random() < 0.5 ? null : 'x');
  if (random() < damage && keys.length > 0) member(out, keys[0] as string, null);
  return out;
}

describe('the store thread’s checkTypes', () => {
  it('answers as dynalite does, for requests valid and damaged, over every operation cutover-watch sends', () => {
    let fallbacks = 0;
    const fast = make(original, () => (fallbacks += 1));
    const random = prng(20261205);
    let valid = 0;
    for (let n = 0; n < 3000; n++) {
      const action = ACTIONS[n % ACTIONS.length] as string;
      const damage = n % 3 === 0 ? 0 : 0.04;
      const request = json(struct(actionTypes[action] as Record<string, Type>, random, 0, damage));
      const before = fallbacks;
      expect(outcome(fast, request, actionTypes[action]), `${action} ${request}`).toBe(outcome(original, request, actionTypes[action]));
      if (damage === 0) {
        valid += 1;
        // an undamaged request never needs dynalite's own check
        expect(fallbacks, `${action} ${request}`).toBe(before);
      }
    }
    expect(valid).toBe(1000);
    // and the damaged ones were handed to it
    expect(fallbacks).toBeGreaterThan(500);
  });

  it('passes the requests the SDK makes for cutover-watch’s operations without dynalite’s copy, and they come out as dynalite’s would', async () => {
    const bodies: { target: string; body: string }[] = [];
    const client = new DynamoDBClient({
      region: 'local',
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestHandler: {
        handle: async (request: { headers: Record<string, string>; body: string | Uint8Array }) => {
          const body = typeof request.body === 'string' ? request.body : Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength).toString('utf8');
          bodies.push({ target: request.headers['x-amz-target'] ?? '', body });
          return { response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Readable.from([Buffer.from('{}')]) } };
        },
      },
    });
    const Item = {
      pk: { S: 'SCOPE#cluster:arn:aws:eks:us-east-1:111122223333:cluster/prod' },
      sk: { S: 'SA#payments#api#irsa' },
      count: { N: '12' },
      gz: { B: new Uint8Array([31, 139, 8, 0, 1, 2, 3]) },
      roles: { SS: ['arn:aws:iam::111122223333:role/a', 'arn:aws:iam::111122223333:role/b'] },
      batches: { L: [{ S: 'kx1-abc' }] },
      nested: { M: { days: { NS: ['1', '2'] }, ok: { BOOL: true }, none: { NULL: true } } },
    };
    const Key = { pk: Item.pk, sk: Item.sk };
    await client.send(new BatchWriteItemCommand({ RequestItems: { t: [{ PutRequest: { Item } }, { DeleteRequest: { Key } }] } }));
    await client.send(new PutItemCommand({ TableName: 't', Item, ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': { N: '3' } } }));
    await client.send(new UpdateItemCommand({ TableName: 't', Key, UpdateExpression: 'ADD #h :h', ExpressionAttributeNames: { '#h': 'hours' }, ExpressionAttributeValues: { ':h': { SS: ['01'] } } }));
    await client.send(new GetItemCommand({ TableName: 't', Key, ConsistentRead: true }));
    await client.send(new BatchGetItemCommand({ RequestItems: { t: { Keys: [Key], ConsistentRead: true } } }));
    await client.send(new QueryCommand({ TableName: 't', KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)', ExpressionAttributeValues: { ':p': Item.pk, ':s': { S: 'SA#' } }, Limit: 100, ExclusiveStartKey: Key }));
    await client.send(new ScanCommand({ TableName: 't', ProjectionExpression: 'pk', FilterExpression: 'begins_with(pk, :p0)', ExpressionAttributeValues: { ':p0': { S: 'SCOPE' } }, ConsistentRead: true }));
    client.destroy();

    let fallbacks = 0;
    const fast = make(original, () => (fallbacks += 1));
    expect(bodies).toHaveLength(7);
    for (const { target, body } of bodies) {
      const action = (target.split('.')[1] ?? '').replace(/^./, (c) => c.toLowerCase());
      expect(outcome(fast, body, actionTypes[action]), target).toBe(outcome(original, body, actionTypes[action]));
    }
    expect(fallbacks).toBe(0);
  });
});
