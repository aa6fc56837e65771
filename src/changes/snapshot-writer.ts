import type { SnapshotChunk } from '../protocol/index.js';
import type { HeldTransaction, SqliteDatabase, SqliteExecutor } from '../storage/index.js';

/** Rows written before a commit at most: what a failed commit has to write again, kept in memory. */
const MAX_HELD_ROWS = 10_000;
/** A held transaction older than this commits at the next chunk: watches see a snapshot come in steps. */
const MAX_HELD_MS = 500;

/**
 * Writes the snapshot's chunks into one transaction held open across them, committed every
 * MAX_HELD_ROWS rows or MAX_HELD_MS, before any other message is applied, and as soon as any other
 * call wants the connection (a local write, a watch's query, close).
 *
 * Why: a commit costs a persistent VFS far more than a chunk's rows (OPFS: a journal write, two
 * flushes and a truncate per commit; 200 commits were ~0.9 s of a 2.2 s initial sync in
 * Chromium), and a client that applies faster than the server sends never has two chunks waiting
 * to share a transaction. Nothing needs a chunk committed before the snapshot's end: a snapshot that
 * breaks off is discarded and sent again whole, and `snapshot_end` commits everything first.
 *
 * Outcomes stay chunk for chunk what they were with a transaction each. A chunk the database
 * refuses rolls the held transaction back; the chunks before it are written again one transaction
 * each, and the refused chunk's error is thrown (its retry opens a new held transaction). A commit
 * that fails writes its chunks again the same way. The chunks are kept until their commit for this.
 */
export class SnapshotWriter {
  private held: { transaction: HeldTransaction; since: number } | undefined;
  /** The chunks written in the held transaction. */
  private kept: SnapshotChunk[] = [];
  private keptRows = 0;
  /** Chunks whose held transaction was lost (a refused chunk after them, a failed commit): written alone before anything else. */
  private unsaved: SnapshotChunk[] = [];
  /** The writer's steps, one at a time: a commit asked for by a waiting call waits for the chunk being written. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: SqliteDatabase,
    private readonly applyChunk: (tx: SqliteExecutor, chunk: SnapshotChunk) => Promise<void>,
    /** The chunks just committed (watches are told then, not before). */
    private readonly committed: (chunks: readonly SnapshotChunk[]) => void,
    private readonly now: () => number,
  ) {}

  /** Writes `chunk` (uncommitted until a commit; see the class comment). Rejects as the chunk alone would. */
  write(chunk: SnapshotChunk): Promise<void> {
    return this.step(async () => {
      await this.saveUnsaved();
      const held = this.held ?? (this.held = { transaction: await this.db.holdTransaction(() => this.commitSoon()), since: this.now() });
      try {
        await this.applyChunk(held.transaction.tx, chunk);
      } catch (error) {
        this.held = undefined;
        await held.transaction.rollback();
        this.lose();
        await this.saveUnsaved();
        throw error;
      }
      this.kept.push(chunk);
      this.keptRows += chunk.rows.length;
      if (held.transaction.contended || this.keptRows >= MAX_HELD_ROWS || this.now() - held.since >= MAX_HELD_MS) await this.commitHeld();
    });
  }

  /** Commits everything written: before any other message is applied. */
  flush(): Promise<void> {
    return this.step(async () => {
      await this.commitHeld();
      await this.saveUnsaved();
    });
  }

  /** Rolls back what is held and forgets every chunk: the snapshot is being discarded. */
  discard(): Promise<void> {
    return this.step(async () => {
      const held = this.held;
      this.held = undefined;
      this.kept = [];
      this.keptRows = 0;
      this.unsaved = [];
      await held?.transaction.rollback();
    });
  }

  /** A call waits for the connection: commit once the chunk being written (if any) is in. */
  private commitSoon(): void {
    // A failure here leaves the chunks unsaved: the next write or flush writes them, or throws.
    this.step(() => this.commitHeld()).catch(() => undefined);
  }

  private step<T>(job: () => Promise<T>): Promise<T> {
    const result = this.queue.then(job);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async commitHeld(): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    try {
      await held.transaction.commit();
    } catch {
      this.lose(); // a failed COMMIT rolled back: nothing of them was saved
      return;
    }
    const chunks = this.kept;
    this.kept = [];
    this.keptRows = 0;
    this.committed(chunks);
  }

  /** The held transaction's chunks were not saved: they go to `unsaved`. */
  private lose(): void {
    this.unsaved.push(...this.kept);
    this.kept = [];
    this.keptRows = 0;
  }

  /** The unsaved chunks, one transaction each, in order; a failure keeps the rest and is thrown. */
  private async saveUnsaved(): Promise<void> {
    while (this.unsaved.length > 0) {
      const chunk = this.unsaved[0]!;
      await this.db.transaction((tx) => this.applyChunk(tx, chunk));
      this.unsaved.shift();
      this.committed([chunk]);
    }
  }
}
