/**
 * Headless Chromium on one URL with no DevTools client attached (see browser-command-channel.ts
 * for why): started as a process of its own, in a new process group, on a fresh user-data
 * directory (a persistent profile, or `--incognito`). close() stops the whole group (SIGTERM, then
 * SIGKILL after 5 s) and removes the directory.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS } from '../spec/support/browser/chromium.js';

/** What Playwright also passes for a steady page: no throttling of timers or of a renderer it deems in the background. */
const STEADY_PAGE_ARGS = [
  '--disable-background-timer-throttling',
  '--disable-backgrounding-occluded-windows',
  '--disable-renderer-backgrounding',
  '--disable-hang-monitor',
  '--disable-ipc-flooding-protection',
  '--disable-dev-shm-usage',
  '--disable-extensions',
  '--disable-field-trial-config',
  '--no-default-browser-check',
  '--metrics-recording-only',
  '--password-store=basic',
];

export interface BareChromium {
  /** Chromium's last words on stderr (for an error message when the page never answers). */
  stderrTail(): string;
  close(): Promise<void>;
}

export function launchBareChromium(executable: string, url: string, { incognito = false } = {}): BareChromium {
  const userDataDir = mkdtempSync(join(tmpdir(), 'rxsync-bench-profile-'));
  const child = spawn(executable, [...CHROMIUM_ARGS, ...STEADY_PAGE_ARGS, `--user-data-dir=${userDataDir}`, ...(incognito ? ['--incognito'] : []), url], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone already
    }
  };
  return {
    stderrTail: () => stderr,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        signalGroup('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      signalGroup('SIGKILL'); // anything of the group still there (a renderer, a utility process)
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
