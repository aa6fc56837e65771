import { ReplaySubject, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { ZERO_LSN, type Lsn } from '../protocol/index.js';
import type { MetaStore, SqliteExecutor } from '../storage/index.js';
import { readLsn, readSetHash } from './local-schema.js';
import type { EventBus } from '../streams/events.js';

/** How long the IndexedDB copy of the checkpoint may lag behind (it is a hint, never the truth). */
const MIRROR_DELAY_MS = 1_000;

/**
 * The client's checkpoint: the LSN up to which the server's changes are in the local database.
 * The truth is the row in `_rxsync_state`, written by the apply transaction that brought those
 * changes (`writeLsn`, in the same transaction as the rows), so a crash leaves both or neither.
 * This object owns everything else about it:
 * - `current`: that value as of the last commit (set by whoever committed it);
 * - `lsn$`: the checkpoint as published, once the commit is done (what `ack`s follow);
 * - a copy in the small IndexedDB store (`meta`), for code that must know it without opening
 *   the database (a page before its worker is up): written a moment after it moved and when the
 *   client closes, not on every batch, and never read back over SQLite's value.
 */
export class Checkpoint {
  private value: Lsn = ZERO_LSN;
  private set: string | undefined;
  private readonly published = new ReplaySubject<Lsn>(1);
  private mirrorTimer: Subscription | undefined;
  private mirrored: Lsn | undefined;
  private meta: MetaStore | undefined;
  readonly lsn$: Observable<Lsn> = this.published.asObservable();

  constructor(
    private readonly events: EventBus,
    private readonly scheduler: SchedulerLike,
    private readonly onMirrorError: (error: unknown, lsn: Lsn) => void,
  ) {}

  get current(): Lsn {
    return this.value;
  }

  /** What chose the synced rows, as the last snapshot said (a server with per-user rules); the hello repeats it. */
  get setHash(): string | undefined {
    return this.set;
  }

  /**
   * Reads the checkpoint from the database (SQLite's value wins over any copy) and publishes it;
   * `meta`, where there is one, keeps the mirror.
   */
  async load(db: SqliteExecutor, meta?: MetaStore): Promise<void> {
    this.meta = meta;
    this.value = await readLsn(db);
    this.set = await readSetHash(db);
    this.mirrored = await this.meta?.get<Lsn>('lsn');
    this.published.next(this.value);
    if (this.meta && this.mirrored !== this.value) await this.writeMirror();
  }

  /** A transaction that moved the checkpoint to `lsn` (or back to 0/0) has committed; a snapshot's end also says what chose its rows (null: nothing did). */
  committed(lsn: Lsn, setHash?: string | null): void {
    this.value = lsn;
    if (setHash !== undefined) this.set = setHash ?? undefined;
  }

  /** Tells everyone that the committed checkpoint is `lsn` (lsn$, the `lsn_updated` event), and mirrors it soon. */
  publish(lsn: Lsn, extra: { reset?: boolean } = {}): void {
    this.published.next(lsn);
    this.events.emit('lsn_updated', { lsn, ...extra });
    this.mirrorTimer ??=
      this.meta &&
      this.scheduler.schedule(() => {
        this.mirrorTimer = undefined;
        void this.writeMirror();
      }, MIRROR_DELAY_MS);
  }

  /** Writes the mirror now if it lags (the client is closing). */
  async flush(): Promise<void> {
    this.mirrorTimer?.unsubscribe();
    this.mirrorTimer = undefined;
    if (this.meta && this.mirrored !== this.value) await this.writeMirror();
  }

  complete(): void {
    this.mirrorTimer?.unsubscribe();
    this.published.complete();
  }

  private async writeMirror(): Promise<void> {
    const lsn = this.value;
    try {
      await this.meta!.set('lsn', lsn);
      this.mirrored = lsn;
    } catch (error) {
      this.onMirrorError(error, lsn);
    }
  }
}
