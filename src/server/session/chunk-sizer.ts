/**
 * How many rows the next snapshot chunk takes, so its frame stays about `targetBytes`.
 *
 * Why a size and not only a row count: V8 makes a string over 128 KiB in its large-object space,
 * and on the VMs measured here that is ~40x slower per byte (230 MB/s against 9 GB/s for a
 * `Buffer.toString`), on both ends: the server's JSON.stringify and the client's decoding of the
 * frame. 1,000 rows of ~180 bytes made 179 KiB frames; the target keeps them well under the cliff
 * whatever the rows' width.
 *
 * The bytes per row are learnt per table from the frames sent (their size over their rows); the
 * first frame of a table is sized from a sample of its rows. Before a frame goes, a few of its
 * rows, spread over it, are measured too: where the rows turn wider than the ones before, the
 * frame is cut to their width. It stays an estimate: a frame can pass the target by a little, and
 * by more where a few rows are far wider than their neighbours, but never by the 40x of a
 * row count alone.
 */
export class ChunkSizer {
  private readonly bytesPerRow = new Map<string, number>();

  constructor(
    private readonly maxRows: number,
    private readonly targetBytes: number,
  ) {}

  /** Rows for the next chunk of `table`, from `rows` starting at `from` (at least one). */
  rowsFor(table: string, rows: readonly unknown[][], from: number): number {
    const left = Math.min(rows.length - from, this.maxRows);
    const learnt = this.bytesPerRow.get(table);
    let take = this.fit(learnt ?? sampledBytesPerRow(rows, from, Math.min(left, SAMPLE_ROWS)) * FIRST_FRAME_MARGIN, left);
    const measured = sampledBytesPerRow(rows, from, take);
    if (learnt !== undefined && measured > learnt) take = this.fit(measured, take);
    return take;
  }

  /** The rows a whole frame of `table` takes, from the frames sent so far (undefined before the first). */
  rowsPerFrame(table: string): number | undefined {
    const learnt = this.bytesPerRow.get(table);
    return learnt === undefined ? undefined : this.fit(learnt, this.maxRows);
  }

  /** A frame of `bytes` carrying `rows` rows of `table` was sent. */
  sent(table: string, rows: number, bytes: number): void {
    if (rows > 0 && bytes > 0) this.bytesPerRow.set(table, bytes / rows);
  }

  private fit(bytesPerRow: number, most: number): number {
    return Math.max(1, Math.min(most, Math.floor(this.targetBytes / bytesPerRow)));
  }
}

const SAMPLE_ROWS = 16;
/** The first frame is sized from its rows alone: the message around them (type, columns, ...) adds some. */
const FIRST_FRAME_MARGIN = 1.1;

/** Bytes per row as JSON (what the frame holds, with a comma) of up to SAMPLE_ROWS of `count` rows from `from`, spread evenly. */
function sampledBytesPerRow(rows: readonly unknown[][], from: number, count: number): number {
  if (count <= 0) return 1;
  const step = Math.max(1, Math.floor(count / SAMPLE_ROWS));
  const sample: unknown[][] = [];
  for (let i = from; i < from + count && sample.length < SAMPLE_ROWS; i += step) sample.push(rows[i]!);
  return Buffer.byteLength(JSON.stringify(sample)) / sample.length + 1;
}
