import type { ChangeRecord, Row, SyncSchema } from '../../protocol/index.js';
import { oldRowOf } from '../store/old-rows.js';
import type { CompiledRules } from './ast.js';
import { valueKey } from './param-sets.js';
import { routingTerms } from './routing.js';

/**
 * How the fan-out finds the sessions a change may concern without asking every session: each
 * session files itself under route keys (its claim values, the values of its subquery sets), and
 * each change is looked up by the same keys taken from its rows. A key is `table|column|value`:
 * - a stream whose disjunct needs `column = auth.claim`: the session files `table|column|<claim>`;
 * - a disjunct that needs `column IN (SELECT ...)`: it files `table|column|v` for each v in its set;
 * - a subquery's own table (`list_members|user_id|<sub>`), so membership changes find their user;
 * - a disjunct with neither (`done = 0`, no where at all): `table|*`, every change of the table;
 * - `origin|<client id>`: a client's own change always comes back to it (a write that leaves its set
 *   must be taken back off its rows).
 * The session then judges each candidate change exactly (UserView); routing only narrows.
 */
export class RoutePlan {
  /** Per table: the columns whose values are route keys, and whether any change of it goes to every session. */
  private readonly tables = new Map<string, { columns: Set<string>; broadcast: boolean }>();

  constructor(rules: CompiledRules, schema: SyncSchema) {
    const entry = (table: string) => {
      let plan = this.tables.get(table);
      if (!plan) this.tables.set(table, (plan = { columns: new Set(), broadcast: false }));
      return plan;
    };
    for (const stream of rules.streams) {
      for (const term of routingTerms(stream.where)) {
        if (term === null) entry(stream.table).broadcast = true;
        else entry(stream.table).columns.add(term.column);
      }
    }
    for (const subquery of rules.subqueries) entry(subquery.table).columns.add(subquery.keyColumn);
    for (const table of this.tables.keys()) if (!schema.tables[table]) throw new Error(`route plan: unknown table ${table}`);
  }

  /** The route keys of a change: from its row before and after, its table, and its origin. */
  keysOf(change: ChangeRecord): string[] {
    const keys: string[] = [];
    if (change.origin) keys.push(originKey(change.origin.clientId));
    const plan = this.tables.get(change.table);
    if (!plan) return keys;
    if (plan.broadcast) keys.push(broadcastKey(change.table));
    const old = oldRowOf(change);
    for (const column of plan.columns) {
      addRowKey(keys, change.table, column, change.row);
      addRowKey(keys, change.table, column, old ?? undefined);
    }
    return keys;
  }
}

function addRowKey(keys: string[], table: string, column: string, row: Row | undefined): void {
  const value = row?.[column];
  if (value !== undefined && value !== null) keys.push(routeKey(table, column, value));
}

export const routeKey = (table: string, column: string, value: unknown): string => `${table}|${column}|${valueKey(value)}`;
export const broadcastKey = (table: string): string => `${table}|*`;
export const originKey = (clientId: string): string => `origin|${clientId}`;
