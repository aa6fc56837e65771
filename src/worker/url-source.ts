import { releaseProxy, type Remote } from 'comlink';

/** How long the worker waits for a tab's URL function before that try fails. */
const TAB_ANSWER_WAIT_MS = 5000;

/**
 * A tab's URL function (`connect(() => url)`) as the worker holds it: a comlink proxy that the
 * engine asks before every try (a function cannot be cloned into the worker, so it stays in the
 * tab and is called from here). A tab that does not answer within a few seconds fails that try
 * like an unreachable server (the reconnect backoff follows). Once the tab that gave it is gone
 * (or the connection is replaced), the proxy is released and every later try goes to the last URL
 * it answered, so the other tabs' shared connection carries on.
 */
export class TabUrlFunction {
  private last: string | undefined;
  private released = false;

  constructor(
    private readonly source: Remote<() => string | Promise<string>>,
    /** The tab that gave it (its TabSession). */
    readonly owner: unknown,
    private readonly waitMs = TAB_ANSWER_WAIT_MS,
  ) {}

  /** What the engine calls before every try. */
  readonly ask = async (): Promise<string> => {
    if (this.released) {
      if (this.last !== undefined) return this.last;
      throw new Error('the tab that gave the server URL function is gone');
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const url = await Promise.race([
        this.source(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the tab gave no server URL within ${this.waitMs} ms`)), this.waitMs))),
      ]);
      if (typeof url === 'string' && url !== '') this.last = url;
      return url;
    } finally {
      clearTimeout(timer);
    }
  };

  /** Lets go of the tab's function (closes its channel). Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.source[releaseProxy]();
    } catch {
      // already released
    }
  }
}
