import fc from 'fast-check';
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { testSchema } from '../support/test-schema.js';
import { anyString, HOSTILE_STRINGS, jsonValue, lsnSpelling, unicodeString } from './json-fuzz.js';

/**
 * Valid client-to-server messages for the test schema (todos: text key; counters: integer key),
 * over a small key space so that inserts, updates and deletes of the fuzzers meet each other.
 */

export const TODO_KEYS = ['t1', 't2', 't3', 't4', 't5'];
export const COUNTER_KEYS = [1, 2, 3, 4, 5];

const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 6 });

export const textValue = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 2, arbitrary: unicodeString(12) },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
);
export const integerValue = fc.oneof(fc.integer(), fc.constantFrom(0, 1, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 32, -(2 ** 31)));
export const realValue = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 0.1, 1e308, -1e308, 5e-324, 2, Number.MAX_SAFE_INTEGER + 2),
);

const todoColumns = { title: nullable(textValue), done: nullable(integerValue), score: nullable(realValue), meta: jsonValue };
const counterColumns = { label: nullable(textValue) };

/** A whole todos row (some columns left out: NULL) or a patch of it. */
export const todoFields = fc.record(todoColumns, { requiredKeys: [] });
export const counterFields = fc.record(counterColumns, { requiredKeys: [] });

/** Change ids from a small space: repeats exercise the idempotency records. */
export const changeId = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 40 }).map((i) => `c${i}`) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 128 }) },
);

export const validChange = fc
  .oneof(
    fc.record({
      id: changeId,
      table: fc.constant('todos'),
      op: fc.constantFrom('insert', 'update', 'delete'),
      key: fc.constantFrom(...TODO_KEYS),
      fields: todoFields,
      withKey: fc.boolean(),
    }),
    fc.record({
      id: changeId,
      table: fc.constant('counters'),
      op: fc.constantFrom('insert', 'update', 'delete'),
      key: fc.constantFrom(...COUNTER_KEYS),
      fields: counterFields,
      withKey: fc.boolean(),
    }),
  )
  .map(({ id, table, op, key, fields, withKey }) => {
    const pk = testSchema.tables[table].primaryKey;
    if (op === 'delete') return { id, table, op, key };
    const row = op === 'insert' || withKey ? { ...fields, [pk]: key } : fields;
    return { id, table, op, key, row };
  });

export const validHello = fc.record(
  {
    type: fc.constant('hello'),
    protocol: fc.constant(PROTOCOL_VERSION),
    clientId: fc.string({ minLength: 1, maxLength: 40 }),
    lsn: fc.bigInt({ min: 0n, max: 400n }).chain(lsnSpelling),
    schemaHash: fc.constantFrom(testSchema.hash, testSchema.hash.toUpperCase(), '', '0000000000000000'),
    token: anyString,
  },
  { requiredKeys: ['type', 'protocol', 'clientId', 'lsn', 'schemaHash'] },
);
export const validAck = fc.record({ type: fc.constant('ack'), lsn: fc.bigInt({ min: 0n, max: 400n }).chain(lsnSpelling) });
export const validSnapshotAck = fc.record({ type: fc.constant('snapshot_ack'), seq: fc.oneof(fc.nat(4), fc.nat()) });
export const validPush = fc.oneof(
  { weight: 8, arbitrary: fc.record({ type: fc.constant('push'), changes: fc.array(validChange, { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('push'), changes: fc.array(validChange, { minLength: 18, maxLength: 24 }) }) },
);
const pingId = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
export const validPing = fc.record({ type: fc.constant('ping'), id: pingId }, { requiredKeys: ['type'] });
export const validPong = fc.record({ type: fc.constant('pong'), id: pingId }, { requiredKeys: ['type'] });

/** Every client message type, each with its valid arbitrary; push weighs most (it writes). */
export const validClientMessage = fc.oneof(
  { weight: 2, arbitrary: validHello },
  { weight: 2, arbitrary: validAck },
  { weight: 2, arbitrary: validSnapshotAck },
  { weight: 8, arbitrary: validPush },
  { weight: 1, arbitrary: validPing },
  { weight: 1, arbitrary: validPong },
);
