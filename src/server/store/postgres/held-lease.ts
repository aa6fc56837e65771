import type pg from 'pg';
import { connectClient, type PostgresConnectionOptions } from './connection.js';
import { claimLease, renewLease } from './replicator-lease.js';

/** Another replicator took the slot over: this one must not write again. */
export class FencedError extends Error {
  override readonly name = 'FencedError';
}

/**
 * The elected replicator's lease (replicator-lease.ts), written at once and renewed every second
 * on a connection of its own (the writer is inside long transactions). A renewal that finds
 * another owner means a standby took over (this one was stalled): `onLost` with a FencedError.
 * Renewals that fail for longer than `leaseMs` mean this process lost Postgres: `onLost` too,
 * since a standby may be taking over. Released when the replicator steps down.
 */
export class HeldLease {
  private timer: NodeJS.Timeout | undefined;
  private renewedAt = Date.now();
  private released = false;

  private constructor(
    private readonly client: pg.Client,
    private readonly term: { slot: string; owner: string; epoch: number; leaseMs: number },
    private readonly lagSeconds: () => number,
    private readonly onLost: (error: unknown) => void,
  ) {}

  static async hold(
    connection: PostgresConnectionOptions,
    term: { slot: string; owner: string; epoch: number; leaseMs: number },
    lagSeconds: () => number,
    onLost: (error: unknown) => void,
  ): Promise<HeldLease> {
    const client = await connectClient(connection, 'replicator lease');
    client.on('error', () => undefined); // a lost connection shows in the next renewal
    const lease = new HeldLease(client, term, lagSeconds, onLost);
    try {
      await claimLease(client, term.slot, term.owner, term.epoch);
    } catch (error) {
      await lease.release();
      throw error;
    }
    lease.schedule();
    return lease;
  }

  async release(): Promise<void> {
    this.released = true;
    clearTimeout(this.timer);
    await this.client.end().catch(() => undefined);
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.renew().finally(() => this.released || this.schedule()), 1000);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const { slot, owner, epoch, leaseMs } = this.term;
    try {
      if (!(await renewLease(this.client, slot, owner, epoch, this.lagSeconds()))) {
        throw new FencedError(`rxsync: another replicator took slot ${slot} over; this one stops writing`);
      }
      this.renewedAt = Date.now();
    } catch (error) {
      if (!this.released && (error instanceof FencedError || Date.now() - this.renewedAt > leaseMs)) this.onLost(error);
    }
  }
}
