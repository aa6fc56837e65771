/** The per-user rules language of the sync server (docs/rules.md): what `rxsync/server` exposes of it. */
export type * from './ast.js';
export { RulesError, type RulesErrorLocation } from './errors.js';
export { compileRules, type RulesSource } from './compile-rules.js';
export { loadRules } from './load-rules.js';
