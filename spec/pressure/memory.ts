import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
/** A full collection, whether or not jest was started with --expose-gc. */
const collect: () => void = (globalThis as { gc?: () => void }).gc ?? runInNewContext('gc');

/** The process's JS memory after a full collection: the V8 heap and Buffers/ArrayBuffers outside it. */
export async function settledMemory(): Promise<{ heapUsed: number; external: number }> {
  // Two rounds with a turn of the event loop between: finalizers and weak callbacks run in between.
  for (let i = 0; i < 2; i++) {
    collect();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, external } = process.memoryUsage();
  return { heapUsed, external };
}

export const MiB = 1024 * 1024;
export const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/**
 * The in-process client's wa-sqlite module keeps its rows in wasm memory, which counts as
 * `external` and never shrinks. Growth of wasm memories is recorded here (from the first time each
 * one grows after this module loaded), so that a spec can tell the client's rows from what the
 * server holds.
 */
const wasmSeen = new Map<WebAssembly.Memory, number>();
const grow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function (this: WebAssembly.Memory, delta: number) {
  if (!wasmSeen.has(this)) wasmSeen.set(this, this.buffer.byteLength);
  return grow.call(this, delta);
};
export function wasmGrowth(): number {
  let total = 0;
  for (const [memory, initial] of wasmSeen) total += memory.buffer.byteLength - initial;
  return total;
}
