/**
 * dynalite's first check of every request, `checkTypes`, without its cost for a request that
 * passes it: source for the store's thread (embedded-store.ts), which evaluates it there.
 *
 * dynalite checks a request's JSON against the operation's types the way DynamoDB's front end does,
 * and answers DynamoDB's SerializationException where a value has the wrong type. It does so by
 * copying the request: every struct, list and map into a new one, and every attribute value into a
 * new object made by visiting all ten of DynamoDB's value types, parsing each type's name with a
 * regular expression every time. In analyze's write-out that was the store thread's largest cost
 * (profiled at 20,000 namespaces: ~1.7 s of its ~7 s busy in a 9 s write-out, and much of its
 * garbage), and the write-out waits on that thread.
 *
 * Most requests already hold every value in the type it must have. Then what `checkTypes` returns
 * equals the request, but for the structs whose members came in another order than the types list
 * them, or that hold a member it leaves out (a null, one the operation does not define): so the
 * request is walked once and returned as it is, and only those structs are made again as it makes
 * them (with the lists and maps holding them). At the first value of another type (a boolean given
 * as a string, a number where a string goes, a bad Base64, anything this walk does not know),
 * dynalite's own `checkTypes` runs on the untouched request: its conversions, its errors, exactly.
 */
export const FAST_CHECK_TYPES_SOURCE = /* js */ `
function fastCheckTypes(original, onFallback) {
  const FALLBACK = Symbol('fallback');
  // dynalite's AttrStruct: an AttributeValue, by the types validations/index.js gives it
  const ATTRIBUTE_VALUE = {
    S: 'String', B: 'Blob', N: 'String', BOOL: 'Boolean', NULL: 'Boolean',
    BS: { type: 'List', children: 'Blob' },
    NS: { type: 'List', children: 'String' },
    SS: { type: 'List', children: 'String' },
    L: { type: 'List', children: 'AttrStruct<ValueStruct>' },
    M: { type: 'Map<AttributeValue>', children: 'AttrStruct<ValueStruct>' },
  };
  const names = new Map();
  // 'Map<AttributeValue>' → ['Map', 'AttributeValue'], as checkType's /(.+?)<(.+)>$/ splits it
  function nameOf(type) {
    let parts = names.get(type);
    if (parts === undefined) {
      const match = type.match(/(.+?)<(.+)>$/);
      parts = match === null ? [type, undefined] : [match[1], match[2]];
      names.set(type, parts);
    }
    return parts;
  }
  const attrStructs = new Map();
  function attrStruct(subtype) {
    let type = attrStructs.get(subtype);
    if (type === undefined) attrStructs.set(subtype, (type = { type: subtype + '<AttributeValue>', children: ATTRIBUTE_VALUE }));
    return type;
  }
  const childTypes = new WeakMap();
  const memberIndexes = new WeakMap();
  function childrenOf(type) {
    if (typeof type !== 'object') return undefined;
    let children = childTypes.get(type);
    if (children === undefined) {
      children = typeof type.children === 'string' ? { type: type.children } : type.children;
      childTypes.set(type, children === undefined ? null : children);
    }
    return children === null ? undefined : children;
  }
  function indexesOf(types) {
    let indexes = memberIndexes.get(types);
    if (indexes === undefined) memberIndexes.set(types, (indexes = new Map(Object.keys(types).map((key, i) => [key, i]))));
    return indexes;
  }
  // what checkType(val, type) returns, or FALLBACK where it might return anything else or throw
  function value(val, type) {
    if (val === null || val === undefined || type === null || type === undefined) return FALLBACK;
    const children = childrenOf(type);
    const name = typeof type === 'object' && type.type ? type.type : type;
    if (typeof name !== 'string') return FALLBACK;
    const [base, subtype] = nameOf(name);
    switch (base) {
      case 'AttrStruct':
        return value(val, attrStruct(subtype));
      case 'Boolean':
        return typeof val === 'boolean' ? val : FALLBACK;
      case 'Short':
      case 'Integer':
      case 'Long':
        return typeof val === 'number' && Math.floor(val) === val ? val : FALLBACK;
      case 'Double':
        return typeof val === 'number' ? val : FALLBACK;
      case 'String':
        return typeof val === 'string' ? val : FALLBACK;
      case 'Blob':
        return typeof val === 'string' && val.length % 4 === 0 && Buffer.from(val, 'base64').toString('base64') === val ? val : FALLBACK;
      case 'List':
      case 'ParameterizedList': {
        if (!Array.isArray(val) || children === undefined) return FALLBACK;
        let list = val;
        for (let i = 0; i < val.length; i++) {
          const checked = value(val[i], children);
          if (checked === FALLBACK) return FALLBACK;
          if (checked !== val[i]) {
            if (list === val) list = val.slice();
            list[i] = checked;
          }
        }
        return list;
      }
      case 'Map':
      case 'ParameterizedMap': {
        if (typeof val !== 'object' || Array.isArray(val) || children === undefined) return FALLBACK;
        const keys = Object.keys(val);
        let map = val;
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i];
          if (key === '__proto__') return FALLBACK;
          const checked = value(val[key], children);
          if (checked === FALLBACK) return FALLBACK;
          if (checked !== val[key]) {
            if (map === val) map = Object.assign({}, val);
            map[key] = checked;
          }
        }
        return map;
      }
      case 'ValueStruct':
      case 'FieldStruct':
        if (typeof val !== 'object' || Array.isArray(val)) return FALLBACK;
        return struct(val, children);
      default:
        return FALLBACK;
    }
  }
  // what checkTypes(data, types) returns, or FALLBACK
  function struct(data, types) {
    if (types === null || typeof types !== 'object' || Object.getPrototypeOf(data) !== Object.prototype) return FALLBACK;
    const indexes = indexesOf(types);
    let last = -1;
    let same = true;
    let changed;
    for (const key in data) {
      if (!Object.hasOwn(data, key)) return FALLBACK;
      const member = data[key];
      // checkTypes leaves out members the operation does not define, and nulls
      if (!Object.hasOwn(types, key) || !types[key] || member === null || member === undefined) {
        same = false;
        continue;
      }
      const checked = value(member, types[key]);
      if (checked === FALLBACK) return FALLBACK;
      if (checked !== member) {
        same = false;
        (changed ??= new Map()).set(key, checked);
      }
      const at = indexes.get(key);
      if (at < last) same = false;
      last = at;
    }
    if (same) return data;
    // made again, members in the types' order, as checkTypes makes every struct
    const out = {};
    for (const key of indexes.keys()) {
      if (!Object.hasOwn(data, key) || data[key] === null || data[key] === undefined) continue;
      out[key] = changed !== undefined && changed.has(key) ? changed.get(key) : data[key];
    }
    return out;
  }
  return function checkTypes(data, types) {
    const out = data !== null && typeof data === 'object' && !Array.isArray(data) ? struct(data, types) : FALLBACK;
    if (out !== FALLBACK) return out;
    if (onFallback) onFallback(data, types);
    return original(data, types);
  };
}
`;
