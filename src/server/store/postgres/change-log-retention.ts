import type pg from 'pg';
import type { Lsn } from '../../../protocol/index.js';

/**
 * How much of `rxsync.change_log` is kept: `maxChanges` changes (a tenth more before pruning) and,
 * when given, transactions younger than `maxAgeMs` (by source commit time). Transactions are
 * dropped whole, and `resumable_lsn` moves past them, so clients older than that are reset. Runs
 * inside the replicator's change-log transaction; it counts the rows it was told were added.
 */
export class ChangeLogRetention {
  private changes = 0;
  private agePrunedAt = 0;

  constructor(private readonly options: { slot: string; maxChanges: number; maxAgeMs?: number }) {}

  /** The log holds `changes` rows now (read at start, or 0 after it restarted). */
  reset(changes: number): void {
    this.changes = changes;
  }

  added(changes: number): void {
    this.changes += changes;
  }

  async prune(writer: pg.Client): Promise<void> {
    await this.pruneByAge(writer);
    const max = this.options.maxChanges;
    if (this.changes <= max + Math.floor(max / 10)) return;
    const cut = await writer.query<{ lsn: string }>('SELECT c.lsn::text AS lsn FROM rxsync.change_log c ORDER BY c.lsn DESC, c.seq DESC OFFSET $1 LIMIT 1', [
      max,
    ]);
    if (cut.rowCount === 0) return;
    await this.pruneThrough(writer, cut.rows[0].lsn);
  }

  /**
   * Drops the transactions that committed more than `maxAgeMs` ago, checked at most every tenth of
   * that (and every 10 s at the most), through the index on the first change of each transaction.
   */
  private async pruneByAge(writer: pg.Client): Promise<void> {
    const maxAgeMs = this.options.maxAgeMs;
    if (maxAgeMs === undefined || Date.now() - this.agePrunedAt < Math.min(maxAgeMs / 10, 10_000)) return;
    this.agePrunedAt = Date.now();
    const cut = await writer.query<{ lsn: string | null }>(
      `SELECT max(c.lsn)::text AS lsn FROM rxsync.change_log c WHERE c.seq = 0 AND c.committed_at < now() - make_interval(secs => $1::float8 / 1000)`,
      [maxAgeMs],
    );
    if (cut.rows[0].lsn !== null) await this.pruneThrough(writer, cut.rows[0].lsn);
  }

  /** Drops every transaction up to `lsn`: the log is complete only after it now. */
  private async pruneThrough(writer: pg.Client, lsn: Lsn): Promise<void> {
    const deleted = await writer.query('DELETE FROM rxsync.change_log WHERE lsn <= $1', [lsn]);
    await writer.query('UPDATE rxsync.replication_state SET resumable_lsn = greatest(resumable_lsn, $1) WHERE slot = $2', [lsn, this.options.slot]);
    this.changes -= deleted.rowCount ?? 0;
  }
}
