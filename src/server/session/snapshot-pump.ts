import type { Lsn } from '../../protocol/index.js';
import type { SnapshotReader } from '../store/store.js';
import type { SessionOutput } from './outbound.js';
import { ChunkSizer } from './chunk-sizer.js';
import type { ChunkWindow } from './send-window.js';

type ReaderChunk = NonNullable<Awaited<ReturnType<SnapshotReader['nextChunk']>>>;

/**
 * One snapshot on its way to a client: `snapshot_begin` announces every table with its row and
 * chunk counts, then chunks go out only while the chunk window (freed by `snapshot_ack`) and the
 * socket have room, and `snapshot_end` closes it at the snapshot's LSN.
 *
 * The reader's chunks (`snapshotChunkRows` rows) are cut further so that each frame stays about
 * `snapshotChunkBytes` (chunk-sizer.ts says why). The chunk counts announced are therefore
 * estimates from the row counts; each chunk carries the count as it stands, grown once the rows'
 * size is known, never shrunk.
 */
export class SnapshotPump {
  private readonly progress = new Map<string, { rows: number; rowsSent: number; sent: number; chunks: number }>();
  private readonly sizer: ChunkSizer;
  /** The reader's chunk being sent, and how many of its rows are sent. */
  private current: { chunk: ReaderChunk; at: number } | undefined;

  constructor(
    private readonly reader: SnapshotReader,
    private readonly window: ChunkWindow,
    private readonly out: SessionOutput,
    limits: { snapshotChunkRows: number; snapshotChunkBytes: number },
    /** Under per-user rules: what chose the rows, told to the client with snapshot_end. */
    private readonly setHash?: string,
  ) {
    this.sizer = new ChunkSizer(limits.snapshotChunkRows, limits.snapshotChunkBytes);
    const tables = reader.tables.map(({ table, rows }) => ({ table, rows, chunks: Math.ceil(rows / limits.snapshotChunkRows) }));
    for (const { table, rows, chunks } of tables) this.progress.set(table, { rows, rowsSent: 0, sent: 0, chunks });
    out.send({ type: 'snapshot_begin', lsn: reader.lsn, chunks: tables.reduce((n, t) => n + t.chunks, 0), tables }, 'reply');
  }

  /** Sends the chunks there is room for; resolves to the snapshot's LSN once `snapshot_end` is sent. */
  async pump(): Promise<Lsn | undefined> {
    const { reader, window, out } = this;
    while (!out.isClosed && window.hasRoom && out.hasRoom) {
      if (!this.current || this.current.at >= this.current.chunk.rows.length) {
        const chunk = await reader.nextChunk();
        if (out.isClosed) return undefined;
        if (!chunk) {
          reader.close();
          out.send({ type: 'snapshot_end', lsn: reader.lsn, ...(this.setHash !== undefined && { setHash: this.setHash }) }, 'data');
          return reader.lsn;
        }
        this.current = { chunk, at: 0 };
        if (chunk.rows.length === 0) continue;
      }
      const { chunk, at } = this.current;
      const take = this.sizer.rowsFor(chunk.table, chunk.rows, at);
      const rows = at === 0 && take === chunk.rows.length ? chunk.rows : chunk.rows.slice(at, at + take);
      this.current.at += take;
      const progress = this.progress.get(chunk.table)!;
      progress.sent += 1;
      progress.rowsSent += take;
      // The rows left, in whole frames (not in the few rows that end a reader's chunk); rows added
      // while the snapshot is read can make a table longer than announced.
      const rowsLeft = Math.max(0, progress.rows - progress.rowsSent);
      const perFrame = Math.max(take, this.sizer.rowsPerFrame(chunk.table) ?? take);
      progress.chunks = Math.max(progress.chunks, progress.sent + Math.ceil(rowsLeft / perFrame));
      const bytes = out.send(
        {
          type: 'snapshot_chunk',
          seq: window.next(),
          table: chunk.table,
          chunk: progress.sent,
          chunks: progress.chunks,
          columns: [...chunk.columns],
          rows,
        },
        'data',
      );
      this.sizer.sent(chunk.table, take, bytes);
    }
    return undefined;
  }

  close(): void {
    this.reader.close();
  }
}
