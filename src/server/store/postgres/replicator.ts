import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Pgoutput } from 'pg-logical-replication';
import { lsnToBigInt, type ChangeOp, type Key, type Lsn, type Origin, type Row } from '../../../protocol/index.js';
import { connectClient, connectReplication, type PostgresConnectionOptions } from './connection.js';
import type { PostgresTable } from './pg-values.js';
import { ReplicationStream, type ReplicationEvent } from './replication-stream.js';
import { ChangeLogRetention } from './change-log-retention.js';
import { insertChanges, type LoggedChange } from './change-log-insert.js';
import { rowChanges } from './row-changes.js';
import { checkRelation } from './schema-drift.js';
import { FencedError, HeldLease } from './held-lease.js';
import { takeReplicatorLock } from './replicator-lease.js';
import { createSlotIfMissing, startFromNewSlot } from './setup.js';
import { fullTransactionId } from './transaction-id.js';
import { CHANGES_CHANNEL, MARK_MESSAGE_PREFIX, ORIGIN_MESSAGE_PREFIX } from './wal-messages.js';

/** Another process holds the replicator lock: this one stands by and tries again later. */
class NotElectedError extends Error {
  override readonly name = 'NotElectedError';
}

export interface ReplicatorOptions {
  connection: PostgresConnectionOptions;
  tables: ReadonlyMap<string, PostgresTable>;
  slot: string;
  publication: string;
  namespace: string;
  /** How many changes the change log keeps; older transactions are pruned whole. */
  maxChanges: number;
  /** How long the change log keeps a transaction (by its commit time); none when undefined. */
  maxAgeMs?: number;
  /** A failure of the stream or of a write; the replicator starts again after `restartDelayMs`. */
  onError: (error: unknown) => void;
  restartDelayMs?: number;
  /** How often a standby tries to become the replicator (default 1000 ms). */
  electionIntervalMs?: number;
  /**
   * How long a replicator that stopped renewing its lease (renewed every second) keeps the slot
   * before a standby ends its sessions and takes over (default 5000 ms). A dead process's lock is
   * free at once; this is for one that is stalled or cut off without its connections closing.
   */
  leaseMs?: number;
  /** Fault injection for specs: runs after a transaction is stored and before the slot is acknowledged. */
  beforeAcknowledge?: (lsn: Lsn) => Promise<void>;
}

/** Rows are written to the change log in batches of this many, inside the transaction's own. */
const BATCH_ROWS = 500;
/** A change-log transaction that holds this many rows commits, even with more of the stream waiting. */
const GROUP_ROWS = 5000;

/** The source transaction being stored. */
interface OpenTransaction {
  lsn: Lsn;
  commitTimeMs: number;
  xid: number;
  /** False for a transaction stored before (a replay after a restart): it is skipped whole. */
  store: boolean;
  seq: number;
  batch: LoggedChange[];
  /** Whether BEGIN was sent on the writer (at the first batch). */
  begun: boolean;
  /** The full id (xid8) of the source transaction, once BEGIN computed it. */
  xid8: string | null;
  hasOrigins: boolean;
  /** A synced table was truncated: the log cannot say which rows went, so clients before it are reset. */
  truncated: boolean;
  /** The client change named by the last origin message, until a row change matches it. */
  pendingOrigin: (Origin & { table: string; key: Key }) | null;
}

/**
 * Consumes the logical replication slot into `rxsync.change_log`: each committed source
 * transaction, in commit-LSN order, becomes the rows of one Postgres transaction (written in
 * batches, so a 100k-row transaction needs bounded memory, and committed at once, so it becomes
 * visible whole), together with the replication state's `stored_lsn`, fenced by this
 * replicator's owner and epoch, and a NOTIFY for the sync processes. Only after that COMMIT is
 * the slot acknowledged: a crash between the two replays the transaction, which is recognised by
 * its LSN (at or before `stored_lsn`) and skipped, so nothing is lost or stored twice.
 *
 * With several sync processes on one database, each runs a Replicator and one of them holds the
 * slot: see replicator-lease.ts for the election, the lease and the takeover. The others stand by
 * and try again every `electionIntervalMs`.
 */
export class Replicator {
  private readonly owner = randomUUID();
  private epoch = 0;
  private writer: pg.Client | undefined;
  /** A standby's connection, kept between its tries for the lock. */
  private candidate: pg.Client | undefined;
  private lease: HeldLease | undefined;
  private leading = false;
  private failing = false;
  private stream: ReplicationStream | undefined;
  private storedLsn = 0n;
  private readonly retention: ChangeLogRetention;
  private tx: OpenTransaction | undefined;
  /** The open change-log transaction: the source transactions in it, up to `lsn` (ending at `end`). */
  private group: { lsn: Lsn; end: bigint; rows: number; truncatedAt: Lsn | null; next: bigint } | undefined;
  /** pgoutput relation oid → the synced table it is. */
  private readonly relations = new Map<number, PostgresTable>();
  /** The oid of each synced table, to tell a rename from an unknown table. */
  private tableOids = new Map<number, string>();
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: ReplicatorOptions) {
    this.retention = new ChangeLogRetention(options);
  }

  /**
   * Takes part in the election and, when elected, starts streaming: resolves once this process
   * streams or stands by (or throws why it could not start: a set-up the source refuses).
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.running = this.connect();
    try {
      await this.running;
    } catch (error) {
      if (!(error instanceof NotElectedError)) throw error;
      this.retryLater(this.electionIntervalMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.running?.catch(() => undefined);
    await this.disconnect();
    const candidate = this.candidate;
    this.candidate = undefined;
    await candidate?.end().catch(() => undefined);
  }

  /** Whether this process writes the change log now (it holds the slot), or stands by. */
  get role(): 'replicator' | 'follower' {
    return this.leading ? 'replicator' : 'follower';
  }

  private get electionIntervalMs(): number {
    return this.options.electionIntervalMs ?? 1000;
  }

  private async connect(): Promise<void> {
    this.failing = false;
    try {
      await this.connectOnce();
    } catch (error) {
      // A standby keeps its connection for the next try (one connection, not one a second).
      if (error instanceof NotElectedError && this.writer) {
        this.candidate = this.writer;
        this.writer = undefined;
      }
      await this.disconnect();
      throw error;
    }
  }

  /**
   * The writer's connection: the one the lock is held on. A failure on it is the replicator's,
   * unless it is a standby's connection waiting for its next try: then it is just dropped.
   */
  private async connectWriter(): Promise<pg.Client> {
    const client = await connectClient(this.options.connection, 'replicator');
    client.on('error', (error) => {
      if (this.candidate !== client) return this.fail(error);
      this.candidate = undefined;
      void client.end().catch(() => undefined);
    });
    return client;
  }

  private async connectOnce(): Promise<void> {
    const { connection, slot, namespace } = this.options;
    this.writer = this.candidate ?? (await this.connectWriter());
    this.candidate = undefined;
    const { leaseMs = 5000 } = this.options;
    if (!(await takeReplicatorLock(this.writer, slot, leaseMs, this.options.onError))) throw new NotElectedError(`another process replicates slot ${slot}`);
    const claimed = await this.writer.query<{ epoch: string; stored_lsn: string }>(
      `UPDATE rxsync.replication_state SET owner = $1, epoch = epoch + 1, updated_at = now() WHERE slot = $2 RETURNING epoch, stored_lsn::text`,
      [this.owner, slot],
    );
    if (claimed.rowCount !== 1) throw new Error(`rxsync: no replication state for slot ${slot} (was the set-up run?)`);
    this.epoch = Number(claimed.rows[0].epoch);
    this.storedLsn = lsnToBigInt(claimed.rows[0].stored_lsn);
    this.lease = await HeldLease.hold(
      connection,
      { slot, owner: this.owner, epoch: this.epoch, leaseMs },
      () => this.lagSeconds(),
      (error) => this.fail(error),
    );
    const count = await this.writer.query<{ n: number }>('SELECT count(*)::int AS n FROM rxsync.change_log');
    this.retention.reset(count.rows[0].n);
    const oids = await this.writer.query<{ oid: number; name: string }>(
      `SELECT c.oid::int AS oid, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2::text[])`,
      [namespace, [...this.options.tables.keys()]],
    );
    this.tableOids = new Map(oids.rows.map((r) => [r.oid, r.name]));
    const from = await this.ensureSlot(this.writer, claimed.rows[0].stored_lsn);
    this.relations.clear();
    this.tx = undefined;
    this.group = undefined;
    const replication = await connectReplication(connection);
    this.stream = await ReplicationStream.start(
      replication,
      { slot, publication: this.options.publication },
      from,
      (event) => this.handle(event),
      (error) => this.fail(error),
    );
    this.leading = true;
  }

  private retryLater(delayMs: number): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.running = this.connect().catch((failure: unknown) => this.fail(failure));
    }, delayMs);
  }

  /**
   * The slot as it must be to stream from `stored`: there, or created again when it was dropped or
   * invalidated (`wal_status` lost: max_slot_wal_keep_size) while nobody streamed from it. A new slot
   * starts now, so the change log restarts there and every client is reset: never served a gap.
   * Returns where to stream from.
   */
  private async ensureSlot(writer: pg.Client, stored: Lsn): Promise<Lsn> {
    const { slot } = this.options;
    const found = await writer.query<{ wal_status: string | null }>('SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (found.rows.length === 1 && found.rows[0].wal_status !== 'lost') return stored;
    if (found.rows.length === 1) await writer.query('SELECT pg_drop_replication_slot($1)', [slot]);
    await createSlotIfMissing(writer, slot);
    const from = await startFromNewSlot(writer, slot, { owner: this.owner, epoch: this.epoch });
    this.storedLsn = lsnToBigInt(from);
    this.retention.reset(0);
    // A database set up just now: the first slot, nothing was ever stored or served.
    if (found.rows.length === 0 && stored === '0/0') return from;
    this.options.onError(
      new Error(
        `rxsync: replication slot ${slot} was ${found.rows.length ? 'invalidated' : 'missing'}; it was created again at ${from} and every client is reset`,
      ),
    );
    return from;
  }

  private async disconnect(): Promise<void> {
    const { stream, writer, lease } = this;
    this.leading = false;
    this.stream = undefined;
    this.writer = undefined;
    this.lease = undefined;
    await stream?.close();
    // Ending the writer's session lets go of the replicator lock.
    await writer?.end().catch(() => undefined);
    await lease?.release();
  }

  /**
   * The stream, the writer or the lease failed: report it, let go of the slot, and take part in
   * the election again (from what is stored, if elected). Standing by is not a failure.
   */
  private fail(error: unknown): void {
    if (this.stopped || this.failing) return;
    this.failing = true;
    const standingBy = error instanceof NotElectedError;
    if (!standingBy) this.options.onError(error);
    void this.disconnect().then(() => {
      if (this.stopped) return;
      this.retryLater(standingBy || error instanceof FencedError ? this.electionIntervalMs : (this.options.restartDelayMs ?? 1000));
    });
  }

  private async handle(event: ReplicationEvent): Promise<void> {
    await this.handleEvent(event);
    // Between source transactions, with nothing more waiting (or a big group): store what is open.
    if (this.group && !this.tx && (this.stream?.pending === 0 || this.group.rows >= GROUP_ROWS)) await this.finishGroup();
  }

  private async handleEvent(event: ReplicationEvent): Promise<void> {
    if (event.kind === 'keepalive') {
      // Between transactions, everything committed before walEnd was sent and is stored (or was
      // not ours to store): the slot may move on, so WAL of unsynced tables is not held back.
      if (!this.tx && !this.group) this.stream?.acknowledge(lsnToBigInt(event.walEnd));
      return;
    }
    const message = event.message;
    switch (message.tag) {
      case 'begin':
        return this.begin(message);
      case 'relation':
        return this.relation(message);
      case 'message':
        return this.logicalMessage(message);
      case 'insert':
      case 'update':
      case 'delete':
        return this.rowChange(message);
      case 'truncate':
        return this.truncate(message);
      case 'commit':
        return this.commit(message);
      default:
        return; // type and origin messages need nothing
    }
  }

  /**
   * How far behind Postgres's commits the change log is, in seconds: the age of the transaction
   * being stored now, 0 between transactions (WAL not decoded yet shows in the slot's lag in bytes).
   */
  lagSeconds(): number {
    return this.tx ? Math.max(0, (Date.now() - this.tx.commitTimeMs) / 1000) : 0;
  }

  private begin(message: Pgoutput.MessageBegin): void {
    const lsn = message.commitLsn!;
    this.tx = {
      lsn,
      // Microseconds since 1970 (the parser moved it from Postgres's 2000 epoch).
      commitTimeMs: Number(BigInt(message.commitTime as bigint) / 1000n),
      xid: message.xid,
      store: lsnToBigInt(lsn) > this.storedLsn,
      seq: 0,
      batch: [],
      begun: false,
      xid8: null,
      hasOrigins: false,
      truncated: false,
      pendingOrigin: null,
    };
  }

  /** A synced table's shape as the WAL has it now: checked against schema.json (drift stops replication). */
  private relation(message: Pgoutput.MessageRelation): void {
    const expected = this.tableOids.get(message.relationOid);
    const table = expected === undefined ? undefined : this.options.tables.get(expected);
    if (!table) return; // not a synced table (the publication only has synced ones; a stale relation)
    checkRelation(message, table, this.options.namespace);
    this.relations.set(message.relationOid, table);
  }

  /**
   * TRUNCATE names no rows, so it cannot become deletes: the change log is complete only from this
   * transaction on (`resumable_lsn` moves to it at its commit), and every client before it gets a
   * fresh snapshot, which no longer has the rows.
   */
  private truncate(message: Pgoutput.MessageTruncate): void {
    if (this.tx?.store && message.relations.some((relation) => relation && this.relations.has(relation.relationOid))) this.tx.truncated = true;
  }

  private async logicalMessage(message: Pgoutput.MessageMessage): Promise<void> {
    if (message.prefix === MARK_MESSAGE_PREFIX && !message.transactional && message.messageLsn) {
      // Sent as decoded, after every transaction committed before it: all of them are stored
      // once the open change-log transaction commits.
      await this.finishGroup();
      await this.writer!.query('UPDATE rxsync.replication_state SET marked_lsn = greatest(marked_lsn, $1) WHERE slot = $2 AND owner = $3 AND epoch = $4', [
        message.messageLsn,
        this.options.slot,
        this.owner,
        this.epoch,
      ]);
      return;
    }
    if (message.prefix !== ORIGIN_MESSAGE_PREFIX || !message.transactional || !this.tx) return;
    const origin = JSON.parse(Buffer.from(message.content).toString('utf8')) as { table: string; key: Key; clientId: string; changeId: string };
    this.tx.pendingOrigin = origin;
  }

  private async rowChange(message: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete): Promise<void> {
    const table = this.relations.get(message.relation.relationOid);
    if (!this.tx?.store || !table) return;
    for (const change of rowChanges(message, table)) await this.append(table, change.op, change.key, change.row, change.old);
  }

  private async append(table: PostgresTable, op: ChangeOp, key: Key, row: Row | null, old: Row | null): Promise<void> {
    const tx = this.tx!;
    let origin: Origin | null = null;
    const pending = tx.pendingOrigin;
    if (pending && pending.table === table.name && pending.key === key) {
      origin = { clientId: pending.clientId, changeId: pending.changeId };
      tx.pendingOrigin = null;
      tx.hasOrigins = true;
    }
    tx.batch.push({ table: table.name, op, key, row, old, origin });
    if (tx.batch.length >= BATCH_ROWS) await this.flush(tx);
  }

  /**
   * Writes the buffered rows of the open transaction, beginning the change-log transaction first
   * (one change-log transaction may hold several source transactions: see finishGroup).
   */
  private async flush(tx: OpenTransaction): Promise<void> {
    const writer = this.writer!;
    if (!this.group) {
      await writer.query('BEGIN');
      // pgoutput gives 32-bit xids; snapshots and waiters use the full xid8: its epoch from now.
      const now = await writer.query<{ x: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x');
      this.group = { lsn: tx.lsn, end: 0n, rows: 0, truncatedAt: null, next: BigInt(now.rows[0].x) };
    }
    if (!tx.begun) {
      tx.begun = true;
      // Near the full xid read at the group's start (before or after it: the group goes on while
      // the stream brings more transactions).
      tx.xid8 = fullTransactionId(tx.xid, this.group.next).toString();
    }
    if (tx.batch.length === 0) return;
    const batch = tx.batch;
    tx.batch = [];
    await insertChanges(writer, { lsn: tx.lsn, xid8: tx.xid8!, commitTimeMs: tx.commitTimeMs }, tx.seq, batch);
    tx.seq += batch.length;
    this.retention.added(batch.length);
    this.group.rows += batch.length;
  }

  /**
   * A source transaction's end: its last rows go into the open change-log transaction, which
   * commits at once unless more of the stream is already waiting (see handle: several small source
   * transactions then share one change-log transaction, one state update and one COMMIT, which is
   * what keeps the replicator ahead of many small writes).
   */
  private async commit(message: Pgoutput.MessageCommit): Promise<void> {
    const tx = this.tx;
    this.tx = undefined;
    const end = lsnToBigInt(message.commitEndLsn!);
    if (!tx || !tx.store || (tx.batch.length === 0 && !tx.begun && !tx.truncated)) {
      // Stored before, or nothing of ours in it: nothing to write, and the slot may pass it once
      // what came before it is stored.
      if (this.group) this.group.end = end;
      else this.stream?.acknowledge(end);
      return;
    }
    await this.flush(tx);
    const group = this.group!;
    group.lsn = tx.lsn;
    group.end = end;
    if (tx.hasOrigins) await this.writer!.query('UPDATE rxsync.applied_changes SET lsn = $1 WHERE xid = $2', [tx.lsn, tx.xid8]);
    if (tx.truncated) group.truncatedAt = tx.lsn;
  }

  /** Commits the open change-log transaction (fenced), then acknowledges the slot up to its end. */
  private async finishGroup(): Promise<void> {
    const group = this.group;
    if (!group) return;
    this.group = undefined;
    const writer = this.writer!;
    try {
      const fenced = await writer.query(
        `UPDATE rxsync.replication_state SET stored_lsn = $1, updated_at = now() WHERE slot = $2 AND owner = $3 AND epoch = $4`,
        [group.lsn, this.options.slot, this.owner, this.epoch],
      );
      if (fenced.rowCount !== 1) throw new FencedError(`rxsync: another replicator took slot ${this.options.slot} over; this one stops writing`);
      if (group.truncatedAt) {
        await writer.query('UPDATE rxsync.replication_state SET resumable_lsn = greatest(resumable_lsn, $1) WHERE slot = $2', [
          group.truncatedAt,
          this.options.slot,
        ]);
      }
      await this.retention.prune(writer);
      await writer.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, this.options.slot]);
      await writer.query('COMMIT');
    } catch (error) {
      await writer.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    this.storedLsn = lsnToBigInt(group.lsn);
    await this.options.beforeAcknowledge?.(group.lsn);
    this.stream?.acknowledge(group.end);
  }
}
