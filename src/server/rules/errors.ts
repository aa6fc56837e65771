/**
 * The one error class of the rules language (docs/rules.md). A rules file is checked once, when the
 * server starts, so every mistake is reported with where it is: the file and line, the path of the
 * key, and for a WHERE expression the offset within it.
 */

/** Where a rules error is, as far as it is known. */
export interface RulesErrorLocation {
  /** The file the rules came from (`rules.yaml`). */
  readonly file?: string;
  /** 1-based line in `file` of the key or value at fault. */
  readonly line?: number;
  /** The key at fault, dotted: `streams.my_lists.where`. */
  readonly path?: string;
  /** 0-based offset within a WHERE expression of the token at fault. */
  readonly offset?: number;
}

/**
 * A rules file or expression that cannot be compiled. `message` is the whole sentence a user reads
 * (`rules.yaml:3: streams.my_lists.where: unknown column 'ownr' in table lists (columns: ...)`);
 * `reason` is the part after the location, for callers that place it themselves.
 */
export class RulesError extends Error {
  override readonly name = 'RulesError';
  readonly code = 'invalid_rules';
  readonly reason: string;
  readonly file?: string;
  readonly line?: number;
  readonly path?: string;
  readonly offset?: number;

  constructor(reason: string, location: RulesErrorLocation = {}) {
    super(formatLocation(location) + reason);
    this.reason = reason;
    this.file = location.file;
    this.line = location.line;
    this.path = location.path;
    this.offset = location.offset;
  }

  /** The same error, placed at a key of a rules file (the offset within the expression is kept). */
  at(location: Omit<RulesErrorLocation, 'offset'>): RulesError {
    return new RulesError(this.reason, { ...location, offset: this.offset });
  }
}

/** `file:line: path: `; the offset is already part of an expression error's reason. */
function formatLocation({ file, line, path }: RulesErrorLocation): string {
  let prefix = '';
  if (file !== undefined) prefix += line === undefined ? `${file}: ` : `${file}:${line}: `;
  if (path !== undefined && path !== '') prefix += `${path}: `;
  return prefix;
}
