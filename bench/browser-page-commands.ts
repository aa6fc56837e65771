/**
 * The page's side of browser-command-channel.ts: asks the bench for its next command, runs it on
 * `window.rxsyncBench`, posts the outcome, and asks again. Uncaught errors and console errors are
 * posted as they happen. Started by browser-page.ts when the page's URL has `?channel`.
 */
interface Command {
  id: number;
  name: string;
  args: unknown[];
}

const post = (path: string, body: string) => fetch(path, { method: 'POST', body, keepalive: true });

export function serveBenchCommands(commands: Record<string, unknown>): void {
  addEventListener('error', (event) => void post('/bench/error', event.message));
  addEventListener('unhandledrejection', (event) => void post('/bench/error', String((event.reason as Error)?.message ?? event.reason)));
  const consoleError = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    consoleError(...args);
    void post('/bench/error', `console: ${args.map(String).join(' ')}`);
  };
  void (async () => {
    for (;;) {
      let command: Command | null;
      try {
        command = (await (await fetch('/bench/next', { cache: 'no-store' })).json()) as Command | null;
      } catch {
        return; // the bench is gone
      }
      if (!command) continue;
      let outcome: { id: number; result?: unknown; error?: string };
      try {
        const run = commands[command.name];
        if (typeof run !== 'function') throw new Error(`no bench command ${command.name}`);
        outcome = { id: command.id, result: await (run as (...args: unknown[]) => unknown)(...command.args) };
      } catch (error) {
        outcome = { id: command.id, error: (error as Error)?.stack ?? String(error) };
      }
      await post('/bench/result', JSON.stringify(outcome));
    }
  })();
}
