/**
 * Per-connection limits of the reference server. Every one has a default meant for production and
 * can be lowered in tests; the ones a client must respect travel in `welcome.limits`.
 */
export interface ServerLimits {
  /** Largest inbound frame in bytes; enforced by the socket before parsing (CloseCode.messageTooBig). */
  maxMessageBytes: number;
  /** Most changes one `push` may carry. */
  maxChangesPerPush: number;
  /** Snapshot chunks sent but not yet acknowledged (`snapshot_ack`) at most. */
  snapshotWindow: number;
  /** `changes` messages sent but not yet acknowledged (`ack`) at most. */
  changesWindow: number;
  /** Rows per snapshot chunk at most. */
  snapshotChunkRows: number;
  /**
   * About how many bytes of JSON a snapshot chunk holds: rows are cut to it from the size of the
   * frames sent before (session/chunk-sizer.ts). Under 128 KiB, where V8's strings get slow.
   */
  snapshotChunkBytes: number;
  /** Changes per `changes` message at most. */
  changesPerMessage: number;
  /** The server pings every this many ms ... */
  heartbeatIntervalMs: number;
  /** ... and drops a session that sent nothing for this long (CloseCode.heartbeatTimeout). */
  heartbeatTimeoutMs: number;
  /** Sustained inbound messages per second, and the burst allowed above it. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** Invalid messages in a row before the connection is closed (CloseCode.protocolViolation). */
  maxInvalidMessages: number;
  /**
   * Bytes the server holds for one connection that the socket has not yet written out. Data
   * (snapshot chunks, changes) is sent only below it and resumes from the log when the socket
   * drains; unsent replies over it close the connection (CloseCode.slowConsumer).
   */
  maxBufferedBytes: number;
  /** Inbound messages waiting to be handled at most; at this many the socket is not read until half have been. */
  maxQueuedMessages: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxChangesPerPush: 1000,
  snapshotWindow: 8,
  changesWindow: 32,
  snapshotChunkRows: 1000,
  snapshotChunkBytes: 96 * 1024,
  changesPerMessage: 500,
  heartbeatIntervalMs: 15_000,
  heartbeatTimeoutMs: 45_000,
  rateLimitPerSecond: 200,
  rateLimitBurst: 400,
  maxInvalidMessages: 20,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxQueuedMessages: 64,
};

export function resolveLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`limit ${name} must be a positive number, got ${value}`);
  }
  return limits;
}
