import type { SyncSchema } from '../../protocol/index.js';
import { isPlainIdentifier } from '../../sql/identifiers.js';
import type { CompiledRules, Expr, StreamRule, Subquery, WriteRule } from './ast.js';
import { checkExpression, checkSubquery, tableList } from './check-expression.js';
import { RulesError } from './errors.js';
import { collectClaims, renumberSubqueries } from './expr-walk.js';
import { parseExpression } from './parse-expression.js';
import { canonicalExpr, rulesHash } from './rules-hash.js';

/** Where the rules came from, so that errors can say `file:line:` (loadRules fills it from YAML). */
export interface RulesSource {
  readonly file?: string;
  /** The 1-based line of the key at `path` (`at: 'key'`) or of its value, if known. */
  readonly lines?: (path: readonly string[], at: 'key' | 'value') => number | undefined;
}

const WRITE_OPERATIONS = ['insert', 'update', 'delete'] as const;

/**
 * Checks a rules definition (docs/rules.md) against the schema and compiles it: the object a
 * rules file holds, `{ streams?: { name: { table, where? } }, writes?: { table: { insert?, update?, delete? } } }`,
 * where a WHERE is a string of the rules language or a boolean (true: every row, false: none).
 *
 * Subqueries get ids in the order they appear; identical ones share an id.
 *
 * @throws RulesError on the first mistake, as `file:line: path.to.key: what is wrong`.
 */
export function compileRules(definition: unknown, schema: SyncSchema, source: RulesSource = {}): CompiledRules {
  return new RulesCompiler(schema, source).compile(definition);
}

class RulesCompiler {
  private readonly subqueries: Subquery[] = [];
  /** A subquery's canonical form to its id: identical subqueries are one set per session. */
  private readonly subqueryIds = new Map<string, number>();

  constructor(
    private readonly schema: SyncSchema,
    private readonly source: RulesSource,
  ) {}

  compile(definition: unknown): CompiledRules {
    const top = this.mapping(definition, [], 'the rules must be a mapping with the keys streams and writes');
    this.onlyKeys(top, [], ['streams', 'writes']);
    const streams = top.streams === undefined ? [] : this.streams(top.streams);
    const writes = top.writes === undefined ? new Map<string, WriteRule>() : this.writes(top.writes);
    const claims = new Set<string>();
    for (const stream of streams) collectClaims(stream.where, claims);
    for (const rule of writes.values()) for (const op of WRITE_OPERATIONS) if (rule[op]) collectClaims(rule[op], claims);
    for (const subquery of this.subqueries) collectClaims(subquery.where, claims);
    return Object.freeze({
      streams: Object.freeze(streams),
      writes,
      subqueries: Object.freeze(this.subqueries),
      claims: Object.freeze([...claims].sort()),
      hash: rulesHash(streams, writes.values(), this.subqueries),
    });
  }

  private streams(value: unknown): StreamRule[] {
    const streams = this.mapping(value, ['streams'], 'must be a mapping of stream names to { table, where }');
    return Object.entries(streams).map(([name, stream]) => {
      const path = ['streams', name];
      if (!isPlainIdentifier(name)) this.fail(path, 'a stream name is a plain identifier (letters, digits and _)', 'key');
      // Names like `constructor` would shadow Object's own keys wherever streams are looked up by name.
      if (name in Object.prototype) this.fail(path, `'${name}' is reserved: name the stream otherwise`, 'key');
      const fields = this.mapping(stream, path, 'a stream must be a mapping { table, where? }');
      this.onlyKeys(fields, path, ['table', 'where']);
      if (fields.table === undefined) this.fail(path, 'a stream needs a table', 'key');
      const table = this.table(fields.table, [...path, 'table'], 'value');
      const where = fields.where === undefined ? { kind: 'const' as const, value: true } : this.where(fields.where, table, [...path, 'where']);
      return Object.freeze({ name, table, where });
    });
  }

  private writes(value: unknown): Map<string, WriteRule> {
    const writes = this.mapping(value, ['writes'], 'must be a mapping of table names to { insert?, update?, delete? }');
    const rules = new Map<string, WriteRule>();
    for (const [table, operations] of Object.entries(writes)) {
      const path = ['writes', table];
      this.table(table, path, 'key');
      const fields = this.mapping(operations, path, 'must be a mapping { insert?, update?, delete? }');
      this.onlyKeys(fields, path, WRITE_OPERATIONS);
      const rule: { -readonly [K in keyof WriteRule]: WriteRule[K] } = { table };
      for (const op of WRITE_OPERATIONS) {
        if (fields[op] === undefined) continue;
        const where = this.where(fields[op], table, [...path, op]);
        // `false` is the same as no rule: refused. Leaving it out keeps one spelling of "never".
        if (!(where.kind === 'const' && !where.value)) rule[op] = where;
      }
      rules.set(table, Object.freeze(rule));
    }
    return rules;
  }

  /** A WHERE: a boolean, or an expression checked against `table` with its subqueries registered. */
  private where(value: unknown, table: string, path: string[]): Expr {
    if (typeof value === 'boolean') return { kind: 'const', value };
    if (typeof value !== 'string') return this.fail(path, 'must be a WHERE expression (a string), true or false');
    return this.located(path, 'value', () => {
      const parsed = parseExpression(value);
      const ids = parsed.subqueries.map((subquery) => {
        const key = checkSubquery(subquery, this.schema);
        return this.register({ table: subquery.table, select: subquery.select, where: subquery.where, ...key });
      });
      checkExpression(parsed.expr, table, this.schema, (index) => parsed.subqueries[index]);
      return renumberSubqueries(parsed.expr, (index) => ids[index]);
    });
  }

  private register(subquery: Omit<Subquery, 'id'>): number {
    const key = JSON.stringify([subquery.table, subquery.select, canonicalExpr(subquery.where, [])]);
    let id = this.subqueryIds.get(key);
    if (id === undefined) {
      id = this.subqueries.length;
      this.subqueryIds.set(key, id);
      this.subqueries.push(Object.freeze({ id, ...subquery }));
    }
    return id;
  }

  private table(value: unknown, path: string[], at: 'key' | 'value'): string {
    if (typeof value !== 'string') return this.fail(path, 'must be a table name');
    if (!Object.hasOwn(this.schema.tables, value)) this.fail(path, `unknown table '${value}' ${tableList(this.schema)}`, at);
    return value;
  }

  private mapping(value: unknown, path: string[], what: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.fail(path, what);
    return value as Record<string, unknown>;
  }

  private onlyKeys(value: Record<string, unknown>, path: string[], allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail([...path, key], `unknown key (expected ${allowed.join(', ')})`, 'key');
    }
  }

  /** Runs a check whose errors know no location yet, and places them at `path`. */
  private located<T>(path: string[], at: 'key' | 'value', check: () => T): T {
    try {
      return check();
    } catch (error) {
      if (error instanceof RulesError) throw error.at(this.location(path, at));
      throw error;
    }
  }

  private fail(path: string[], reason: string, at: 'key' | 'value' = 'value'): never {
    throw new RulesError(reason, this.location(path, at));
  }

  private location(path: string[], at: 'key' | 'value') {
    return { file: this.source.file, line: this.source.lines?.(path, at), path: path.join('.') };
  }
}
