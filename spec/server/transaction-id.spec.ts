import { fullTransactionId } from '../../src/server/store/postgres/transaction-id.js';

const full = (epoch: number, xid: number) => (BigInt(epoch) << 32n) | BigInt(xid);

describe('fullTransactionId (pgoutput 32-bit xid to xid8)', () => {
  it('is the xid in the reference epoch when it is near the reference, before or after it', () => {
    expect(fullTransactionId(812, 830n)).toBe(812n);
    expect(fullTransactionId(830, 830n)).toBe(830n);
    expect(fullTransactionId(845, 830n)).toBe(845n); // began after the reference was read
    expect(fullTransactionId(100, full(3, 200))).toBe(full(3, 100));
  });

  it('crosses an epoch boundary either way', () => {
    expect(fullTransactionId(0xfffffff0, full(5, 10))).toBe(full(4, 0xfffffff0)); // from before the wrap
    expect(fullTransactionId(5, full(4, 0xfffffff0))).toBe(full(5, 5)); // from after it
  });
});
