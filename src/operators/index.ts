export { validate, type DecodeResult } from './validate.js';
export { retryBackoff, backoffDelay, assertBackoffConfig, type BackoffConfig, type RetryBackoffConfig } from './retry-backoff.js';
export { applyInOrder, type ApplyInOrderConfig } from './apply-in-order.js';
export { checkpointLsn, type CheckpointLsnOptions } from './checkpoint-lsn.js';
export { heartbeat, type HeartbeatConfig } from './heartbeat.js';
export { distinctRows, sameRows } from './distinct-rows.js';
