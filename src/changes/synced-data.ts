import { map, Subject, type Observable } from 'rxjs';
import type { Commit } from '../live/live-query.js';
import type { MetaStore, SqliteDatabase } from '../storage/index.js';
import type { Changes, ChangeOp, Key, Lsn, PushResult, Row, SnapshotBegin, SnapshotChunk, SnapshotEnd, SyncSchema } from '../protocol/index.js';
import type { EventBus } from '../streams/events.js';
import type { Checkpoint } from './checkpoint.js';
import { createLocalSchema, pruneSettledChanges } from './local-schema.js';
import { Outbox, type OutboxOptions } from './outbox.js';
import { ServerChanges } from './server-changes.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { keyToJson } from './table-codec.js';

/** The server messages that change the local database; they are applied one at a time, in order. */
export type ApplyMessage = SnapshotBegin | SnapshotChunk | SnapshotEnd | Changes | PushResult;

export interface ApplyOutcome {
  /** The checkpoint this message committed, if it moved it. */
  lsn?: Lsn;
  /** Whether the server expects an `ack` of that LSN (changes batches). */
  ack?: boolean;
}

/**
 * The bridge between the sync core and the changes system. Every server message that touches
 * data goes through `apply` (one SQLite transaction each, but snapshot chunks, which share one held
 * open across them: snapshot-writer.ts); every local write through `write`.
 * It tells the Checkpoint what each commit did to the LSN, tells watchers which tables changed,
 * and turns outcomes into events. It owns no socket and no timer.
 */
export class SyncedData {
  /** Every commit: the tables it touched (`local_changes` for outbox changes) and, where known, their rows. */
  readonly commits$ = new Subject<Commit>();
  /** Table names after every commit that touched them. */
  readonly tablesChanged$: Observable<ReadonlySet<string>> = this.commits$.pipe(map((commit) => commit.tables));
  readonly outbox: Outbox;
  private readonly server: ServerChanges;
  /** Snapshot chunks go into a transaction held open across them (snapshot-writer.ts). */
  private readonly snapshot: SnapshotWriter;
  private progress = new Map<string, { table: string; rowsDone: number; rowsTotal: number; chunksDone: number; chunksTotal: number }>();

  constructor(
    readonly db: SqliteDatabase,
    readonly checkpoint: Checkpoint,
    private readonly schema: SyncSchema,
    private readonly events: EventBus,
    private readonly options: OutboxOptions,
    clientId: () => string,
    now: () => number,
    newId: () => string,
  ) {
    this.server = new ServerChanges(schema, clientId, now);
    this.outbox = new Outbox(db, schema, options, now, newId);
    this.snapshot = new SnapshotWriter(
      db,
      (tx, chunk) => this.server.applyChunk(tx, chunk),
      (chunks) => this.notify([...new Set(chunks.map((chunk) => chunk.table))]),
      now,
    );
  }

  /** Creates the local tables where they are missing and loads the checkpoint (`meta` keeps its mirror). */
  async initialize(meta?: MetaStore): Promise<void> {
    await createLocalSchema(this.db, this.schema);
    await this.checkpoint.load(this.db, meta);
  }

  async write(op: ChangeOp, table: string, key: Key, row: Row | null): Promise<string> {
    const id = await this.outbox.write(op, table, key, row);
    this.notify([table, 'local_changes'], new Map([[table, new Set([keyToJson(key)])]]));
    return id;
  }

  /**
   * Applies one data message in its own transaction (snapshot chunks: in the held one, committed
   * before any other message). A throw means nothing of it was written.
   */
  async apply(message: ApplyMessage): Promise<ApplyOutcome> {
    // The chunks written so far are committed before anything else is applied.
    if (message.type !== 'snapshot_chunk') await this.snapshot.flush();
    switch (message.type) {
      case 'snapshot_begin': {
        await this.db.transaction((tx) => this.server.beginSnapshot(tx, message.lsn));
        this.checkpoint.committed('0/0');
        this.progress = new Map(message.tables.map((t) => [t.table, { table: t.table, rowsDone: 0, rowsTotal: t.rows, chunksDone: 0, chunksTotal: t.chunks }]));
        this.events.emit('initial_sync_started', { lsn: message.lsn, tables: message.tables });
        this.notify([...this.schema.tableNames]);
        return {};
      }
      case 'snapshot_chunk': {
        await this.snapshot.write(message);
        this.chunkApplied(message);
        return {};
      }
      case 'snapshot_end': {
        await this.db.transaction((tx) => this.server.endSnapshot(tx, message.lsn, message.setHash));
        this.checkpoint.committed(message.lsn, message.setHash ?? null);
        this.events.emit('initial_sync_complete', { lsn: message.lsn, rows: [...this.progress.values()].reduce((n, p) => n + p.rowsDone, 0) });
        return { lsn: message.lsn };
      }
      case 'changes': {
        this.events.emit('changes_received', { lsn: message.lsn, count: message.changes.length });
        if (message.partial) {
          // Not a checkpoint: the transaction's rows appear when its last part is applied.
          await this.db.transaction((tx) => this.server.stagePart(tx, message));
          return {};
        }
        const applied = await this.db.transaction(async (tx) => {
          const done = await this.server.applyBatch(tx, message);
          if (done) await pruneSettledChanges(tx, this.options.keepSettled);
          return done;
        });
        if (!applied) return {}; // already applied: nothing written, the checkpoint stays
        this.checkpoint.committed(message.lsn);
        this.events.emit('changes_applied', { lsn: message.lsn, count: applied.count, tables: [...applied.tables] });
        for (const outcome of applied.confirmed) this.events.emit('client_change_applied', outcome);
        this.notify(applied.confirmed.length ? [...applied.tables, 'local_changes'] : [...applied.tables], applied.rows);
        return { lsn: message.lsn, ack: true };
      }
      case 'push_result': {
        const outcomes = await this.db.transaction((tx) => this.outbox.applyResults(tx, message.results));
        const tables = new Set<string>(['local_changes']);
        for (const outcome of outcomes) {
          if (outcome.type === 'applied') this.events.emit('client_change_applied', outcome);
          else {
            tables.add(outcome.table);
            this.events.emit('client_change_rejected', outcome);
          }
        }
        this.notify([...tables]);
        return {};
      }
    }
  }

  /** Counts a written chunk into the initial sync's progress, and says so. */
  private chunkApplied(message: SnapshotChunk): void {
    const progress = this.progress.get(message.table);
    if (progress) {
      progress.rowsDone += message.rows.length;
      progress.chunksDone = message.chunk;
      progress.chunksTotal = Math.max(progress.chunksTotal, message.chunks);
      progress.rowsTotal = Math.max(progress.rowsTotal, progress.rowsDone);
    }
    const all = [...this.progress.values()];
    this.events.emit('initial_sync_progress', {
      table: message.table,
      tables: all.map((p) => ({ ...p })),
      rowsDone: all.reduce((n, p) => n + p.rowsDone, 0),
      rowsTotal: all.reduce((n, p) => n + p.rowsTotal, 0),
    });
  }

  /** Drops every synced row and the checkpoint; pending local writes stay and are re-applied. */
  async resetData(): Promise<void> {
    await this.snapshot.discard();
    await this.db.transaction((tx) => this.server.beginSnapshot(tx)); // it also sets the LSN to 0/0
    this.checkpoint.committed('0/0');
    this.notify([...this.schema.tableNames]);
  }

  /** Tells the watches what a commit wrote: `rows` by table where known; a table without them is read whole again. */
  notify(tables: string[], rows?: ReadonlyMap<string, ReadonlySet<string>>): void {
    this.commits$.next({ tables: new Set(tables), rows });
  }

  complete(): void {
    this.commits$.complete();
  }
}
