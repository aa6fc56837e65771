import { createHook } from 'node:async_hooks';

/**
 * The kinds a leak keeps alive: timers, immediates and sockets (a socket's pending writes and
 * requests go with it). Promises, ticks and write requests come and go by the thousand per
 * cycle; recording them would only slow the spec down.
 */
const TRACKED = new Set(['Timeout', 'Immediate', 'TCPWRAP', 'TCPCONNECTWRAP', 'PIPEWRAP', 'TCPSERVERWRAP']);
/** Frames of the test runner itself (its reporter ticks a status timer while a file runs in-band). */
const RUNNER = /node_modules[\\/](@jest|jest-[a-z-]+)[\\/]/;

/**
 * Records every handle-like async resource (timers, sockets, immediates, ...) created from now on
 * and forgets it when it is destroyed; `alive()` lists those still alive, with where each was
 * created. So a spec can say not just "one more timer than before" but which one, and is not
 * fooled by the runner's own timers. Costly while enabled (an init hook makes Node report every
 * promise too), so a spec enables it for a sample of its work.
 */
export function trackResources() {
  const live = new Map<number, { type: string; createdAt: string }>();
  let recording = true;
  const hook = createHook({
    init(id, type) {
      if (!recording || !TRACKED.has(type)) return;
      const stack = new Error().stack!.split('\n').slice(2);
      if (stack.some((frame) => RUNNER.test(frame))) return;
      live.set(id, {
        type,
        createdAt: stack
          .filter((frame) => !frame.includes('node:internal'))
          .slice(0, 6)
          .join('\n'),
      });
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    alive: () => [...live.values()],
    /** Records nothing new from now on (a spec's own waiting), but still sees releases. */
    freeze: () => void (recording = false),
    stop: () => void hook.disable(),
  };
}

/** `process.getActiveResourcesInfo()` as counts by kind. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
