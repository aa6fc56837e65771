import { RulesError } from './errors.js';

/**
 * The tokens of a WHERE expression (docs/rules.md, Grammar). Words are identifiers and keywords
 * alike: which one a word is depends on where it stands, so the parser decides.
 */
export type Token =
  | { readonly kind: 'word'; readonly text: string; readonly offset: number }
  | { readonly kind: 'string'; readonly text: string; readonly value: string; readonly offset: number }
  | { readonly kind: 'number'; readonly text: string; readonly value: number; readonly offset: number }
  | { readonly kind: 'symbol'; readonly text: string; readonly offset: number }
  | { readonly kind: 'end'; readonly text: ''; readonly offset: number };

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /-?[0-9]+(\.[0-9]+)?/y;
const SPACE = /\s+/y;
// Longest first, so that `<=` is not read as `<` then `=`.
const SYMBOLS = ['<=', '>=', '<>', '!=', '=', '<', '>', '(', ')', ',', '.'];

/** Splits `text` into tokens, ending with one `end` token. Throws a RulesError at a character no token starts with. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    SPACE.lastIndex = at;
    if (SPACE.exec(text)) {
      at = SPACE.lastIndex;
      continue;
    }
    const token = readToken(text, at);
    tokens.push(token);
    at = token.offset + token.text.length;
  }
  tokens.push({ kind: 'end', text: '', offset: text.length });
  return tokens;
}

function readToken(text: string, at: number): Token {
  const char = text[at];
  if (char === "'") return readString(text, at);
  NUMBER.lastIndex = at;
  const number = NUMBER.exec(text);
  if (number) return { kind: 'number', text: number[0], value: readNumber(number[0], at), offset: at };
  WORD.lastIndex = at;
  const word = WORD.exec(text);
  if (word) return { kind: 'word', text: word[0], offset: at };
  const symbol = SYMBOLS.find((s) => text.startsWith(s, at));
  if (symbol) return { kind: 'symbol', text: symbol, offset: at };
  if (char === '"') throw new RulesError(`unexpected '"' at ${at}: strings are written in single quotes ('text')`, { offset: at });
  throw new RulesError(`unexpected character ${JSON.stringify(char)} at ${at}`, { offset: at });
}

/** `'it''s'` is the string `it's`, as in SQL. */
function readString(text: string, start: number): Token {
  let value = '';
  let at = start + 1;
  for (;;) {
    const quote = text.indexOf("'", at);
    if (quote < 0) throw new RulesError(`unterminated string starting at ${start}`, { offset: start });
    value += text.slice(at, quote);
    if (text[quote + 1] !== "'") return { kind: 'string', text: text.slice(start, quote + 1), value, offset: start };
    value += "'";
    at = quote + 2;
  }
}

/** Integers must be exact in a JavaScript number, or the JS and SQL evaluations could differ. */
function readNumber(text: string, at: number): number {
  const value = Number(text);
  const exact = text.includes('.') ? Number.isFinite(value) : Number.isSafeInteger(value);
  if (!exact) throw new RulesError(`number ${text} at ${at} is out of range`, { offset: at });
  return value;
}
