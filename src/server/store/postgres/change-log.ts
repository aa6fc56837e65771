import type pg from 'pg';
import { compareLsn, ZERO_LSN, type ChangeOp, type ChangeRecord, type Key, type Lsn, type Row } from '../../../protocol/index.js';
import { withOldRow } from '../old-rows.js';
import { connectClient, type PostgresConnectionOptions } from './connection.js';
import { CHANGES_CHANNEL } from './wal-messages.js';

interface LogRow {
  lsn: string;
  seq: number;
  xid: string;
  table_name: string;
  op: ChangeOp;
  key: string;
  row: string | null;
  client_id: string | null;
  change_id: string | null;
  old_row: string | null;
}

/**
 * Read as text: an LSN and a 64-bit xid do not fit a JavaScript number. (An output column named
 * like an input one wins in ORDER BY, so the queries order by `c.lsn`, the pg_lsn, never `lsn`.)
 */
const LOG_COLUMNS =
  'c.lsn::text AS lsn, c.seq, c.xid::text AS xid, c.table_name, c.op, c.key::text AS key, c.row::text AS row, c.client_id, c.change_id, c.old_row::text AS old_row';

function toRecord(row: LogRow): ChangeRecord {
  const record: ChangeRecord = { lsn: row.lsn, table: row.table_name, op: row.op, key: JSON.parse(row.key) as Key };
  if (row.row !== null) record.row = JSON.parse(row.row) as Row;
  if (row.client_id !== null && row.change_id !== null) record.origin = { clientId: row.client_id, changeId: row.change_id };
  return withOldRow(record, row.old_row === null ? null : (JSON.parse(row.old_row) as Row));
}

/**
 * Committed changes with LSN > `lsn` from `rxsync.change_log`, in order, `limit` of them rounded up
 * to whole transactions: the changes of one transaction share its commit LSN, and a reader that
 * resumes after an LSN must never have stopped inside it.
 */
export async function readChangesSince(db: pg.Pool | pg.Client, lsn: Lsn, limit: number): Promise<ChangeRecord[]> {
  const { rows } = await db.query<LogRow>(`SELECT ${LOG_COLUMNS} FROM rxsync.change_log c WHERE c.lsn > $1 ORDER BY c.lsn, c.seq LIMIT $2`, [lsn, limit]);
  if (rows.length === limit) {
    const last = rows[rows.length - 1];
    const rest = await db.query<LogRow>(`SELECT ${LOG_COLUMNS} FROM rxsync.change_log c WHERE c.lsn = $1 AND c.seq > $2 ORDER BY c.seq`, [last.lsn, last.seq]);
    rows.push(...rest.rows);
  }
  return rows.map(toRecord);
}

/** Rows read per query while following the log. */
const PAGE_ROWS = 2000;

/**
 * Follows `rxsync.change_log` as the replicator appends to it, for one sync process: woken by
 * NOTIFY, with polling as the fallback (a missed notification delays, never loses). It reports
 * each stored transaction once, whole and in LSN order, and keeps the head and the oldest
 * resumable LSN the store answers synchronously. Those whose own write must come back with its
 * commit LSN wait for their transaction here, by its id.
 */
export class ChangeLogTail {
  private listener: pg.Client | undefined;
  private headLsn: Lsn = ZERO_LSN;
  private resumableLsn: Lsn = ZERO_LSN;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly waiters = new Map<string, (lsn: Lsn) => void>();
  /** When a read last brought this process up to what was stored (Date.now()). */
  private caughtUpAt = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly connection: PostgresConnectionOptions,
    private readonly slot: string,
    private readonly onTransaction: (records: ChangeRecord[]) => void,
    /** The log's oldest resumable LSN moved forward (pruned, a TRUNCATE): told before the transactions after it. */
    private readonly onReset: (oldestResumableLsn: Lsn) => void,
    private readonly onError: (error: unknown) => void,
    private readonly pollMs = 1000,
    /** Whether to LISTEN for the replicator's NOTIFY; without it, the tail reads every `pollMs` only. */
    private readonly notifications = true,
  ) {}

  get head(): Lsn {
    return this.headLsn;
  }

  get resumable(): Lsn {
    return this.resumableLsn;
  }

  /**
   * Seconds since this process last read the log up to what was stored then: under a second while
   * it follows (it reads on each notification and poll), growing while it cannot read.
   */
  get lagSeconds(): number {
    return Math.max(0, (Date.now() - this.caughtUpAt) / 1000);
  }

  /** Starts at what is stored now: earlier transactions are the log's, not news. */
  async start(): Promise<void> {
    const state = await this.readState(this.pool);
    this.headLsn = state.stored;
    this.resumableLsn = state.resumable;
    this.caughtUpAt = Date.now();
    if (this.notifications) await this.listen();
    const poll = () => {
      this.pollTimer = setTimeout(() => {
        this.poke();
        poll();
      }, this.pollMs);
      this.pollTimer.unref();
    };
    poll();
  }

  /**
   * LISTENs on a connection of its own; when that connection is lost (Postgres restarted, a network
   * cut), polling carries on and it connects again after a second.
   */
  private async listen(): Promise<void> {
    const listener = await connectClient(this.connection, 'listener');
    this.listener = listener;
    let lost = false;
    const reconnect = (error?: unknown) => {
      if (lost) return;
      lost = true;
      void listener.end().catch(() => undefined);
      if (this.closed) return;
      if (error) this.onError(error);
      const retry = () => {
        if (this.closed) return;
        this.listen().then(
          () => this.poke(), // what was notified while away
          () => setTimeout(retry, 1000).unref(),
        );
      };
      setTimeout(retry, 1000).unref();
    };
    listener.on('notification', (notification) => {
      if (notification.channel === CHANGES_CHANNEL && notification.payload === this.slot) this.poke();
    });
    listener.on('error', reconnect);
    listener.on('end', () => reconnect());
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
  }

  /**
   * Resolves with the commit LSN of the transaction `xid` (an xid8) once it is stored and was
   * reported. Call before that transaction commits, so that it cannot be missed.
   */
  waitFor(xid: string, timeoutMs = 30_000): { lsn: Promise<Lsn>; cancel: () => void } {
    let cancel = () => undefined as void;
    const lsn = new Promise<Lsn>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(xid);
        reject(new Error(`rxsync: the replicator did not store transaction ${xid} within ${timeoutMs} ms (is replication running?)`));
      }, timeoutMs);
      this.waiters.set(xid, (committed) => {
        clearTimeout(timer);
        resolve(committed);
      });
      cancel = () => {
        clearTimeout(timer);
        this.waiters.delete(xid);
      };
    });
    return { lsn, cancel };
  }

  /** See SyncStore.catchUpTo: reads the log now, and waits until it was read up to `lsn`. */
  async catchUpTo(lsn: Lsn, timeoutMs: number): Promise<boolean> {
    if (compareLsn(lsn, this.headLsn) <= 0) return true;
    const state = await this.readState(this.pool);
    if (compareLsn(lsn, state.stored) > 0) return false;
    this.poke();
    const deadline = Date.now() + timeoutMs;
    while (compareLsn(this.headLsn, lsn) < 0) {
      if (this.closed || Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  }

  /** Reads what was stored since the last read; reads run one at a time and coalesce. */
  poke(): void {
    if (this.closed) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readNew()
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.reading = undefined;
        if (this.readAgain) {
          this.readAgain = false;
          this.poke();
        }
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pollTimer);
    await this.reading;
    await this.listener?.end().catch(() => undefined);
  }

  private async readState(db: pg.Pool): Promise<{ stored: Lsn; resumable: Lsn }> {
    const { rows } = await db.query<{ stored: string; resumable: string }>(
      'SELECT stored_lsn::text AS stored, resumable_lsn::text AS resumable FROM rxsync.replication_state WHERE slot = $1',
      [this.slot],
    );
    if (rows.length === 0) throw new Error(`rxsync: no replication state for slot ${this.slot}`);
    return rows[0];
  }

  private async readNew(): Promise<void> {
    // Rows up to stored_lsn are whole transactions: the replicator commits them with it.
    const readAt = Date.now();
    const state = await this.readState(this.pool);
    if (compareLsn(state.resumable, this.resumableLsn) > 0) {
      this.resumableLsn = state.resumable;
      this.onReset(state.resumable);
    }
    if (compareLsn(state.stored, this.headLsn) <= 0) {
      this.caughtUpAt = readAt;
      return;
    }
    let after = { lsn: this.headLsn, seq: Number.MAX_SAFE_INTEGER };
    let open: { lsn: Lsn; xid: string; records: ChangeRecord[] } | undefined;
    for (;;) {
      const { rows } = await this.pool.query<LogRow>(
        `SELECT ${LOG_COLUMNS} FROM rxsync.change_log c WHERE (c.lsn, c.seq) > ($1::pg_lsn, $2::int) AND c.lsn <= $3 ORDER BY c.lsn, c.seq LIMIT ${PAGE_ROWS}`,
        [after.lsn, Math.min(after.seq, 2147483647), state.stored],
      );
      for (const row of rows) {
        if (open && open.lsn !== row.lsn) this.report(open);
        if (!open || open.lsn !== row.lsn) open = { lsn: row.lsn, xid: row.xid, records: [] };
        open.records.push(toRecord(row));
      }
      if (rows.length < PAGE_ROWS) break;
      const last = rows[rows.length - 1];
      after = { lsn: last.lsn, seq: last.seq };
    }
    if (open) this.report(open);
    this.headLsn = state.stored;
    this.caughtUpAt = readAt;
  }

  private report(transaction: { lsn: Lsn; xid: string; records: ChangeRecord[] }): void {
    this.headLsn = transaction.lsn;
    this.onTransaction(transaction.records);
    const waiter = this.waiters.get(transaction.xid);
    if (waiter) {
      this.waiters.delete(transaction.xid);
      waiter(transaction.lsn);
    }
  }
}
