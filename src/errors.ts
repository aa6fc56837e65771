/**
 * Client error classes. Every error the client surfaces is one of these: a stable `code` that
 * callers may branch on (never renamed, new ones may be added), whether a retry can help
 * (`retryable`), and a `context` of plain data for logs and the event stream. They are reported on
 * `events$` / `onSyncEvent('error')` through {@link toErrorEvent} rather than thrown into the void.
 *
 * Protocol errors (what one side tells the other) live in `src/protocol/errors.ts` as
 * `SyncProtocolError`; {@link toErrorEvent} understands those too.
 */

/** Stable codes of the client's own errors. */
export type ClientErrorCode = 'sync_error' | 'connection_failed' | 'heartbeat_timeout' | 'apply_failed' | 'cancelled' | 'timeout';

export interface SyncErrorOptions {
  /** Overrides the class default. */
  retryable?: boolean;
  /** Plain, serialisable data about what was going on (URL, LSN, attempt, ...). */
  context?: Record<string, unknown>;
  /** The underlying error, kept as `Error.cause`. */
  cause?: unknown;
}

/** Base class: `instanceof SyncError` catches every client error. */
export class SyncError extends Error {
  override readonly name: string = 'SyncError';
  readonly code: ClientErrorCode;
  readonly retryable: boolean;
  readonly context: Record<string, unknown>;

  constructor(message: string, options: SyncErrorOptions & { code?: ClientErrorCode } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'sync_error';
    this.retryable = options.retryable ?? false;
    this.context = options.context ?? {};
  }
}

/** The socket could not be opened, or it closed/errored under us. Retryable by default. */
export class ConnectionError extends SyncError {
  override readonly name = 'ConnectionError';
  constructor(message: string, options: SyncErrorOptions = {}) {
    super(message, { retryable: true, ...options, code: 'connection_failed' });
  }
}

/** No inbound message at all within `timeoutMs`: the connection is presumed dead. Retryable. */
export class HeartbeatTimeoutError extends SyncError {
  override readonly name = 'HeartbeatTimeoutError';
  readonly timeoutMs: number;
  constructor(timeoutMs: number, options: SyncErrorOptions = {}) {
    super(`no message from the server for ${timeoutMs} ms`, {
      retryable: true,
      ...options,
      context: { timeoutMs, ...options.context },
      code: 'heartbeat_timeout',
    });
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A server batch could not be applied locally (the transaction was rolled back). Names the batch's
 * LSN. Not retryable by default: it is raised once the pipeline's own retries are spent and sync
 * is paused on that batch.
 */
export class ApplyError extends SyncError {
  override readonly name = 'ApplyError';
  readonly lsn: string;
  constructor(lsn: string, message: string, options: SyncErrorOptions = {}) {
    super(`batch ${lsn}: ${message}`, { ...options, context: { lsn, ...options.context }, code: 'apply_failed' });
    this.lsn = lsn;
  }
}

/** The operation was cancelled on purpose (disconnect, cleanup, unsubscribe). Not a failure. */
export class CancelledError extends SyncError {
  override readonly name = 'CancelledError';
  constructor(message = 'cancelled', options: SyncErrorOptions = {}) {
    super(message, { ...options, retryable: false, code: 'cancelled' });
  }
}

/** An operation did not finish within its deadline. Retryable by default. */
export class TimeoutError extends SyncError {
  override readonly name = 'TimeoutError';
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number, options: SyncErrorOptions = {}) {
    super(`${operation} timed out after ${timeoutMs} ms`, {
      retryable: true,
      ...options,
      context: { operation, timeoutMs, ...options.context },
      code: 'timeout',
    });
    this.timeoutMs = timeoutMs;
  }
}

/** The shape of an error on the event stream: plain data, safe to log or post to another thread. */
export interface SyncErrorEvent {
  name: string;
  code: string;
  message: string;
  retryable: boolean;
  context: Record<string, unknown>;
}

/**
 * Any thrown value as a {@link SyncErrorEvent}. Client errors and protocol errors keep their code,
 * `retryable` and context; anything else becomes `code: 'unknown'`, not retryable.
 */
export function toErrorEvent(err: unknown): SyncErrorEvent {
  if (err instanceof SyncError) {
    return { name: err.name, code: err.code, message: err.message, retryable: err.retryable, context: { ...err.context } };
  }
  if (err instanceof Error) {
    const { code, retryable, context } = err as Error & { code?: unknown; retryable?: unknown; context?: unknown };
    return {
      name: err.name,
      code: typeof code === 'string' ? code : 'unknown',
      message: err.message,
      retryable: typeof retryable === 'boolean' ? retryable : false,
      context: typeof context === 'object' && context !== null ? { ...(context as Record<string, unknown>) } : {},
    };
  }
  return { name: 'Error', code: 'unknown', message: String(err), retryable: false, context: {} };
}
