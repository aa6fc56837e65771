import type { Browser, BrowserContext } from 'playwright-core';
import type { ServerLimits } from '../../../src/server/index.js';
import { launchChromium } from './chromium.js';
import { buildDemo, DemoServer } from './demo.js';

export interface DemoFixture {
  readonly browser: Browser;
  /** A fresh demo server (its own database) for each test. */
  readonly server: DemoServer;
  /** A fresh browser profile (its own IndexedDB, its own SharedWorker) for each test. */
  readonly context: BrowserContext;
}

/**
 * The hooks a browser spec needs, registered in the calling `describe`: the demo built and one
 * Chromium for the file; a demo server, seeded by `seed`, and a browser context for each test.
 */
export function useDemoInBrowser(options: { limits?: Partial<ServerLimits>; seed?: (server: DemoServer) => Promise<void> } = {}): DemoFixture {
  let build: ReturnType<typeof buildDemo>;
  let browser: Browser;
  let server: DemoServer;
  let context: BrowserContext;
  beforeAll(async () => {
    build = buildDemo();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    build?.remove();
  });
  beforeEach(async () => {
    server = await DemoServer.start(build.webRoot, { limits: options.limits });
    await options.seed?.(server);
    context = await browser.newContext();
  });
  afterEach(async () => {
    await context?.close();
    await server?.close();
  });
  return {
    get browser() {
      return browser;
    },
    get server() {
      return server;
    },
    get context() {
      return context;
    },
  };
}
