export * from './lsn.js';
export * from './schema.js';
export * from './schema-diff.js';
export * from './errors.js';
export * from './messages.js';
export * from './decode.js';
export * from './rows.js';
export { formatDecodeErrors } from './decode-errors.js';
