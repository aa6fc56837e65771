import type { ChangeRecord, ClientChange, Key, PushResultEntry, Row, SyncSchema } from '../../src/protocol/index.js';

/**
 * What the reference server's store must hold after a sequence of accepted pushes: the rows, the
 * LSN counter (the embedded store numbers changes 1, 2, 3, ...), the change log, and the answer
 * remembered for each (client id, change id). It follows the documented default conflict policy
 * (server order, last write wins) and nothing else; a fuzz run compares the server against it.
 *
 * Values are kept in their JSON form (what a peer sees after JSON.stringify/parse).
 */
export class ServerModel {
  lsn: number;
  readonly records: ChangeRecord[] = [];
  private readonly rows = new Map<string, Map<string, Row>>();
  private readonly answered = new Map<string, { status: 'applied'; lsn: number } | { status: 'rejected'; reason: string }>();

  constructor(
    private readonly schema: SyncSchema,
    lsn = 0,
  ) {
    this.lsn = lsn;
    for (const table of schema.tableNames) this.rows.set(table, new Map());
  }

  /** A row written on the server itself (seed data): logged without origin. */
  seed(table: string, row: Row): void {
    const key = row[this.schema.tables[table].primaryKey] as Key;
    const whole = this.whole(table, row, key);
    this.rows.get(table)!.set(JSON.stringify(key), whole);
    this.lsn += 1;
    this.records.push({ lsn: formatLsn(this.lsn), table, op: 'insert', key, row: whole });
  }

  /**
   * Applies one accepted push (already checked against the schema) and returns its results. A row
   * the server would have to store but cannot serialise (nested too deep) fails its whole
   * transaction: this throws, and the model is left as it was.
   */
  push(clientId: string, changes: ClientChange[]): PushResultEntry[] {
    const saved = {
      lsn: this.lsn,
      records: this.records.length,
      answered: new Map(this.answered),
      rows: new Map([...this.rows].map(([t, rows]) => [t, new Map(rows)])),
    };
    try {
      return changes.map((change) => this.apply(clientId, change));
    } catch (error) {
      this.lsn = saved.lsn;
      this.records.length = saved.records;
      this.answered.clear();
      for (const [k, v] of saved.answered) this.answered.set(k, v);
      for (const [t, rows] of saved.rows) this.rows.set(t, rows);
      throw error;
    }
  }

  private apply(clientId: string, change: ClientChange): PushResultEntry {
    const rows = this.rows.get(change.table)!;
    const keyJson = JSON.stringify(change.key);
    const current = rows.get(keyJson) ?? null;
    const memo = `${clientId}\u0000${change.id}`;
    const seen = this.answered.get(memo);
    if (seen) {
      return seen.status === 'applied'
        ? { id: change.id, status: 'duplicate', lsn: formatLsn(seen.lsn) }
        : { id: change.id, status: 'rejected', reason: seen.reason, serverRow: current, code: 'conflict' };
    }
    const origin = { clientId, changeId: change.id };
    if (change.op === 'update' && !current) {
      this.answered.set(memo, { status: 'rejected', reason: 'not_found' });
      return { id: change.id, status: 'rejected', reason: 'not_found', serverRow: null, code: 'conflict' };
    }
    if (change.op === 'delete') {
      if (!current) {
        this.answered.set(memo, { status: 'applied', lsn: this.lsn });
        return { id: change.id, status: 'applied', lsn: formatLsn(this.lsn) };
      }
      rows.delete(keyJson);
      return this.log(memo, { table: change.table, op: 'delete', key: change.key, origin });
    }
    const next = change.op === 'insert' ? (change.row ?? {}) : { ...current, ...change.row };
    const whole = this.whole(change.table, next, change.key);
    rows.set(keyJson, whole);
    return this.log(memo, { table: change.table, op: change.op, key: change.key, row: whole, origin });
  }

  private log(memo: string, record: Omit<ChangeRecord, 'lsn'>): PushResultEntry {
    this.lsn += 1;
    const lsn = formatLsn(this.lsn);
    this.records.push({ lsn, ...record });
    this.answered.set(memo, { status: 'applied', lsn: this.lsn });
    return { id: record.origin!.changeId, status: 'applied', lsn };
  }

  /** Every column of the table in schema order, missing ones null, the key set; JSON-normalised (throws where the server's JSON.stringify would). */
  private whole(table: string, row: Row, key: Key): Row {
    const spec = this.schema.tables[table];
    const whole: Row = {};
    for (const column of Object.keys(spec.columns)) whole[column] = row[column] ?? null;
    whole[spec.primaryKey] = key;
    return json(whole);
  }

  /** The rows of a table as a map from JSON key to row. */
  table(table: string): Map<string, Row> {
    return this.rows.get(table)!;
  }

  /** How many tables hold at least one row (the chunks a small snapshot has). */
  nonEmptyTables(): number {
    return [...this.rows.values()].filter((rows) => rows.size > 0).length;
  }

  get currentLsn(): string {
    return formatLsn(this.lsn);
  }
}

export const formatLsn = (n: number): string => `0/${n.toString(16).toUpperCase()}`;

/** A value as a peer sees it after it crossed the wire. */
export const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
