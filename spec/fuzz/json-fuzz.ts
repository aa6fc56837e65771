import fc from 'fast-check';

/**
 * Building blocks shared by the protocol fuzzers: hostile strings and keys, bad LSNs, raw JSON
 * tokens that JSON.stringify cannot produce (NaN, 1e400, deep nesting), garbage frames, and a
 * mutation engine that damages a valid message at a random path.
 *
 * Everything is driven by fast-check arbitraries, so a fixed seed gives the same inputs every run.
 */

/** The seed of every fuzz spec: fixed, or FUZZ_SEED=<n> to explore or replay another one. */
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20240611;

// ---- raw tokens ---------------------------------------------------------------------------------

/**
 * A string value that `encode` replaces by raw JSON text: a number JSON.stringify cannot write
 * (`1e400`, `NaN`), a malformed token, or deeply nested JSON built only when encoded.
 */
const RAW_OPEN = '\u0000RAW:';
const RAW_CLOSE = '\u0000';
const RAW_PATTERN = /"\\u0000RAW:([^"\\]*)\\u0000"/g;
export const raw = (spec: string): string => `${RAW_OPEN}${spec}${RAW_CLOSE}`;

function expandRaw(spec: string): string {
  const deep = /^deep-(array|object|mixed):(\d+)$/.exec(spec);
  if (!deep) return spec;
  const depth = Number(deep[2]);
  if (deep[1] === 'array') return '['.repeat(depth) + ']'.repeat(depth);
  if (deep[1] === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  return '[{"a":'.repeat(depth) + 'null' + '}]'.repeat(depth);
}

/** JSON text of a message, raw tokens expanded. */
export function encode(message: unknown): string {
  return JSON.stringify(message).replace(RAW_PATTERN, (_, spec: string) => expandRaw(spec));
}

/** Numbers of every bad shape, as raw JSON text (some are not JSON at all: malformed_frame). */
export const BAD_NUMBER_TOKENS = [
  '-1',
  '-0',
  '1.5',
  '0.1',
  '1e308',
  '-1e308',
  '1e400',
  '-1e400',
  '1e-400',
  '5e-324',
  '9007199254740992',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '1E+2',
  '2e0',
  'NaN',
  'Infinity',
  '-Infinity',
  '0x1F',
  '01',
  '.5',
  '1.',
  '+1',
  '1e',
  '--1',
  '- 1',
];
/**
 * Nesting either well within what JSON.stringify manages (about 1,000 levels) or far beyond it
 * (20,000 and more): between the two, whether a value can be serialised depends on the stack depth
 * at the call, and a prediction could not be exact.
 */
export const DEEP_TOKENS = [
  'deep-array:64',
  'deep-array:1000',
  'deep-array:20000',
  'deep-array:100000',
  'deep-object:1000',
  'deep-object:40000',
  'deep-mixed:400',
  'deep-mixed:15000',
];

// ---- strings and keys ---------------------------------------------------------------------------

/** Names and values that have broken parsers, SQL builders and object lookups before. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  '__defineGetter__',
  'todos"; DROP TABLE todos; --',
  "todos'; DROP TABLE todos; --",
  'todos`',
  'todos]',
  '[todos]',
  'todos\u0000',
  'to\u0000dos',
  '\u0000',
  'Todos',
  'TODOS',
  'todos ',
  ' todos',
  'todos\n',
  'ṫodos',
  'todоs' /* Cyrillic o */,
  '_rxsync_changes',
  '_rxsync_client_changes',
  '_rxsync_meta',
  '_RXSYNC_META',
  'sqlite_master',
  'sqlite_schema',
  'main.todos',
  'temp.todos',
  'rowid',
  'oid',
  '_rowid_',
  '"',
  "'",
  '\\',
  '%s%s%n',
  '${process.exit()}',
  '{{7*7}}',
  '\uD800',
  '\uDFFF',
  'a\uD83D',
  '\uFEFF',
  '\u202Etodos',
  '😀',
  'a'.repeat(63),
  'a'.repeat(64),
  'a'.repeat(1000),
  'null',
  'undefined',
  'NaN',
  '0',
  '-1',
  'true',
  'id',
  'n',
  'title',
  'counters',
  'todos',
];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const controlChar = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));
const odd = fc.constantFrom('\u0000', '\u2028', '\u2029', '\uFEFF', '\u202E', '\uFFFF', '\uFFFE', '"', '\\', '/', '😀', 'ﬀ', 'İ');

/** Strings made of anything: graphemes, control characters, lone surrogates, quotes. */
export const unicodeString = (maxLength = 24) =>
  fc.string({
    maxLength,
    unit: fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
      { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
      { weight: 1, arbitrary: loneSurrogate },
      { weight: 1, arbitrary: controlChar },
      { weight: 1, arbitrary: odd },
    ),
  });

export const anyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 3, arbitrary: unicodeString() },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
);

/** Field names to add or rename to: hostile, prototype-related, or names of real fields. */
export const fieldName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'type',
      'lsn',
      'changes',
      'table',
      'op',
      'key',
      'row',
      'id',
      'seq',
      'protocol',
      'clientId',
      'schemaHash',
      'token',
      'origin',
      'rows',
      'columns',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
);

/** Strings far larger than any field should be, but under the frame limit. */
export const hugeString = fc
  .record({ size: fc.constantFrom(1_000, 20_000, 150_000), unit: fc.constantFrom('x', 'é', '😀', '\u0000', '"', '\uD800') })
  .map(({ size, unit }) => unit.repeat(Math.ceil(size / unit.length)));

// ---- JSON values -------------------------------------------------------------------------------

/** Objects whose own keys are the prototype's names (JSON.parse makes them own properties). */
const PROTO_OBJECTS = [
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"__proto__":null}',
  '{"hasOwnProperty":1,"toString":"x","valueOf":[]}',
  '{"__proto__":[],"length":1}',
];
export const protoObject = fc.constantFrom(...PROTO_OBJECTS).map((text) => JSON.parse(text) as unknown);

/** Any JSON value, including prototype-named keys and hostile strings. */
export const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: protoObject },
  { weight: 1, arbitrary: anyString },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, [], {}) },
);

/** A value to put where another was: any JSON, a raw bad number, deep nesting, a huge string. */
export const replacement: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: jsonValue },
  { weight: 2, arbitrary: fc.constantFrom(...BAD_NUMBER_TOKENS).map(raw) },
  { weight: 1, arbitrary: fc.constantFrom(...DEEP_TOKENS).map(raw) },
  { weight: 1, arbitrary: hugeString },
);

// ---- LSNs -------------------------------------------------------------------------------------

/** LSN-ish values that are not LSNs: wrong shape, too many digits, not strings at all. */
export const BAD_LSNS: unknown[] = [
  '',
  '0',
  '0/',
  '/0',
  '/',
  '0//0',
  '0/0/0',
  'G/0',
  '0/G',
  '0/g',
  '000000001/0',
  '0/000000001',
  'FFFFFFFFF/0',
  ' 0/0',
  '0/0 ',
  '\t0/0',
  '0/0\n',
  '0x0/0',
  '0/0x1',
  '-1/0',
  '0/-1',
  '+0/0',
  '1e3/0',
  '０/０',
  '٠/٠',
  '0\\0',
  '0|0',
  '0 / 0',
  '0/0\u0000',
  'lsn',
  'null',
  '0.0',
  '1/2/3',
  '0/1.5',
  'A/B/',
  'ZZ/ZZ',
  'ff/ff/ff',
  '\uD800/0',
  null,
  0,
  1,
  -1,
  1.5,
  true,
  false,
  [],
  {},
  ['0/0'],
  { lsn: '0/0' },
  { hi: 0, lo: 0 },
];
export const badLsn: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...BAD_LSNS) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_NUMBER_TOKENS).map(raw) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).filter((s) => !/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(s)) },
);

/** A well-formed LSN spelled in any accepted way (lower case, leading zeros) for `value`. */
export const lsnSpelling = (value: bigint) =>
  fc.constantFrom('upper', 'lower', 'padded').map((style) => {
    const hi = (value >> 32n).toString(16);
    const lo = (value & 0xffffffffn).toString(16);
    if (style === 'lower') return `${hi}/${lo}`;
    if (style === 'padded') return `${hi.padStart(8, '0')}/${lo.padStart(8, '0').toUpperCase()}`;
    return `${hi.toUpperCase()}/${lo.toUpperCase()}`;
  });

// ---- garbage frames -----------------------------------------------------------------------------

export type RawFrame = { kind: string; text: string } | { kind: string; bytes: Uint8Array };

/**
 * Frames that are not messages at all: random text, random bytes sent as a binary frame, JSON cut
 * short, deep nesting, huge numbers, unicode soup, prototype keys. `validFrames` gives texts to
 * cut short (any valid message of the side being fuzzed).
 */
export function garbageFrame(validFrames: fc.Arbitrary<string>): fc.Arbitrary<RawFrame> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 60 }).map((text) => ({ kind: 'garbage:string', text })) },
    { weight: 2, arbitrary: unicodeString(60).map((text) => ({ kind: 'garbage:unicode', text })) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ kind: 'garbage:bytes', bytes })) },
    {
      weight: 3,
      arbitrary: fc.tuple(validFrames, fc.double({ min: 0, max: 1, noNaN: true })).map(([text, at]) => ({
        kind: 'garbage:truncated',
        text: text.slice(0, Math.floor(text.length * at)),
      })),
    },
    {
      weight: 2,
      arbitrary: fc.record({ token: fc.constantFrom(...DEEP_TOKENS), where: fc.constantFrom('root', 'type', 'field') }).map(({ token, where }) => ({
        kind: 'garbage:nested',
        text: where === 'root' ? expandRaw(token) : encode(where === 'type' ? { type: raw(token) } : { type: 'ping', id: raw(token) }),
      })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...BAD_NUMBER_TOKENS), fc.constantFrom('root', 'type', 'id', 'seq', 'protocol')).map(([token, where]) => ({
        kind: 'garbage:number',
        text:
          where === 'root'
            ? token
            : encode(
                where === 'type'
                  ? { type: raw(token) }
                  : where === 'protocol'
                    ? { type: 'hello', protocol: raw(token) }
                    : { type: where === 'id' ? 'ping' : 'snapshot_ack', [where]: raw(token) },
              ),
      })),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          '{"__proto__":{"type":"push"}}',
          '{"type":"__proto__"}',
          '{"type":"constructor"}',
          '{"type":"toString"}',
          '{"type":"hasOwnProperty"}',
          '{"constructor":{"prototype":{"type":"ping"}}}',
          '{"type":"ping","__proto__":{"id":"x"}}',
          '{"type":"push","changes":[],"__proto__":{"changes":[1]}}',
          '{"type":"ack","__proto__":{"lsn":"0/0"}}',
          '{"type":"push","changes":{"__proto__":[],"length":1,"0":{}}}',
          '{"type":"push","changes":[{"__proto__":{"id":"x","table":"todos","op":"delete","key":"t1"}}]}',
          '{"type":"ping","type":"push","changes":[]}',
          '{"type":"push","type":"ping"}',
          'null',
          'true',
          '0',
          '""',
          '[]',
          '{}',
          '[{"type":"ping"}]',
          '"{\\"type\\":\\"ping\\"}"',
          ' ',
          '',
          '\uFEFF{"type":"ping"}',
          '{"type":"ping"}{"type":"ping"}',
          '{"type":"ping"} x',
          '{"type":"ping",}',
          "{'type':'ping'}",
          '{type:"ping"}',
        )
        .map((text) => ({ kind: 'garbage:proto', text })),
    },
  );
}

// ---- mutations --------------------------------------------------------------------------------

type Path = Array<string | number>;

export type Mutation =
  | { op: 'drop'; at: number }
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'retype'; at: number }
  | { op: 'null'; at: number }
  | { op: 'add_field'; at: number; key: string; value: unknown }
  | { op: 'rename_key'; at: number; key: string }
  | { op: 'bad_lsn'; at: number; value: unknown }
  | { op: 'bad_number'; at: number; token: string }
  | { op: 'huge_string'; at: number; value: string }
  | { op: 'hostile_table'; at: number; value: string }
  | { op: 'duplicate_element'; at: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('drop' as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: replacement }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('retype' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('null' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add_field' as const), at: fc.nat(), key: fieldName, value: jsonValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('rename_key' as const), at: fc.nat(), key: fieldName }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('bad_lsn' as const), at: fc.nat(), value: badLsn }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('bad_number' as const), at: fc.nat(), token: fc.constantFrom(...BAD_NUMBER_TOKENS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('huge_string' as const), at: fc.nat(), value: hugeString }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('hostile_table' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), anyString) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate_element' as const), at: fc.nat() }) },
);

function allPaths(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (out.length > 500) return out;
  if (Array.isArray(value)) value.forEach((item, i) => allPaths(item, [...path, i], out));
  else if (isObject(value)) for (const key of Object.keys(value)) allPaths(value[key], [...path, key], out);
  return out;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function getAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const step of path) value = (value as Record<string | number, unknown>)[step];
  return value;
}

/** Sets an own property (defineProperty, so `__proto__` is a key, not the prototype). */
function setOwn(target: unknown, key: string | number, value: unknown): void {
  if (Array.isArray(target) && typeof key === 'number') target[key] = value;
  else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function setAt(root: { value: unknown }, path: Path, value: unknown): void {
  if (path.length === 0) root.value = value;
  else setOwn(getAt(root.value, path.slice(0, -1)), path[path.length - 1], value);
}

function retype(value: unknown): unknown {
  if (typeof value === 'string') return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value.length;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === null) return 0;
  if (Array.isArray(value)) return Object.fromEntries(value.map((item, i) => [String(i), item]));
  return Object.values(value as object);
}

/** `paths` whose last step satisfies `want`, else all of them (a mutation always does something). */
function pick(paths: Path[], at: number, want: (path: Path) => boolean): Path {
  const wanted = paths.filter(want);
  const from = wanted.length > 0 ? wanted : paths;
  return from[at % from.length];
}

/** A deep copy of `message` (JSON round trip: own `__proto__` keys survive) with `mutations` applied in turn. */
export function mutate(message: unknown, mutations: Mutation[]): unknown {
  const root = { value: JSON.parse(JSON.stringify(message)) as unknown };
  for (const m of mutations) {
    const paths = allPaths(root.value);
    const inner = paths.filter((p) => p.length > 0);
    const last = (p: Path) => p[p.length - 1];
    switch (m.op) {
      case 'drop': {
        if (inner.length === 0) break;
        const path = inner[m.at % inner.length];
        const parent = getAt(root.value, path.slice(0, -1));
        if (Array.isArray(parent)) parent.splice(last(path) as number, 1);
        else delete (parent as Record<string, unknown>)[last(path) as string];
        break;
      }
      case 'replace':
        setAt(root, paths[m.at % paths.length], m.value);
        break;
      case 'retype': {
        const path = pick(paths, m.at, (p) => p.length > 0);
        setAt(root, path, retype(getAt(root.value, path)));
        break;
      }
      case 'null':
        setAt(
          root,
          pick(paths, m.at, (p) => p.length > 0),
          null,
        );
        break;
      case 'add_field': {
        const path = pick(paths, m.at, (p) => isObject(getAt(root.value, p)));
        const target = getAt(root.value, path);
        if (isObject(target)) setOwn(target, m.key, m.value);
        break;
      }
      case 'rename_key': {
        const path = pick(inner, m.at, (p) => typeof last(p) === 'string');
        if (!path || typeof last(path) !== 'string') break;
        const parent = getAt(root.value, path.slice(0, -1)) as Record<string, unknown>;
        const value = parent[last(path) as string];
        delete parent[last(path) as string];
        setOwn(parent, m.key, value);
        break;
      }
      case 'bad_lsn':
        setAt(
          root,
          pick(paths, m.at, (p) => last(p) === 'lsn' || last(p) === 'serverLsn'),
          m.value,
        );
        break;
      case 'bad_number':
        setAt(
          root,
          pick(paths, m.at, (p) => typeof getAt(root.value, p) === 'number'),
          raw(m.token),
        );
        break;
      case 'huge_string':
        setAt(
          root,
          pick(paths, m.at, (p) => typeof getAt(root.value, p) === 'string'),
          m.value,
        );
        break;
      case 'hostile_table':
        setAt(
          root,
          pick(paths, m.at, (p) => last(p) === 'table'),
          m.value,
        );
        break;
      case 'duplicate_element': {
        const path = pick(paths, m.at, (p) => Array.isArray(getAt(root.value, p)) && (getAt(root.value, p) as unknown[]).length > 0);
        const target = getAt(root.value, path);
        if (Array.isArray(target) && target.length > 0) target.splice(m.at % target.length, 0, JSON.parse(JSON.stringify(target[m.at % target.length])));
        break;
      }
    }
  }
  return root.value;
}

/** One line about an input, for failure messages. */
export function preview(text: string | Uint8Array, max = 160): string {
  if (typeof text !== 'string') return `<${text.length} binary bytes>`;
  const json = JSON.stringify(text);
  return json.length > max ? `${json.slice(0, max)}... (${text.length} chars)` : json;
}
