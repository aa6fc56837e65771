import type { ClaimRef, CompareOp, Expr, Operand } from './ast.js';
import { RulesError } from './errors.js';
import { tokenize, type Token } from './tokenize.js';

/**
 * A subquery as written: `SELECT select FROM table WHERE where`. Its `in_subquery` node holds its
 * index in {@link ParsedExpression.subqueries}; compileRules checks it against the schema and gives
 * it its id in the compiled rules.
 */
export interface ParsedSubquery {
  readonly table: string;
  readonly select: string;
  readonly where: Expr;
  /** Offset of its `SELECT` within the expression, for errors. */
  readonly offset: number;
}

export interface ParsedExpression {
  readonly expr: Expr;
  readonly subqueries: readonly ParsedSubquery[];
}

/** Words that are never a column name. */
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'TRUE', 'FALSE', 'SELECT', 'FROM', 'WHERE']);
const COMPARE_OPS: Readonly<Record<string, CompareOp>> = { '=': '=', '!=': '!=', '<>': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/**
 * Parses a WHERE expression of the rules language (docs/rules.md, Grammar) into an {@link Expr}.
 * Only the syntax is checked here: tables, columns and types are compileRules' business.
 *
 * @example parseExpression("owner_id = auth.sub OR shared = 1")
 * @throws RulesError naming what was expected, what was found and its offset: `expected ')' after the IN list, found 'FROM' at 23`.
 */
export function parseExpression(text: string): ParsedExpression {
  const parser = new Parser(tokenize(text));
  const expr = parser.condition();
  parser.expectEnd();
  return { expr, subqueries: parser.subqueries };
}

/** Recursive descent, one method per level of precedence: OR < AND < NOT < a predicate. */
class Parser {
  readonly subqueries: ParsedSubquery[] = [];
  private position = 0;
  /** Set while reading a subquery's WHERE: subqueries are one level deep. */
  private inSubquery = false;

  constructor(private readonly tokens: readonly Token[]) {}

  condition(): Expr {
    const items = [this.conjunction()];
    while (this.acceptKeyword('OR')) items.push(this.conjunction());
    return combine('or', items);
  }

  expectEnd(): void {
    const token = this.peek();
    if (token.kind !== 'end') throw this.unexpected('AND, OR or the end of the expression', token);
  }

  private conjunction(): Expr {
    const items = [this.negation()];
    while (this.acceptKeyword('AND')) items.push(this.negation());
    return combine('and', items);
  }

  private negation(): Expr {
    if (this.acceptKeyword('NOT')) return { kind: 'not', item: this.negation() };
    return this.predicate();
  }

  private predicate(): Expr {
    if (this.acceptSymbol('(')) {
      const inner = this.condition();
      this.expectSymbol(')', 'after the parenthesized condition');
      return inner;
    }
    const token = this.peek();
    // TRUE alone is a whole condition; `TRUE = auth.admin` compares it like any value.
    if (isKeyword(token, 'TRUE') || isKeyword(token, 'FALSE')) {
      if (!this.startsPredicateTail(this.tokens[this.position + 1])) {
        this.position++;
        return { kind: 'const', value: isKeyword(token, 'TRUE') };
      }
    }
    const operand = this.operand('to start a condition');
    return this.predicateTail(operand, token);
  }

  private predicateTail(operand: Operand, start: Token): Expr {
    const token = this.peek();
    if (token.kind === 'symbol' && COMPARE_OPS[token.text]) {
      this.position++;
      return { kind: 'compare', op: COMPARE_OPS[token.text], left: operand, right: this.operand(`after '${token.text}'`) };
    }
    if (this.acceptKeyword('IS')) {
      const negated = this.acceptKeyword('NOT');
      this.expectKeyword('NULL', negated ? "after 'IS NOT'" : "after 'IS'");
      return { kind: 'is_null', operand, negated };
    }
    const negated = this.acceptKeyword('NOT');
    if (this.acceptKeyword('IN')) return this.inTail(operand, negated);
    if (negated) throw this.unexpected("IN after 'NOT'", this.peek());
    throw this.unexpected(`a comparison, IS or IN after '${describeOperand(start, operand)}'`, token);
  }

  /** After `IN`: a list of values, or a subquery. */
  private inTail(operand: Operand, negated: boolean): Expr {
    this.expectSymbol('(', "after 'IN'");
    const first = this.peek();
    if (isKeyword(first, 'SELECT')) {
      const subquery = this.subquery();
      this.expectSymbol(')', 'after the subquery');
      return { kind: 'in_subquery', operand, subquery, negated };
    }
    const items = [this.listItem()];
    while (this.acceptSymbol(',')) items.push(this.listItem());
    this.expectSymbol(')', 'after the IN list');
    return { kind: 'in_list', operand, items, negated };
  }

  private listItem(): Operand {
    const token = this.peek();
    const item = this.operand('in the IN list');
    if (item.kind === 'column')
      throw new RulesError(`an IN list holds values and claims, not columns: found '${token.text}' at ${token.offset}`, { offset: token.offset });
    return item;
  }

  private subquery(): number {
    const select = this.next();
    if (this.inSubquery)
      throw new RulesError(`a subquery cannot contain another subquery: found '${select.text}' at ${select.offset}`, { offset: select.offset });
    const column = this.identifier('a column name after SELECT');
    this.expectKeyword('FROM', `after 'SELECT ${column}'`);
    const table = this.identifier('a table name after FROM');
    this.expectKeyword('WHERE', `after 'FROM ${table}'`);
    this.inSubquery = true;
    const where = this.condition();
    this.inSubquery = false;
    this.subqueries.push({ table, select: column, where, offset: select.offset });
    return this.subqueries.length - 1;
  }

  /** A column, `auth.<claim>`, a string, a number, NULL, TRUE or FALSE. */
  private operand(what: string): Operand {
    const token = this.peek();
    switch (token.kind) {
      case 'string':
      case 'number':
        this.position++;
        return { kind: 'literal', value: token.value };
      case 'word': {
        const upper = token.text.toUpperCase();
        if (upper === 'NULL' || upper === 'TRUE' || upper === 'FALSE') {
          this.position++;
          return { kind: 'literal', value: upper === 'NULL' ? null : upper === 'TRUE' };
        }
        if (KEYWORDS.has(upper)) break;
        this.position++;
        if (upper === 'AUTH') return this.claim(token);
        if (this.peek().text === '.') {
          const dotted = this.dottedName(token.text);
          throw new RulesError(`'${dotted}' at ${token.offset} is not a column or a claim (claims are written auth.<name>)`, { offset: token.offset });
        }
        return { kind: 'column', column: token.text };
      }
    }
    throw this.unexpected(`a column, auth.<claim> or a value ${what}`, token);
  }

  /** After the word `auth`: `.name`, one level deep (ClaimRef holds one key of the JWT payload). */
  private claim(auth: Token): ClaimRef {
    if (!this.acceptSymbol('.')) throw this.unexpected(`'.' and a claim name after 'auth' (claims are written auth.<name>)`, this.peek());
    const nameToken = this.peek();
    if (nameToken.kind !== 'word') throw this.unexpected("a claim name after 'auth.'", nameToken);
    this.position++;
    if (this.peek().text === '.') {
      const dotted = this.dottedName(`${auth.text}.${nameToken.text}`);
      throw new RulesError(`nested claim '${dotted}' at ${auth.offset} is not supported (claims are written auth.<name>)`, { offset: auth.offset });
    }
    return { kind: 'claim', name: nameToken.text };
  }

  /** `a.b.c` read on from its start (already consumed), for an error message. */
  private dottedName(start: string): string {
    let name = start;
    while (this.peek().text === '.' && this.tokens[this.position + 1].kind === 'word') {
      name += '.' + this.tokens[this.position + 1].text;
      this.position += 2;
    }
    return name;
  }

  private identifier(what: string): string {
    const token = this.peek();
    if (token.kind !== 'word' || KEYWORDS.has(token.text.toUpperCase())) throw this.unexpected(what, token);
    this.position++;
    return token.text;
  }

  /** Whether `token`, after a value, continues it into a predicate (so the value is an operand). */
  private startsPredicateTail(token: Token | undefined): boolean {
    if (!token) return false;
    if (token.kind === 'symbol') return COMPARE_OPS[token.text] !== undefined;
    return isKeyword(token, 'IS') || isKeyword(token, 'IN') || isKeyword(token, 'NOT');
  }

  private peek(): Token {
    return this.tokens[this.position];
  }

  private next(): Token {
    return this.tokens[this.position++];
  }

  private acceptKeyword(keyword: string): boolean {
    if (!isKeyword(this.peek(), keyword)) return false;
    this.position++;
    return true;
  }

  private acceptSymbol(symbol: string): boolean {
    const token = this.peek();
    if (token.kind !== 'symbol' || token.text !== symbol) return false;
    this.position++;
    return true;
  }

  private expectKeyword(keyword: string, context: string): void {
    if (!this.acceptKeyword(keyword)) throw this.unexpected(`${keyword} ${context}`, this.peek());
  }

  private expectSymbol(symbol: string, context: string): void {
    if (!this.acceptSymbol(symbol)) throw this.unexpected(`'${symbol}' ${context}`, this.peek());
  }

  private unexpected(expected: string, found: Token): RulesError {
    return new RulesError(`expected ${expected}, found ${describeToken(found)} at ${found.offset}`, { offset: found.offset });
  }
}

function isKeyword(token: Token, keyword: string): boolean {
  return token.kind === 'word' && token.text.toUpperCase() === keyword;
}

function describeToken(token: Token): string {
  return token.kind === 'end' ? 'the end of the expression' : `'${token.text}'`;
}

function describeOperand(start: Token, operand: Operand): string {
  return operand.kind === 'claim' ? `auth.${operand.name}` : start.text;
}

/** `a AND (b AND c)` is `a AND b AND c`: one flat list, so equal meanings compile (and hash) alike. */
function combine(kind: 'and' | 'or', items: Expr[]): Expr {
  if (items.length === 1) return items[0];
  return { kind, items: items.flatMap((item) => (item.kind === kind ? item.items : [item])) };
}
