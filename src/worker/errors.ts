/**
 * Errors across the worker boundary. Structured clone keeps an Error's message (and, in some
 * browsers, its name) but drops own fields such as `code`; comlink keeps name/message/stack. So an
 * error travels as plain data and is rebuilt on the other side:
 *
 * - a `SyncProtocolError` (e.g. code 'unknown_column') comes back as a SyncProtocolError;
 * - an error with one of the client's codes (src/errors.ts) comes back as a SyncError carrying the
 *   original `name` (ConnectionError, TimeoutError, ...), so `instanceof SyncError` holds;
 * - the worker boundary's own errors (EngineMismatchError, WorkerVersionError, AssetLoadError) come
 *   back as themselves;
 * - anything else is an Error with the original `name`, `message` and, when there was one, `code`.
 *
 * `context` travels when it is cloneable (it is plain data by the errors' own contract).
 */
import { SyncError, type ClientErrorCode } from '../errors.js';
import { SyncProtocolError, type ErrorCode } from '../protocol/errors.js';
import { AssetLoadError } from '../served-file.js';

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  retryable?: boolean;
  context?: Record<string, unknown>;
  stack?: string;
}

const CLIENT_CODES: ReadonlySet<string> = new Set<ClientErrorCode>([
  'sync_error',
  'connection_failed',
  'heartbeat_timeout',
  'apply_failed',
  'cancelled',
  'timeout',
]);

/** An engine of the worker already serves this database with other options that must agree. */
export class EngineMismatchError extends Error {
  override readonly name = 'EngineMismatchError';
  readonly code = 'engine_mismatch';
  readonly retryable = false;
  constructor(
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * The worker script is another version of rxsync than the page's: a copy of the worker that was not
 * updated with the package, or a SharedWorker still running for a tab of the old version.
 */
export class WorkerVersionError extends Error {
  override readonly name = 'WorkerVersionError';
  readonly code = 'version_mismatch';
  readonly retryable = false;
  constructor(
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Errors rebuilt as their own class on the other side (each takes a message and its context). */
const BOUNDARY_ERRORS: Record<string, new (message: string, context?: Record<string, unknown>) => Error> = {
  EngineMismatchError,
  WorkerVersionError,
  AssetLoadError,
};

function cloneable(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    return structuredClone(value) as Record<string, unknown>;
  } catch {
    try {
      return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const e = error as Error & { code?: unknown; retryable?: unknown; context?: unknown };
    const out: SerializedError = { name: typeof e.name === 'string' ? e.name : 'Error', message: String(e.message) };
    if (typeof e.code === 'string' || typeof e.code === 'number') out.code = String(e.code);
    if (typeof e.retryable === 'boolean') out.retryable = e.retryable;
    const context = cloneable(e.context);
    if (context) out.context = context;
    if (typeof e.stack === 'string') out.stack = e.stack;
    return out;
  }
  return { name: 'Error', message: String(error) };
}

export function deserializeError(data: SerializedError): Error {
  let error: Error;
  const BoundaryError = Object.hasOwn(BOUNDARY_ERRORS, data.name) ? BOUNDARY_ERRORS[data.name] : undefined;
  if (BoundaryError) {
    error = new BoundaryError(data.message, data.context ?? {});
  } else if (data.name === 'SyncProtocolError' && data.code) {
    error = new SyncProtocolError(data.code as ErrorCode, data.message, data.context ?? {});
  } else if (data.code && CLIENT_CODES.has(data.code)) {
    const e = new SyncError(data.message, { code: data.code as ClientErrorCode, retryable: data.retryable, context: data.context });
    (e as { name: string }).name = data.name;
    error = e;
  } else {
    error = new Error(data.message);
    error.name = data.name;
    const extra = error as Error & Partial<Pick<SerializedError, 'code' | 'retryable' | 'context'>>;
    if (data.code !== undefined) extra.code = data.code;
    if (data.retryable !== undefined) extra.retryable = data.retryable;
    if (data.context !== undefined) extra.context = data.context;
  }
  // The worker's stack says where it really failed; keep the local one after it.
  if (data.stack) error.stack = `${data.stack}\n    --- across the worker boundary ---\n${error.stack ?? ''}`;
  return error;
}
