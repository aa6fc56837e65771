import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { SyncSchema } from '../../protocol/index.js';
import type { CompiledRules } from './ast.js';
import { compileRules } from './compile-rules.js';
import { RulesError } from './errors.js';

/**
 * Reads a rules file (YAML, or JSON, which YAML reads too) and compiles it with
 * {@link compileRules}. Every error names the file and the line of the key or value at fault:
 * `rules.yaml:3: streams.my_lists.where: unknown column 'ownr' in table lists (columns: id, name, owner_id)`.
 *
 * @param file the name errors give the file.
 * @throws RulesError for a YAML syntax error (duplicate keys included) or a rules mistake.
 */
export function loadRules(text: string, schema: SyncSchema, file = 'rules.yaml'): CompiledRules {
  const lineCounter = new LineCounter();
  // prettyErrors off: the message is then the bare reason, and the line is ours to add.
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const [syntaxError] = document.errors;
  if (syntaxError) throw new RulesError(syntaxError.message, { file, line: lineCounter.linePos(syntaxError.pos[0]).line });
  const lines = (path: readonly string[], at: 'key' | 'value'): number | undefined => {
    const node = at === 'key' ? keyNode(document, path) : valueNode(document, path);
    return node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  };
  return compileRules(document.toJS(), schema, { file, lines });
}

/** The node of the value at `path`, or the nearest ancestor's key when it is missing. */
function valueNode(document: Document, path: readonly string[]): Node | undefined {
  const node = document.getIn(path, true);
  return isNodeWithRange(node) ? node : keyNode(document, path);
}

/** The key node of the last step of `path` (or of the nearest ancestor that exists). */
function keyNode(document: Document, path: readonly string[]): Node | undefined {
  for (let length = path.length; length > 0; length--) {
    const parent = length === 1 ? document.contents : document.getIn(path.slice(0, length - 1), true);
    if (!isMap(parent)) continue;
    const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === path[length - 1]);
    if (pair && isNodeWithRange(pair.key)) return pair.key;
  }
  return document.contents ?? undefined;
}

function isNodeWithRange(node: unknown): node is Node {
  return typeof node === 'object' && node !== null && 'range' in node && Array.isArray((node as Node).range);
}
