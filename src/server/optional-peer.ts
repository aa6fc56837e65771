import { createRequire } from 'node:module';

/**
 * Loads an optional peer dependency of `rxsync/server` (better-sqlite3 for the embedded store,
 * `ws` for the WebSocket server). They are peers, not dependencies, so that an app that only uses
 * the browser client does not install them (better-sqlite3 compiles native code). A missing one
 * is an error that says what to install and why, instead of ERR_MODULE_NOT_FOUND.
 */
export function loadOptionalPeer<T>(name: string, neededFor: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (error) {
    if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND') throw error;
    throw new MissingPeerError(name, neededFor);
  }
}

export class MissingPeerError extends Error {
  override readonly name = 'MissingPeerError';
  constructor(
    readonly packageName: string,
    neededFor: string,
  ) {
    super(`rxsync: ${neededFor} needs the package ${packageName}, an optional peer dependency of rxsync: npm install ${packageName}`);
  }
}
