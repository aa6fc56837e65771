import * as t from 'io-ts';

/**
 * Stable error codes carried by `error` messages and by SyncError instances. Clients branch on
 * these, so a code is never renamed; new ones may be added.
 */
export const ErrorCodeCodec = t.keyof({
  malformed_frame: null, // not JSON, or not a JSON object
  unknown_message: null, // a `type` this side does not know
  invalid_message: null, // a known type with the wrong shape
  hello_required: null, // anything but hello/ping before the hello was accepted
  duplicate_hello: null, // a second hello on the same connection
  unsupported_protocol: null, // hello.protocol is not one this server speaks
  unauthorized: null, // the authenticate hook refused the token
  unknown_table: null,
  unknown_column: null,
  invalid_value: null, // a value that does not fit its column type, or a key that does not fit the primary key
  invalid_lsn: null, // not X/Y, or an ack beyond what was sent
  invalid_ack: null, // a snapshot ack for a chunk never sent
  message_too_large: null,
  rate_limited: null,
  too_many_changes: null, // a push over the per-message limit
  internal: null, // a failure of the server itself; the client may retry
});
export type ErrorCode = t.TypeOf<typeof ErrorCodeCodec>;

/** Codes a client may retry after (the same request can succeed later). */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['rate_limited', 'internal']);

/**
 * WebSocket close codes the server uses. 1000-1015 are the standard ones; 4000-4999 are ours.
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001, // the server is shutting down
  messageTooBig: 1009, // a frame over maxMessageBytes, refused before it was parsed
  internalError: 1011, // the server failed while sending this session's data: reconnect (with backoff)
  serviceRestart: 1012, // this process is draining (SIGTERM, a deploy): reconnect at once, to another server if there is one
  protocolViolation: 4400, // too many invalid messages in a row
  unauthorized: 4401, // the token was refused: final, the client stops reconnecting
  tokenExpired: 4403, // the session's token expired (or came expired): the client fetches a new token and reconnects at once
  heartbeatTimeout: 4408,
  replaced: 4409, // a newer connection with the same client id took over
  resyncRequired: 4410, // the change log no longer reaches back to this client's position: reconnect for a fresh snapshot
  slowConsumer: 4413, // the client does not read: its unsent replies went over maxBufferedBytes
  rateLimited: 4429,
} as const;

/** A protocol error with a stable code: what one side tells the other (and its own event stream). */
export class SyncProtocolError extends Error {
  override readonly name = 'SyncProtocolError';
  readonly retryable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
    this.retryable = RETRYABLE_CODES.has(code);
  }
}
