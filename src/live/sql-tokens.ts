/**
 * A tokenizer for the SQLite SELECTs that watch() may keep up to date incrementally. It only needs
 * to find the statement's clauses safely: strings, quoted identifiers and comments are single
 * tokens (a keyword inside them is not a keyword), and parentheses carry their depth.
 */
export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'param' | 'punct' | 'other';

export interface Token {
  kind: TokenKind;
  /** The token as written. */
  text: string;
  /** For words: upper-cased; for quoted identifiers: the name inside the quotes. */
  value: string;
  /** Offsets in the SQL text: [start, end). */
  start: number;
  end: number;
  /** Parentheses open around the token (a `(` counts itself, a `)` does not). */
  depth: number;
}

const SPACE = /\s/;
const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

/** The tokens of `sql`, or undefined where it holds something this reader does not know (it then gives up: watch() re-runs). */
export function tokenize(sql: string): Token[] | undefined {
  const tokens: Token[] = [];
  let depth = 0;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value = sql.slice(start, end)) => {
    tokens.push({ kind, text: sql.slice(start, end), value, start, end, depth });
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (SPACE.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) return undefined;
      i = end + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      let inner = '';
      for (;;) {
        if (j >= sql.length) return undefined;
        if (sql[j] === close) {
          if (close !== ']' && sql[j + 1] === close) {
            inner += close;
            j += 2;
            continue;
          }
          break;
        }
        inner += sql[j];
        j++;
      }
      push(c === "'" ? 'string' : 'quoted', i, j + 1, inner);
      i = j + 1;
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && WORD_PART.test(sql[j]!)) j++;
      push('word', i, j, sql.slice(i, j).toUpperCase());
      i = j;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < sql.length && /[0-9A-Za-z_.]/.test(sql[j]!)) j++;
      push('number', i, j);
      i = j;
    } else if (c === '?') {
      // Only plain `?`: numbered and named parameters (?1, :name, @name, $name) are not read here.
      if (/[0-9]/.test(sql[i + 1] ?? '')) return undefined;
      push('param', i, i + 1);
      i++;
    } else if (c === ':' || c === '@' || c === '$') {
      return undefined;
    } else if (c === '(') {
      depth++;
      push('punct', i, i + 1);
      i++;
    } else if (c === ')') {
      depth--;
      if (depth < 0) return undefined;
      push('punct', i, i + 1);
      i++;
    } else if (c === ',' || c === ';' || c === '*' || c === '.') {
      push('punct', i, i + 1);
      i++;
    } else {
      let j = i + 1;
      while (j < sql.length && /[<>=!|&~+\-/%^]/.test(sql[j]!) && !(sql[j] === '-' && sql[j + 1] === '-')) j++;
      push('other', i, j);
      i = j;
    }
  }
  return depth === 0 ? tokens : undefined;
}
