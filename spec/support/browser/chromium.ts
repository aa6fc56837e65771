import { existsSync } from 'node:fs';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';

/**
 * Real Chromium for the browser specs: Debian's package (`apt-get install -y chromium`), driven by
 * playwright-core (no browser download). CHROMIUM_PATH picks another binary (and only that one).
 */
const CANDIDATES = process.env.CHROMIUM_PATH
  ? [process.env.CHROMIUM_PATH]
  : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome'];
export const chromiumPath: string | undefined = CANDIDATES.find((path): path is string => Boolean(path) && existsSync(path!));

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * `describe` for specs that need Chromium. Without one the specs fail with what to do, rather
 * than being skipped: a green run must mean the browser specs ran. `npm test -- --selectProjects
 * node jsdom` leaves them out on purpose.
 */
export function describeInBrowser(name: string, body: () => void): void {
  // Here rather than in the jest config: `testTimeout` is ignored in a config used as a project.
  jest.setTimeout(30_000);
  if (chromiumPath) {
    describe(name, body);
    return;
  }
  const looked = CANDIDATES.filter(Boolean).join(', ');
  describe(name, () => {
    it('needs Chromium', () => {
      throw new Error(
        `no Chromium found (looked at ${looked}): install it (apt-get install -y chromium) or set CHROMIUM_PATH; ` +
          'npm test -- --selectProjects node jsdom runs the rest without it',
      );
    });
  });
}

/**
 * Launches headless Chromium. Playwright gives every launch a fresh user-data directory (removed on
 * close), and each `browser.newContext()` is a fresh, isolated profile: its own IndexedDB, its own
 * SharedWorker. The specs use one context per simulated user.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, timeout: 20_000 });
}

/** Collects what a page reports, so that a spec can fail on an uncaught error in it. */
export function watchPage(page: Page, label = 'page'): { errors: string[] } {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`${label}: ${error.message}`));
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error') errors.push(`${label} console: ${message.text()}`);
    if (process.env.RXSYNC_BROWSER_LOG) process.stderr.write(`[${label}] ${message.type()}: ${message.text()}\n`);
  });
  return { errors };
}
