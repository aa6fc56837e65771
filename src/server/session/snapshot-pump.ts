import type { Lsn } from '../../protocol/index.js';
import type { SnapshotReader } from '../store/store.js';
import type { SessionOutput } from './outbound.js';
import type { ChunkWindow } from './send-window.js';

/**
 * One snapshot on its way to a client: `snapshot_begin` announces every table with its row and
 * chunk counts, then chunks go out only while the chunk window (freed by `snapshot_ack`) and the
 * socket have room, and `snapshot_end` closes it at the snapshot's LSN.
 */
export class SnapshotPump {
  private readonly progress = new Map<string, { sent: number; chunks: number }>();

  constructor(
    private readonly reader: SnapshotReader,
    private readonly window: ChunkWindow,
    private readonly out: SessionOutput,
    chunkRows: number,
    /** Under per-user rules: what chose the rows, told to the client with snapshot_end. */
    private readonly setHash?: string,
  ) {
    const tables = reader.tables.map(({ table, rows }) => ({ table, rows, chunks: Math.ceil(rows / chunkRows) }));
    for (const { table, chunks } of tables) this.progress.set(table, { sent: 0, chunks });
    out.send({ type: 'snapshot_begin', lsn: reader.lsn, chunks: tables.reduce((n, t) => n + t.chunks, 0), tables }, 'reply');
  }

  /** Sends the chunks there is room for; resolves to the snapshot's LSN once `snapshot_end` is sent. */
  async pump(): Promise<Lsn | undefined> {
    const { reader, window, out } = this;
    while (!out.isClosed && window.hasRoom && out.hasRoom) {
      const chunk = await reader.nextChunk();
      if (out.isClosed) return undefined;
      if (!chunk) {
        reader.close();
        out.send({ type: 'snapshot_end', lsn: reader.lsn, ...(this.setHash !== undefined && { setHash: this.setHash }) }, 'data');
        return reader.lsn;
      }
      const progress = this.progress.get(chunk.table)!;
      progress.sent += 1;
      // Rows added while the snapshot is read can make a table one chunk longer than announced.
      progress.chunks = Math.max(progress.chunks, progress.sent);
      out.send(
        {
          type: 'snapshot_chunk',
          seq: window.next(),
          table: chunk.table,
          chunk: progress.sent,
          chunks: progress.chunks,
          columns: [...chunk.columns],
          rows: chunk.rows,
        },
        'data',
      );
    }
    return undefined;
  }

  close(): void {
    this.reader.close();
  }
}
