/**
 * pgoutput names a transaction by its 32-bit xid; snapshots (`pg_current_snapshot()`) and the
 * change log use the full 64-bit one (xid8, with its epoch). A 32-bit xid is within 2^31 of any
 * full xid read near its time (`reference`, before or after it), so its full value is the
 * reference plus the signed 32-bit distance between the two: right across an epoch boundary too.
 */
export function fullTransactionId(xid: number, reference: bigint): bigint {
  return reference + BigInt.asIntN(32, BigInt(xid >>> 0) - (reference & 0xffffffffn));
}
