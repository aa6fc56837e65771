import { lsnFromBigInt, lsnToBigInt, type Changes, type Row, type SnapshotChunk, type SyncSchema } from '../../src/protocol/index.js';

/**
 * What a client's synced tables and checkpoint must be after a sequence of server messages,
 * according to docs/protocol.md (not to the client's code): a `changes` batch is applied whole
 * or not at all, only when it is valid; a snapshot replaces the rows; the checkpoint is the LSN of
 * the last batch (or snapshot) applied.
 *
 * Values are kept in their JSON form: what the client's local database must give back.
 */
export class ClientModel {
  checkpoint = 0n;
  private readonly rows = new Map<string, Map<string, Row>>();

  constructor(private readonly schema: SyncSchema) {
    for (const table of schema.tableNames) this.rows.set(table, new Map());
  }

  get lsn(): string {
    return lsnFromBigInt(this.checkpoint);
  }

  table(table: string): Map<string, Row> {
    return this.rows.get(table)!;
  }

  /** Why the batch must be refused (undefined: it must be applied, past the checkpoint). */
  invalidBatch(batch: Changes): string | undefined {
    if (batch.changes.length === 0 && (batch.partial || batch.offset !== undefined)) return 'a part of a transaction without changes';
    let previous = -1n;
    for (const [i, change] of batch.changes.entries()) {
      const lsn = lsnToBigInt(change.lsn);
      // Equal LSNs are the changes of one source transaction (a Postgres source); a step back is not.
      if (lsn < previous) return `change ${i} at ${change.lsn} is before ${lsnFromBigInt(previous)}`;
      previous = lsn;
      const problem = this.invalidChange(change.table, change.key, change.op === 'delete' ? undefined : (change.row ?? null));
      if (problem) return `change ${i}: ${problem}`;
      // A delete's row is not applied, but the client keeps it in its change records: one that
      // cannot be written back as JSON (nested too deep for JSON.stringify) fails the batch.
      if (change.op === 'delete' && change.row !== undefined && !serialisable(change.row)) return `change ${i}: a row nested too deep`;
    }
    // Past the last change is allowed: the commits between held nothing this client may see.
    if (previous > lsnToBigInt(batch.lsn)) return `batch LSN ${batch.lsn} is before its last change's`;
    return undefined;
  }

  /**
   * Applies a batch that `invalidBatch` accepted: the changes after the checkpoint (those at or
   * below it were applied already). False when none were, and nothing changes.
   */
  applyBatch(batch: Changes): boolean {
    if (lsnToBigInt(batch.lsn) <= this.checkpoint) return false;
    for (const change of batch.changes) {
      if (lsnToBigInt(change.lsn) <= this.checkpoint) continue;
      const rows = this.rows.get(change.table)!;
      if (change.op === 'delete') rows.delete(JSON.stringify(change.key));
      else rows.set(JSON.stringify(change.key), this.whole(change.table, change.row!));
    }
    this.checkpoint = lsnToBigInt(batch.lsn);
    return true;
  }

  beginSnapshot(): void {
    for (const rows of this.rows.values()) rows.clear();
    this.checkpoint = 0n;
  }

  /** Why the chunk must be refused, or undefined. */
  invalidChunk(chunk: SnapshotChunk): string | undefined {
    const spec = this.schema.tables[chunk.table];
    if (!Object.prototype.hasOwnProperty.call(this.schema.tables, chunk.table)) return `unknown table ${chunk.table}`;
    const unknown = chunk.columns.find((c) => !Object.prototype.hasOwnProperty.call(spec.columns, c));
    if (unknown !== undefined) return `unknown column ${unknown}`;
    if (!chunk.columns.includes(spec.primaryKey)) return 'no primary key column';
    for (const values of chunk.rows) {
      if (values.length !== chunk.columns.length) return `a row of ${values.length} values for ${chunk.columns.length} columns`;
      const row = this.chunkRow(chunk, values);
      const problem = this.invalidChange(chunk.table, row[spec.primaryKey], row);
      if (problem) return problem;
    }
    return undefined;
  }

  applyChunk(chunk: SnapshotChunk): void {
    const rows = this.rows.get(chunk.table)!;
    const pk = this.schema.tables[chunk.table].primaryKey;
    for (const values of chunk.rows) {
      const row = this.chunkRow(chunk, values);
      rows.set(JSON.stringify(row[pk]), this.whole(chunk.table, row));
    }
  }

  endSnapshot(lsn: string): void {
    this.checkpoint = lsnToBigInt(lsn);
  }

  /** The first occurrence of each column wins, as the client reads a chunk row. */
  private chunkRow(chunk: SnapshotChunk, values: unknown[]): Row {
    const row: Row = {};
    chunk.columns.forEach((column, i) => {
      if (!Object.prototype.hasOwnProperty.call(row, column)) row[column] = values[i];
    });
    return row;
  }

  /** A change's table, key and (for insert/update) whole row against the schema. */
  private invalidChange(table: string, key: unknown, row: Row | null | undefined): string | undefined {
    if (!Object.prototype.hasOwnProperty.call(this.schema.tables, table)) return `unknown table ${JSON.stringify(table)}`;
    const spec = this.schema.tables[table];
    if (!fits(spec.columns[spec.primaryKey], key, true)) return `bad key ${JSON.stringify(key)}`;
    if (row === undefined) return undefined; // a delete without a row
    if (row === null) return 'insert/update without a row';
    for (const [column, value] of Object.entries(row)) {
      if (!Object.prototype.hasOwnProperty.call(spec.columns, column)) return `unknown column ${JSON.stringify(column)}`;
      if (!fits(spec.columns[column], value, column === spec.primaryKey)) return `${column}: bad value ${safeJson(value)}`;
    }
    if (row[spec.primaryKey] !== key) return `row key ${safeJson(row[spec.primaryKey])} is not the change's key ${safeJson(key)}`;
    return undefined;
  }

  /** Every column in schema order, missing ones null; JSON-normalised. */
  private whole(table: string, row: Row): Row {
    const whole: Row = {};
    for (const column of Object.keys(this.schema.tables[table].columns)) whole[column] = row[column] ?? null;
    return JSON.parse(JSON.stringify(whole)) as Row;
  }
}

/** Whether a value fits a column type (docs: Column types); text must be storable (no lone surrogate, no U+0000). */
function fits(type: string, value: unknown, isKey: boolean): boolean {
  if (value === null || value === undefined) return !isKey && value === null;
  switch (type) {
    case 'text':
      return typeof value === 'string' && !/[\u0000\p{Cs}]/u.test(value) && (!isKey || value.length > 0);
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'real':
      return typeof value === 'number' && Number.isFinite(value);
    default:
      // json: any JSON value nesting at most 100 levels (docs: Column types).
      return depthWithin(value, 100);
  }
}

function depthWithin(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  return limit > 0 && Object.values(value).every((child) => depthWithin(child, limit - 1));
}

function serialisable(value: unknown): boolean {
  try {
    JSON.stringify(value);
    return true;
  } catch {
    return false;
  }
}

function safeJson(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 60);
  } catch {
    return typeof value;
  }
}
