import { createHash } from 'node:crypto';
import type { ChangeRecord, ColumnType, Lsn, Row, SyncSchema } from '../../protocol/index.js';
import { oldRowOf } from '../store/old-rows.js';
import type { RowsRead } from '../store/store.js';
import type { CompiledRules, Expr, Subquery } from './ast.js';
import { coerceToColumn, evaluate } from './evaluate.js';
import { walk } from './expr-walk.js';
import { ParamSets } from './param-sets.js';
import { broadcastKey, originKey, routeKey } from './route-plan.js';
import { routingTerms, type RoutingTerm } from './routing.js';

/** Reads rows as of an LSN (SyncStore.rowsAt). */
export type RowsAt = (lsn: Lsn, reads: readonly RowsRead[]) => Promise<Row[][]>;

/** What moved in a user's subquery sets with one change: the values that came and went, per set. */
type SetMoves = Map<number, unknown[]>;

/**
 * One user's view of the data under the rules (docs/rules.md): which rows of each table are in
 * their set, given their claims and their subquery sets as of the position in the log the session
 * has reached. The session passes every committed change through `filter`, in log order, and sends
 * what comes out:
 * - a row in the set before and after a change: the change as it is;
 * - into the set (an insert, or an update that brings it in): an insert;
 * - out of it (a delete, or an update that takes it out): a delete of its key, nothing else;
 * - neither: nothing, unless it is the client's own write, which is taken back off its rows with a
 *   delete (it wrote a row it may not read: a membership row for someone else, say);
 * - a change of a subquery set (Bob added to a list's members) also brings the rows the new value
 *   lets in, and takes away those only it let in, read as they were at that change (rowsAt), so
 *   whatever the session's lag, the client sees exactly what that point of the log holds for it.
 * Every row it sends was in the user's set at the change it comes with; a key it deletes was too.
 */
export class UserView {
  /** What chose this user's rows: the rules and the claims they read. A client whose rows were chosen otherwise is reset. */
  readonly setHash: string;
  private sets = new ParamSets();
  private readonly streams = new Map<string, Expr[]>();
  private readonly subqueriesOf = new Map<string, Subquery[]>();
  /** Per subquery: the tables (and columns) whose rows it admits, for a set change's moves. */
  private readonly dependents = new Map<number, Array<{ table: string; column?: string }>>();
  private readonly terms: Array<{ table: string; terms: Array<RoutingTerm | null> }>;
  private readonly types: (table: string) => Record<string, ColumnType>;
  /** Told when the route keys changed (a set gained or lost a value). */
  onRoutesChanged: (() => void) | undefined;

  constructor(
    private readonly rules: CompiledRules,
    private readonly schema: SyncSchema,
    private readonly claims: Readonly<Record<string, unknown>>,
    private readonly clientId: string,
  ) {
    this.types = (table) => schema.tables[table].columns;
    for (const stream of rules.streams) {
      const list = this.streams.get(stream.table) ?? [];
      list.push(stream.where);
      this.streams.set(stream.table, list);
      walk(stream.where, (node) => {
        if (node.kind !== 'in_subquery') return;
        const list = this.dependents.get(node.subquery) ?? [];
        const column = node.operand.kind === 'column' ? node.operand.column : undefined;
        if (!list.some((d) => d.table === stream.table && d.column === column)) list.push({ table: stream.table, ...(column && { column }) });
        this.dependents.set(node.subquery, list);
      });
    }
    for (const subquery of rules.subqueries) this.subqueriesOf.set(subquery.table, [...(this.subqueriesOf.get(subquery.table) ?? []), subquery]);
    this.terms = rules.streams.map((stream) => ({ table: stream.table, terms: routingTerms(stream.where) }));
    const claimValues = rules.claims.map((name) => [name, claims[name] ?? null]);
    this.setHash = createHash('sha256')
      .update(JSON.stringify([rules.hash, claimValues]))
      .digest('hex')
      .slice(0, 32);
  }

  /** Loads the user's subquery sets as they were at `lsn`: the client's position, or its snapshot's. */
  async load(rowsAt: RowsAt, lsn: Lsn): Promise<void> {
    const subqueries = this.rules.subqueries.filter((subquery) => this.keyValue(subquery) !== null);
    const rows = subqueries.length
      ? await rowsAt(
          lsn,
          subqueries.map((subquery) => ({ table: subquery.table, column: subquery.keyColumn, values: [this.keyValue(subquery)] })),
        )
      : [];
    const sets = new ParamSets();
    subqueries.forEach((subquery, i) => {
      for (const row of rows[i]) {
        const value = this.contribution(subquery, row);
        if (value !== undefined) sets.add(subquery.id, value);
      }
    });
    this.sets = sets;
    this.onRoutesChanged?.();
  }

  /** Whether a change of `table` can move this user's subquery sets (then filtering it reads rows). */
  movesSets(table: string): boolean {
    return this.subqueriesOf.has(table);
  }

  /** Whether the row is in this user's set now (a rejection may show it back only then). */
  mayRead(table: string, row: Row): boolean {
    return this.inSet(table, row, this.sets);
  }

  /**
   * What this user sees of `committed` (changes in log order, each knowing its row before): in
   * log order too. Synchronous unless a change moved a subquery set, whose rows are then read.
   */
  filter(committed: readonly ChangeRecord[], rowsAt: RowsAt): ChangeRecord[] | Promise<ChangeRecord[]> {
    const out: ChangeRecord[] = [];
    for (let i = 0; i < committed.length; i++) {
      const moved = this.step(committed[i], out);
      if (moved) return this.filterOn(committed, i, moved, out, rowsAt);
    }
    return out;
  }

  /** The rest of `filter`, from a change that moved a set. */
  private async filterOn(
    committed: readonly ChangeRecord[],
    at: number,
    first: { before: ParamSets; moves: SetMoves },
    out: ChangeRecord[],
    rowsAt: RowsAt,
  ): Promise<ChangeRecord[]> {
    await this.emitMoves(committed[at], first, out, rowsAt);
    for (let i = at + 1; i < committed.length; i++) {
      const moved = this.step(committed[i], out);
      if (moved) await this.emitMoves(committed[i], moved, out, rowsAt);
    }
    return out;
  }

  /** Judges one change (see the class comment); returns what it moved in the sets, if anything. */
  private step(change: ChangeRecord, out: ChangeRecord[]): { before: ParamSets; moves: SetMoves } | undefined {
    const old = oldRowOf(change) ?? null;
    const row = change.op === 'delete' ? null : (change.row ?? null);
    const moved = this.moveSets(change.table, old, row);
    if (this.streams.has(change.table)) {
      const wasIn = old !== null && this.inSet(change.table, old, moved?.before ?? this.sets);
      const isIn = row !== null && this.inSet(change.table, row, this.sets);
      if (isIn) out.push(wasIn || change.op === 'insert' ? change : { ...plain(change), op: 'insert' });
      else if (wasIn || this.isOwn(change)) out.push(deletion(change));
    } else if (this.isOwn(change)) {
      out.push(deletion(change));
    }
    return moved;
  }

  /** Applies a change of a subquery's table to the sets; the sets before it and what moved, when something did. */
  private moveSets(table: string, old: Row | null, row: Row | null): { before: ParamSets; moves: SetMoves } | undefined {
    const subqueries = this.subqueriesOf.get(table);
    if (!subqueries) return undefined;
    let before: ParamSets | undefined;
    const touched = new Map<number, unknown[]>();
    for (const subquery of subqueries) {
      const out = old && this.contribution(subquery, old);
      const into = row && this.contribution(subquery, row);
      if (out === into || (out == null && into == null)) continue;
      before ??= this.sets.clone();
      const values = touched.get(subquery.id) ?? [];
      if (out != null && this.sets.remove(subquery.id, out)) values.push(out);
      if (into != null && this.sets.add(subquery.id, into)) values.push(into);
      touched.set(subquery.id, values);
    }
    if (!before) return undefined;
    const moves: SetMoves = new Map();
    for (const [id, values] of touched) {
      // A value that left and came back with the same change did not move.
      const moved = values.filter((value) => before.has(id, value) !== this.sets.has(id, value));
      if (moved.length) moves.set(id, moved);
    }
    if (moves.size === 0) return undefined;
    this.onRoutesChanged?.();
    return { before, moves };
  }

  /** The rows a set change brings in or takes out, as they were at that change, after the change itself. */
  private async emitMoves(change: ChangeRecord, moved: { before: ParamSets; moves: SetMoves }, out: ChangeRecord[], rowsAt: RowsAt): Promise<void> {
    const reads: Array<RowsRead & { table: string }> = [];
    for (const [id, values] of moved.moves) {
      for (const { table, column } of this.dependents.get(id) ?? []) {
        reads.push(column === undefined ? { table } : { table, column, values });
      }
    }
    if (reads.length === 0) return;
    const results = await rowsAt(change.lsn, reads);
    const sent = new Set<string>();
    reads.forEach(({ table }, i) => {
      const primaryKey = this.schema.tables[table].primaryKey;
      for (const row of results[i]) {
        const key = row[primaryKey] as string | number;
        const id = `${table}\u0000${JSON.stringify(key)}`;
        if (sent.has(id)) continue;
        const wasIn = this.inSet(table, row, moved.before);
        const isIn = this.inSet(table, row, this.sets);
        if (wasIn === isIn) continue;
        sent.add(id);
        out.push(isIn ? { lsn: change.lsn, table, op: 'insert', key, row } : { lsn: change.lsn, table, op: 'delete', key });
      }
    });
  }

  /**
   * The keys the fan-out routes changes to this user by (see RoutePlan): its claim values, the
   * values of its sets, the tables it reads in whole, and its own client id.
   */
  routeKeys(): Set<string> {
    const keys = new Set<string>([originKey(this.clientId)]);
    for (const { table, terms } of this.terms) {
      for (const term of terms) {
        if (term === null) keys.add(broadcastKey(table));
        else if (term.kind === 'claim') {
          const value = coerceToColumn(this.claims[term.claim], this.types(table)[term.column]);
          if (value !== null) keys.add(routeKey(table, term.column, value));
        } else for (const value of this.sets.values(term.subquery)) keys.add(routeKey(table, term.column, value));
      }
    }
    for (const subquery of this.rules.subqueries) {
      const value = this.keyValue(subquery);
      if (value !== null) keys.add(routeKey(subquery.table, subquery.keyColumn, value));
    }
    return keys;
  }

  private inSet(table: string, row: Row, sets: ParamSets): boolean {
    const streams = this.streams.get(table);
    if (!streams) return false;
    const env = { claims: this.claims, inSubquery: (id: number, value: unknown) => sets.has(id, value) };
    const types = this.types(table);
    return streams.some((where) => evaluate(where, row, env, types) === true);
  }

  /** The value a row puts in a subquery's set for this user (undefined: none). */
  private contribution(subquery: Subquery, row: Row): unknown {
    const env = { claims: this.claims, inSubquery: () => false };
    if (evaluate(subquery.where, row, env, this.types(subquery.table)) !== true) return undefined;
    const value = row[subquery.select];
    return value === null ? undefined : value;
  }

  /** The claim a subquery finds this user's rows by, as a value of its key column (null: the token lacks it). */
  private keyValue(subquery: Subquery): string | number | null {
    return coerceToColumn(this.claims[subquery.keyClaim], this.types(subquery.table)[subquery.keyColumn]);
  }

  private isOwn(change: ChangeRecord): boolean {
    return change.origin?.clientId === this.clientId;
  }
}

/** The change's protocol fields only (a fresh object: the shared record is never modified). */
function plain(change: ChangeRecord): ChangeRecord {
  const copy: ChangeRecord = { lsn: change.lsn, table: change.table, op: change.op, key: change.key };
  if (change.row) copy.row = change.row;
  if (change.origin) copy.origin = change.origin;
  return copy;
}

/** A delete of the change's key, keeping its origin (so the client settles its own write). */
function deletion(change: ChangeRecord): ChangeRecord {
  if (change.op === 'delete') return change;
  return { lsn: change.lsn, table: change.table, op: 'delete', key: change.key, ...(change.origin && { origin: change.origin }) };
}
