import * as t from 'io-ts';
import { LsnCodec } from './lsn.js';
import { SchemaDefinitionCodec } from './schema.js';
import { ErrorCodeCodec } from './errors.js';

/** The protocol version this code speaks; `hello.protocol` must equal it. */
export const PROTOCOL_VERSION = 1;

const NonEmptyString = (name: string, max: number) => t.refinement(t.string, (s) => s.length > 0 && s.length <= max, `${name} (1..${max} chars)`);
const Count = t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 0, 'non-negative integer');

export const ClientIdCodec = NonEmptyString('ClientId', 128);
export const ChangeIdCodec = NonEmptyString('ChangeId', 128);
/** A primary-key value: text or integer, as the table's primary key column says. */
export const KeyCodec = t.union([t.string, t.number]);
export type Key = t.TypeOf<typeof KeyCodec>;
export const RowCodec = t.UnknownRecord;
export type Row = Record<string, unknown>;
export const ChangeOpCodec = t.keyof({ insert: null, update: null, delete: null });
export type ChangeOp = t.TypeOf<typeof ChangeOpCodec>;

export const OriginCodec = t.type({ clientId: ClientIdCodec, changeId: ChangeIdCodec });
export type Origin = t.TypeOf<typeof OriginCodec>;

/**
 * One committed change as the server streams it. `row` is the whole row after the change (absent
 * for delete); `origin` names the client change that caused it, so a client can recognise its own.
 */
export const ChangeRecordCodec = t.intersection([
  t.type({ lsn: LsnCodec, table: t.string, op: ChangeOpCodec, key: KeyCodec }),
  t.partial({ row: RowCodec, origin: OriginCodec }),
]);
export type ChangeRecord = t.TypeOf<typeof ChangeRecordCodec>;

/** A local write sent upstream. For update, `row` holds only the changed columns (a patch). */
export const ClientChangeCodec = t.intersection([
  t.type({ id: ChangeIdCodec, table: t.string, op: ChangeOpCodec, key: KeyCodec }),
  t.partial({ row: RowCodec }),
]);
export type ClientChange = t.TypeOf<typeof ClientChangeCodec>;

// ---- client -> server ----------------------------------------------------------------------

export const HelloCodec = t.intersection([
  t.type({
    type: t.literal('hello'),
    protocol: t.number,
    clientId: ClientIdCodec,
    lsn: LsnCodec,
    schemaHash: t.string,
  }),
  /** `setHash`: what the client's rows were selected by (rules and claims), from its last snapshot_end. */
  t.partial({ token: t.string, setHash: t.string }),
]);
export const AckCodec = t.type({ type: t.literal('ack'), lsn: LsnCodec });
export const SnapshotAckCodec = t.type({ type: t.literal('snapshot_ack'), seq: Count });
export const PushCodec = t.type({ type: t.literal('push'), changes: t.array(ClientChangeCodec) });
/** A ping's id: JSON can carry 1e400, which parses to Infinity and would be echoed as `"id":null`. */
const PingId = t.refinement(t.number, Number.isFinite, 'finite number');
export const PingCodec = t.intersection([t.type({ type: t.literal('ping') }), t.partial({ id: PingId })]);
/** `lsn` (server to client only): the server's current LSN, so a client can tell whether it is caught up. */
export const PongCodec = t.intersection([t.type({ type: t.literal('pong') }), t.partial({ id: PingId, lsn: LsnCodec })]);

export const ClientMessageCodec = t.union([HelloCodec, AckCodec, SnapshotAckCodec, PushCodec, PingCodec, PongCodec]);
export type ClientMessage = t.TypeOf<typeof ClientMessageCodec>;
export type Hello = t.TypeOf<typeof HelloCodec>;
export type Push = t.TypeOf<typeof PushCodec>;

// ---- server -> client ----------------------------------------------------------------------

export const SyncModeCodec = t.keyof({ initial: null, catchup: null, live: null, reset: null });
export type SyncMode = t.TypeOf<typeof SyncModeCodec>;
/** `initial` and `reset` are followed by a snapshot; `catchup` and `live` stream changes from the client's LSN. */
export const needsSnapshot = (mode: SyncMode): boolean => mode === 'initial' || mode === 'reset';
/** `set_changed`: the rules, or the claims they read, differ from those the client's rows were chosen by. */
export const ResetReasonCodec = t.keyof({ lsn_too_old: null, lsn_ahead: null, schema_mismatch: null, set_changed: null });
export type ResetReason = t.TypeOf<typeof ResetReasonCodec>;

export const LimitsCodec = t.type({
  maxMessageBytes: Count,
  maxChangesPerPush: Count,
  snapshotWindow: Count,
  changesWindow: Count,
  heartbeatIntervalMs: Count,
  heartbeatTimeoutMs: Count,
});
export type Limits = t.TypeOf<typeof LimitsCodec>;

export const WelcomeCodec = t.intersection([
  t.type({
    type: t.literal('welcome'),
    protocol: t.number,
    sessionId: t.string,
    serverLsn: LsnCodec,
    mode: SyncModeCodec,
    clientKnown: t.boolean,
    limits: LimitsCodec,
  }),
  t.partial({ reason: ResetReasonCodec, schema: SchemaDefinitionCodec }),
]);
export const SnapshotBeginCodec = t.type({
  type: t.literal('snapshot_begin'),
  lsn: LsnCodec,
  chunks: Count,
  tables: t.array(t.type({ table: t.string, rows: Count, chunks: Count })),
});
/**
 * An array of arrays of anything, checked with a plain loop: io-ts' generic `t.array(t.array(
 * t.unknown))` builds a context per value, which was half the decode time of a snapshot chunk.
 * On failure the generic codec runs, so the error messages are the usual ones.
 */
const GenericRowArrays = t.array(t.array(t.unknown));
const RowArrays = new t.Type<unknown[][], unknown[][], unknown>(
  GenericRowArrays.name,
  GenericRowArrays.is,
  (input, context) =>
    Array.isArray(input) && input.every((row) => Array.isArray(row)) ? t.success(input as unknown[][]) : GenericRowArrays.validate(input, context),
  t.identity,
);
/** Rows as arrays in `columns` order: smaller and quicker to parse than one object per row. */
export const SnapshotChunkCodec = t.type({
  type: t.literal('snapshot_chunk'),
  seq: Count,
  table: t.string,
  chunk: Count,
  chunks: Count,
  columns: t.array(t.string),
  rows: RowArrays,
});
/**
 * `setHash`, from a server with per-user rules: what chose the snapshot's rows (the rules and the
 * claims they read). The client keeps it with the checkpoint and says it in its next hello, so a
 * change of either brings a fresh snapshot instead of a catch-up from rows chosen otherwise.
 */
export const SnapshotEndCodec = t.intersection([t.type({ type: t.literal('snapshot_end'), lsn: LsnCodec }), t.partial({ setHash: t.string })]);
/**
 * Changes of whole transactions; or, for a transaction too large for one message, a part of one:
 * every part but the last says `partial` (the transaction at `lsn` goes on in the next message),
 * and each part says where its first change stands in the transaction (`offset`), so that a part
 * sent again (a reconnect, another server) replaces what was staged instead of adding to it.
 */
export const ChangesCodec = t.intersection([
  t.type({ type: t.literal('changes'), lsn: LsnCodec, changes: t.array(ChangeRecordCodec) }),
  t.partial({ partial: t.literal(true), offset: t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 0, 'non-negative integer') }),
]);

export const PushResultEntryCodec = t.union([
  t.type({ id: ChangeIdCodec, status: t.literal('applied'), lsn: LsnCodec }),
  t.intersection([t.type({ id: ChangeIdCodec, status: t.literal('duplicate') }), t.partial({ lsn: LsnCodec })]),
  /** `code`: `forbidden` when a write rule refused it (then `serverRow` is null unless the row is in the client's set). */
  t.intersection([
    t.type({ id: ChangeIdCodec, status: t.literal('rejected'), reason: t.string, serverRow: t.union([RowCodec, t.null]) }),
    t.partial({ code: t.keyof({ forbidden: null, conflict: null, constraint: null }) }),
  ]),
]);
export type PushResultEntry = t.TypeOf<typeof PushResultEntryCodec>;
export const PushResultCodec = t.type({ type: t.literal('push_result'), results: t.array(PushResultEntryCodec) });

export const ErrorMessageCodec = t.intersection([
  t.type({ type: t.literal('error'), code: ErrorCodeCodec, message: t.string, retryable: t.boolean }),
  t.partial({ ref: t.string, retryAfterMs: Count }),
]);

export const ServerMessageCodec = t.union([
  WelcomeCodec,
  SnapshotBeginCodec,
  SnapshotChunkCodec,
  SnapshotEndCodec,
  ChangesCodec,
  PushResultCodec,
  PingCodec,
  PongCodec,
  ErrorMessageCodec,
]);
export type ServerMessage = t.TypeOf<typeof ServerMessageCodec>;
export type Welcome = t.TypeOf<typeof WelcomeCodec>;
export type SnapshotBegin = t.TypeOf<typeof SnapshotBeginCodec>;
export type SnapshotChunk = t.TypeOf<typeof SnapshotChunkCodec>;
export type SnapshotEnd = t.TypeOf<typeof SnapshotEndCodec>;
export type Changes = t.TypeOf<typeof ChangesCodec>;
export type PushResult = t.TypeOf<typeof PushResultCodec>;
export type ErrorMessage = t.TypeOf<typeof ErrorMessageCodec>;

/**
 * The members of each union by their `type` tag. Decoding picks the member by tag first, so an
 * error names the fields of the message that was meant, not of every member of the union.
 */
export const CLIENT_MESSAGE_CODECS: Record<ClientMessage['type'], t.Decoder<unknown, ClientMessage>> = {
  hello: HelloCodec,
  ack: AckCodec,
  snapshot_ack: SnapshotAckCodec,
  push: PushCodec,
  ping: PingCodec,
  pong: PongCodec,
};
export const SERVER_MESSAGE_CODECS: Record<ServerMessage['type'], t.Decoder<unknown, ServerMessage>> = {
  welcome: WelcomeCodec,
  snapshot_begin: SnapshotBeginCodec,
  snapshot_chunk: SnapshotChunkCodec,
  snapshot_end: SnapshotEndCodec,
  changes: ChangesCodec,
  push_result: PushResultCodec,
  ping: PingCodec,
  pong: PongCodec,
  error: ErrorMessageCodec,
};
