/**
 * Counts and times the calls on OPFS sync access handles in this worker: each is one file operation
 * of SQLite's VFS (AccessHandlePoolVFS maps xRead, xWrite, xSync, xTruncate, xFileSize onto read,
 * write, flush, truncate, getSize). The call counts do not depend on the machine's load, where the
 * timings do: they say what a setting changes (flushes per commit, pages written twice), and the
 * time per call what that is worth here. Installed on the prototype at the first use, for the rest of
 * the worker's life; bench/browser-opfs-pragmas.ts asks for it, bench/browser-initial-sync.ts not.
 */
const METHODS = ['read', 'write', 'flush', 'truncate', 'getSize'] as const;

export type OpfsIo = Record<(typeof METHODS)[number], { calls: number; ms: number }>;

let io: OpfsIo | undefined;

function install(): OpfsIo {
  const counts = Object.fromEntries(METHODS.map((m) => [m, { calls: 0, ms: 0 }])) as OpfsIo;
  const proto = (globalThis as unknown as { FileSystemSyncAccessHandle: { prototype: Record<string, (...args: unknown[]) => unknown> } })
    .FileSystemSyncAccessHandle.prototype;
  for (const method of METHODS) {
    const original = proto[method];
    proto[method] = function (this: unknown, ...args: unknown[]) {
      const t0 = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        counts[method].calls++;
        counts[method].ms += performance.now() - t0;
      }
    };
  }
  return counts;
}

/** Starts counting from zero; the returned function gives the counts since (ms rounded). */
export function countOpfsIo(): () => OpfsIo {
  io ??= install();
  const counts = io;
  for (const method of METHODS) counts[method] = { calls: 0, ms: 0 };
  return () => Object.fromEntries(METHODS.map((m) => [m, { calls: counts[m].calls, ms: Math.round(counts[m].ms) }])) as OpfsIo;
}
