/**
 * The checked form of a rules file (docs/rules.md): what the parser produces and what the read
 * filter, the write check and the fan-out routing consume. Every table and column named here was
 * checked against the schema, so they may be quoted into SQL; values only ever reach SQL as bound
 * parameters.
 */

/** A literal of the rules language. */
export type Literal = string | number | boolean | null;

/** A claim of the verified token, as `auth.<name>`: `name` is the claim's key in the JWT payload. */
export interface ClaimRef {
  readonly kind: 'claim';
  readonly name: string;
}

export interface ColumnRef {
  readonly kind: 'column';
  /** A column of the table the expression is about (the rule's table, or the subquery's table). */
  readonly column: string;
}

export interface LiteralValue {
  readonly kind: 'literal';
  readonly value: Literal;
}

export type Operand = ColumnRef | ClaimRef | LiteralValue;

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Expr =
  | { readonly kind: 'and'; readonly items: readonly Expr[] }
  | { readonly kind: 'or'; readonly items: readonly Expr[] }
  | { readonly kind: 'not'; readonly item: Expr }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: Operand; readonly right: Operand }
  | { readonly kind: 'is_null'; readonly operand: Operand; readonly negated: boolean }
  /** `operand [NOT] IN (a, b, c)`: the items are literals or claims. */
  | { readonly kind: 'in_list'; readonly operand: Operand; readonly items: readonly Operand[]; readonly negated: boolean }
  /** `operand [NOT] IN (SELECT ...)`: `subquery` indexes `CompiledRules.subqueries`. */
  | { readonly kind: 'in_subquery'; readonly operand: Operand; readonly subquery: number; readonly negated: boolean }
  | { readonly kind: 'const'; readonly value: boolean };

/**
 * `SELECT select FROM table WHERE where`, one level deep (its `where` holds no subquery). Its
 * `where` has at least one top-level conjunct `keyColumn = auth.keyClaim`: that is what makes it
 * one user's set, found through an index (and what the fan-out routes membership changes by).
 */
export interface Subquery {
  readonly id: number;
  readonly table: string;
  readonly select: string;
  readonly where: Expr;
  readonly keyColumn: string;
  readonly keyClaim: string;
}

/** A stream: the rows of `table` for which `where` is true are synced to the user. */
export interface StreamRule {
  readonly name: string;
  readonly table: string;
  readonly where: Expr;
}

/** What a user may write to one table; a missing operation is refused. */
export interface WriteRule {
  readonly table: string;
  readonly insert?: Expr;
  /** Checked against the row before and the row after: both must pass. */
  readonly update?: Expr;
  readonly delete?: Expr;
}

export interface CompiledRules {
  readonly streams: readonly StreamRule[];
  readonly writes: ReadonlyMap<string, WriteRule>;
  readonly subqueries: readonly Subquery[];
  /** Every claim name any rule reads (sorted): a session's set depends on these and nothing else. */
  readonly claims: readonly string[];
  /** A stable hash of the rules' meaning (whitespace and key order do not change it). */
  readonly hash: string;
}
