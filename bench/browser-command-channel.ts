/**
 * How the browser bench drives its page without DevTools attached: the page asks this process for
 * its next command over plain HTTP (a long-polled `GET /bench/next`), runs it
 * (`window.rxsyncBench[name](...args)`) and posts the outcome (`POST /bench/result`). Its uncaught
 * errors come by `POST /bench/error` (browser-page-commands.ts is the page's side).
 *
 * Why not Playwright's page.evaluate: a page under Playwright has the DevTools Network domain on,
 * and Chromium then copies every WebSocket frame's payload to the DevTools client. Measured here
 * (the same page, server and 20 MB of frames): 580-850 ms with Playwright attached against 230-310
 * ms without. The client's snapshot comes over a WebSocket; the raw inserts it is compared with use
 * none, so the instrumentation taxed one side of the ratio only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

interface Command {
  id: number;
  name: string;
  args: unknown[];
}

interface Outcome {
  id: number;
  result?: unknown;
  error?: string;
}

export class CommandChannel {
  readonly errors: string[] = [];
  private nextId = 1;
  private queued: Command[] = [];
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  /** The page's pending `GET /bench/next`, answered when a command comes. */
  private poll: ServerResponse | undefined;
  private closed = false;

  /** Runs `window.rxsyncBench[name](...args)` on the page; resolves with what it returned. */
  call<T>(name: string, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the bench page channel is closed'));
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject }));
    this.queued.push({ id, name, args });
    this.flush();
    return answer;
  }

  /** Serves the channel's paths; false for any other request. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const path = request.url?.split('?')[0];
    if (path === '/bench/next' && request.method === 'GET') {
      this.poll?.end(JSON.stringify(null)); // a page that polls again gives up its earlier poll
      this.poll = response;
      response.setHeader('content-type', 'application/json');
      response.setHeader('cache-control', 'no-store');
      request.on('close', () => {
        if (this.poll === response) this.poll = undefined;
      });
      this.flush();
      return true;
    }
    if ((path === '/bench/result' || path === '/bench/error') && request.method === 'POST') {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        response.end();
        if (path === '/bench/error') this.errors.push(body);
        else this.settle(JSON.parse(body) as Outcome);
      });
      return true;
    }
    return false;
  }

  close(): void {
    this.closed = true;
    this.poll?.end(JSON.stringify(null));
    for (const { reject } of this.waiting.values()) reject(new Error('the bench page channel closed before the page answered'));
    this.waiting.clear();
  }

  private flush(): void {
    if (!this.poll || this.queued.length === 0) return;
    const command = this.queued.shift()!;
    const response = this.poll;
    this.poll = undefined;
    response.end(JSON.stringify(command));
  }

  private settle(outcome: Outcome): void {
    const waiter = this.waiting.get(outcome.id);
    if (!waiter) return;
    this.waiting.delete(outcome.id);
    if (outcome.error !== undefined) waiter.reject(new Error(`on the bench page: ${outcome.error}`));
    else waiter.resolve(outcome.result);
  }
}
