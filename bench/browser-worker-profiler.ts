/**
 * CPU profiles of the dedicated workers a bench page starts from a given script (the OPFS holder,
 * rxsync-worker.js, where rxsync's engine runs when its database is in OPFS), through the Chrome
 * DevTools Protocol. Playwright has no session for a worker, so the page's own CDP session
 * auto-attaches to its workers (not flattened: the messages to a worker go through
 * Target.sendMessageToTarget) and starts V8's sampling profiler (100 µs) in each as soon as it is
 * attached. `stop()` must be called while the workers still live:
 * an OPFS client's cleanup() ends its holder (browser-page.ts calls the page's
 * `rxsyncBenchBeforeCleanup` binding just before, for this). The files read with
 * `node bench/cpuprofile-summary.mjs FILE` (build the bundle with --no-minify for names).
 */
import { writeFileSync } from 'node:fs';
import type { CDPSession, Page } from 'playwright-core';

/** One profiled worker: its script URL, and how to send it a CDP command. */
interface Profiled {
  url: string;
  send(method: string, params?: object): Promise<any>;
}

export class WorkerProfiler {
  private readonly workers = new Map<string, Profiled>();
  private readonly pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  private nextId = 1;

  private constructor(private readonly cdp: CDPSession) {}

  /** Profiles every dedicated worker `page` starts from now on whose script URL contains `urlPart`. */
  static async attach(page: Page, urlPart: string): Promise<WorkerProfiler> {
    const cdp = await page.context().newCDPSession(page);
    const profiler = new WorkerProfiler(cdp);
    cdp.on('Target.receivedMessageFromTarget', ({ message }) => profiler.answer(JSON.parse(message)));
    cdp.on('Target.attachedToTarget', ({ sessionId, targetInfo }) => {
      if (targetInfo.type !== 'worker' || !targetInfo.url.includes(urlPart)) return;
      const worker: Profiled = { url: targetInfo.url, send: (method, params) => profiler.sendTo(sessionId, method, params) };
      profiler.workers.set(sessionId, worker);
      void (async () => {
        await worker.send('Profiler.enable');
        await worker.send('Profiler.setSamplingInterval', { interval: 100 });
        await worker.send('Profiler.start');
      })().catch((error: Error) => console.warn(`cannot profile worker ${targetInfo.url}: ${error.message}`));
    });
    cdp.on('Target.detachedFromTarget', ({ sessionId }) => profiler.workers.delete(sessionId));
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    return profiler;
  }

  private sendTo(sessionId: string, method: string, params: object = {}): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
    });
  }

  private answer(message: { id?: number; result?: unknown; error?: { message: string } }): void {
    const call = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!call) return;
    this.pending.delete(message.id!);
    if (message.error) call.reject(new Error(message.error.message));
    else call.resolve(message.result);
  }

  /** Stops the profiler of every live profiled worker; writes `<prefix>-<n>.cpuprofile` each. */
  async stop(prefix: string): Promise<string[]> {
    const files: string[] = [];
    for (const [sessionId, worker] of this.workers) {
      this.workers.delete(sessionId);
      const { profile } = await worker.send('Profiler.stop');
      const file = `${prefix}-${files.length + 1}.cpuprofile`;
      writeFileSync(file, JSON.stringify(profile));
      files.push(file);
    }
    return files;
  }
}
