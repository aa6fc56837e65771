/**
 * Which watch() queries rxsync keeps up to date incrementally, and how: one synced table, plain
 * columns (or `*`) selected, any WHERE without a subquery, ORDER BY plain columns, a LIMIT. These
 * are the queries a UI writes for a list; a commit's changed rows are folded into the previous
 * result instead of running the query again (live-result.ts). Anything else (joins, aggregates,
 * GROUP BY, DISTINCT, OFFSET, subqueries, named parameters, COLLATE) gives undefined: watch() then
 * runs the query again after each commit that touches its tables, as before.
 */
import { quoteIdentifier } from '../sql/index.js';
import type { SyncSchema } from '../protocol/index.js';
import { tokenize, type Token } from './sql-tokens.js';

export interface OrderTerm {
  column: string;
  descending: boolean;
}

export interface QueryShape {
  table: string;
  primaryKey: string;
  /** The ORDER BY terms as written; the primary key breaks ties (appended to both queries). */
  order: readonly OrderTerm[];
  /** LIMIT: a number, the index in `params` of its `?`, or undefined. */
  limit?: { value: number } | { param: number };
  /** How many of the params belong to the WHERE (the ones before any LIMIT `?`). */
  whereParams: number;
  /** The query with the key and the order columns added as hidden columns, in a stable order: run for the first result and when a window must refill. */
  fullSql: string;
  /** The same rows for a list of keys (one JSON array parameter first, then the WHERE's): run for a commit's changed rows. */
  keyedSql: string;
}

/** The hidden column names (reserved: no schema may name anything `_rxsync…`). */
export const KEY_COLUMN = '_rxsync_key';
export const orderColumn = (index: number): string => `_rxsync_o${index}`;

const CLAUSE_WORDS = new Set(['WHERE', 'ORDER', 'LIMIT', 'GROUP', 'HAVING', 'WINDOW', 'UNION', 'INTERSECT', 'EXCEPT', 'OFFSET']);
const REFUSED_ANYWHERE = new Set(['SELECT', 'DISTINCT', 'COLLATE', 'OVER', 'MATCH', 'RAISE']);

/** The shape of `sql`, or undefined when watch() must re-run it (see the module comment). */
export function queryShape(sql: string, schema: SyncSchema): QueryShape | undefined {
  const tokens = tokenize(sql);
  if (!tokens || tokens.length < 4) return undefined;
  if (!isWord(tokens[0], 'SELECT') || tokens.slice(1).some((t) => t.kind === 'word' && REFUSED_ANYWHERE.has(t.value))) return undefined;
  const from = tokens.findIndex((t) => t.depth === 0 && isWord(t, 'FROM'));
  if (from < 2) return undefined;
  const selected = selectList(tokens.slice(1, from));
  if (!selected) return undefined;

  const tableToken = tokens[from + 1];
  const table = tableToken && tableName(tableToken, schema);
  if (!table) return undefined;
  const columns = Object.keys(schema.tables[table].columns);
  const primaryKey = schema.tables[table].primaryKey;

  let at = from + 2;
  const clauseEnd = (start: number) => {
    let end = start;
    while (end < tokens.length && !(tokens[end]!.depth === 0 && tokens[end]!.kind === 'word' && CLAUSE_WORDS.has(tokens[end]!.value))) end++;
    return end;
  };
  let where: { text: string; params: number } | undefined;
  if (isWord(tokens[at], 'WHERE')) {
    const end = clauseEnd(at + 1);
    if (end === at + 1) return undefined;
    const body = tokens.slice(at + 1, end);
    if (body.some((t) => t.kind === 'punct' && t.text === ';')) return undefined;
    where = { text: sql.slice(body[0]!.start, body.at(-1)!.end), params: body.filter((t) => t.kind === 'param').length };
    at = end;
  }
  const order: OrderTerm[] = [];
  if (isWord(tokens[at], 'ORDER')) {
    if (!isWord(tokens[at + 1], 'BY')) return undefined;
    const end = clauseEnd(at + 2);
    for (const term of splitByComma(tokens.slice(at + 2, end))) {
      const parsed = orderTerm(term, columns);
      if (!parsed) return undefined;
      order.push(parsed);
    }
    if (order.length === 0) return undefined;
    at = end;
  }
  let limit: QueryShape['limit'];
  if (isWord(tokens[at], 'LIMIT')) {
    const value = tokens[at + 1];
    if (value?.kind === 'number' && /^[0-9]+$/.test(value.text)) limit = { value: Number(value.text) };
    else if (value?.kind === 'param') limit = { param: where?.params ?? 0 };
    else return undefined;
    at += 2;
  }
  if (at < tokens.length && !(at === tokens.length - 1 && tokens[at]!.text === ';')) return undefined;

  const quotedTable = quoteIdentifier(table);
  const quotedKey = quoteIdentifier(primaryKey);
  const hidden = [`${quotedKey} AS ${KEY_COLUMN}`, ...order.map((term, i) => `${quoteIdentifier(term.column)} AS ${orderColumn(i)}`)].join(', ');
  const orderBy = [...order.map((term) => `${quoteIdentifier(term.column)}${term.descending ? ' DESC' : ''}`), quotedKey].join(', ');
  const limitSql = limit ? ` LIMIT ${'value' in limit ? limit.value : '?'}` : '';
  return {
    table,
    primaryKey,
    order,
    limit,
    whereParams: where?.params ?? 0,
    fullSql: `SELECT ${selected}, ${hidden} FROM ${quotedTable}${where ? ` WHERE ${where.text}` : ''} ORDER BY ${orderBy}${limitSql}`,
    keyedSql: `SELECT ${selected}, ${hidden} FROM ${quotedTable} WHERE ${quotedKey} IN (SELECT value FROM json_each(?))${where ? ` AND (${where.text})` : ''}`,
  };

  /** `*`, or plain column names each with an optional alias, as SQL text; undefined for anything else. */
  function selectList(items: Token[]): string | undefined {
    if (items.length === 1 && items[0]!.text === '*') return '*';
    const parts: string[] = [];
    for (const item of splitByComma(items)) {
      const [name, as, alias, extra] = item;
      if (!isName(name)) return undefined;
      if (as) {
        // `column AS alias` or `column alias`, nothing after
        const [aliasToken, rest] = isWord(as, 'AS') ? [alias, extra] : [as, alias];
        if (!isName(aliasToken) || rest) return undefined;
      }
      parts.push(sql.slice(name.start, item.at(-1)!.end));
    }
    return parts.length > 0 ? parts.join(', ') : undefined;
  }
}

function isWord(token: Token | undefined, word: string): boolean {
  return token?.kind === 'word' && token.value === word;
}

/** A bare or quoted name (a column, an alias). */
function isName(token: Token | undefined): token is Token {
  return token?.kind === 'word' || token?.kind === 'quoted';
}

/** The schema's table a FROM names (bare or quoted, in any case), if that is all it names. */
function tableName(token: Token, schema: SyncSchema): string | undefined {
  if (token.kind !== 'word' && token.kind !== 'quoted') return undefined;
  const name = token.kind === 'quoted' ? token.value : token.text;
  return schema.tableNames.find((table) => table.toLowerCase() === name.toLowerCase());
}

function splitByComma(tokens: Token[]): Token[][] {
  const parts: Token[][] = [[]];
  for (const token of tokens) {
    if (token.depth === 0 && token.kind === 'punct' && token.text === ',') parts.push([]);
    else parts.at(-1)!.push(token);
  }
  return parts.some((part) => part.length === 0) ? [[]] : parts;
}

/** `column [ASC|DESC]` over a column of the table; undefined for anything else (expressions, NULLS FIRST, aliases). */
function orderTerm(term: Token[], columns: readonly string[]): OrderTerm | undefined {
  const [name, direction, extra] = term;
  if (!name || extra || !(name.kind === 'word' || name.kind === 'quoted')) return undefined;
  const written = name.kind === 'quoted' ? name.value : name.text;
  const column = columns.find((c) => c.toLowerCase() === written.toLowerCase());
  if (!column) return undefined;
  if (direction && !isWord(direction, 'ASC') && !isWord(direction, 'DESC')) return undefined;
  return { column, descending: isWord(direction, 'DESC') };
}
