import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { createDemoSecret, DEMO_LISTS, demoListsSchema, demoRoutes, demoRules, seedDemo, type DemoUser } from '../../../src/server/demo.js';
import { createSqliteStore, createSyncServer, type ServerLimits, type SyncServer, type SyncStore } from '../../../src/server/index.js';
import { serveStatic } from '../../../src/server/static-files.js';
import { watchPage } from './chromium.js';

const ROOT = resolve(__dirname, '../../..');

/**
 * Builds the browser bundles and the demo page from the current sources into a temporary directory
 * (what `npm run build` puts in dist/browser and dist/web), so the specs never test a stale build.
 */
export function buildDemo(): { webRoot: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'rxsync-web-'));
  const steps: string[][] = [
    ['scripts/build-browser.mjs', '--outdir', join(dir, 'browser')],
    ['scripts/build-demo.mjs', '--browser-dir', join(dir, 'browser'), '--outdir', join(dir, 'web')],
  ];
  for (const args of steps) {
    const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`node ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
  }
  return { webRoot: join(dir, 'web'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What the server did, counted at its store: how many snapshots it opened and chunks it read. */
export interface ServerCounts {
  snapshots: number;
  chunks: number;
}

/** alice's own list, where the specs' todos go unless they say otherwise. */
export const ALICE_LIST = DEMO_LISTS.groceries.id;

/**
 * The demo server as `rxsync serve --demo` runs it (the demo schema and per-user rules, tokens
 * signed with its secret and handed out at POST /demo/token, the page at /, the sync endpoint at
 * /api/sync) on 127.0.0.1, over a fresh SQLite file, with the store wrapped to count snapshots.
 * `stop()` and `start()` restart it on the SAME port over the SAME file and secret (a server that
 * went away). It starts empty: `seedLists()` adds the demo's lists, `seedDemo()` its todos too.
 */
export class DemoServer {
  server!: SyncServer;
  port = 0;
  readonly counts: ServerCounts = { snapshots: 0, chunks: 0 };
  readonly dir = mkdtempSync(join(tmpdir(), 'rxsync-browser-db-'));
  readonly database = join(this.dir, 'sync.db');
  /** The demo's secret; `rxsync serve --demo` makes a new one at every start, this one only at `restartWithNewSecret`. */
  private secret = createDemoSecret();

  private constructor(
    private readonly webRoot: string,
    private readonly limits: Partial<ServerLimits>,
  ) {}

  static async start(webRoot: string, options: { limits?: Partial<ServerLimits> } = {}): Promise<DemoServer> {
    const demo = new DemoServer(webRoot, options.limits ?? {});
    await demo.start();
    return demo;
  }

  /** http://127.0.0.1:PORT/ */
  get pageUrl(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  async start(): Promise<void> {
    this.server = await createSyncServer({
      schema: demoListsSchema,
      rules: demoRules,
      jwt: { secret: this.secret },
      host: '127.0.0.1',
      port: this.port,
      store: countingStore(createSqliteStore({ schema: demoListsSchema, database: this.database }), this.counts),
      limits: this.limits,
      httpHandler: demoRoutes(this.secret, serveStatic(this.webRoot)),
      onError: (error) => process.stderr.write(`[demo server] ${String(error)}\n`),
    });
    this.port = this.server.port;
  }

  /** What `npm start` run again does: the same port and data, a new secret (earlier tokens are refused). */
  async restartWithNewSecret(): Promise<void> {
    await this.stop();
    this.secret = createDemoSecret();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.server.close();
  }

  async close(): Promise<void> {
    await this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The demo's lists: alice's, bob's, and one of alice's shared with bob (no todos). */
  seedLists(): Promise<void> {
    return seedDemo(this.server, { todos: false });
  }

  /** The demo's seed as `npm start` makes it: the lists and their todos. */
  seedDemo(): Promise<void> {
    return seedDemo(this.server);
  }

  /** Inserts a todo (in alice's own list unless `list_id` says otherwise), as the backend would. */
  insertTodo(todo: { id: string; title: string; done?: number; list_id?: string }): Promise<string> {
    return this.server.insert('todos', { list_id: ALICE_LIST, done: 0, updated_at: new Date().toISOString(), ...todo });
  }

  /** Inserts todo rows in transactions of 1000 (a backend import, as far as clients can tell). */
  async seed(count: number, row: (i: number) => Record<string, unknown>): Promise<void> {
    for (let start = 0; start < count; start += 1000) {
      const changes = [];
      for (let i = start; i < Math.min(count, start + 1000); i++) {
        const value = row(i);
        changes.push({ id: `seed-${i}`, table: 'todos', op: 'insert' as const, key: value.id as string, row: value });
      }
      await this.server.store.applyClientWrites('seed-import', changes);
    }
  }

  /** How many times each change id reached the server's log (1 each: applied exactly once). */
  async timesApplied(changeIds: string[]): Promise<number[]> {
    const log = await this.server.store.changesSince('0/0', 1_000_000);
    return changeIds.map((id) => log.filter((change) => change.origin?.changeId === id).length);
  }
}

function countingStore(store: SyncStore, counts: ServerCounts): SyncStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'openSnapshot') {
        return async (...args: Parameters<SyncStore['openSnapshot']>) => {
          counts.snapshots++;
          // Every argument: the caller is whose rows the snapshot holds.
          const reader = await target.openSnapshot(...args);
          return {
            get lsn() {
              return reader.lsn;
            },
            get tables() {
              return reader.tables;
            },
            nextChunk: async () => {
              const chunk = await reader.nextChunk();
              if (chunk) counts.chunks++;
              return chunk;
            },
            close: () => reader.close(),
          };
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Helpers for one demo page. */
export interface DemoPage {
  page: Page;
  errors: string[];
  /** Titles of the todos shown, in list order. */
  titles(): Promise<string[]>;
  /** Waits until the list shows exactly these titles (any order unless `ordered`). */
  waitForTitles(expected: string[], timeoutMs?: number): Promise<void>;
  /** Waits until the status indicator says this status (data-status). */
  waitForStatus(status: string, timeoutMs?: number): Promise<void>;
  /** Waits until the page counts this many todos (the count pill, from a watch on the table). */
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
  waitForPending(n: number, timeoutMs?: number): Promise<void>;
  /** Adds a todo through the form, to the list with this id (default: the one chosen in the form). */
  add(title: string, listId?: string): Promise<void>;
  /** The names of the lists shown, in order, each with its badge ("only you", "shared by alice", ...). */
  lists(): Promise<Array<{ name: string; badge: string }>>;
  toggle(title: string): Promise<void>;
  remove(title: string): Promise<void>;
  /** SQL on the page's local database, through the demo's client. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Events the page received, by type. */
  eventCounts(): Promise<Record<string, number>>;
}

/**
 * Opens the demo in a new page of `context`, signed in as `user` (`?user=`, as the sign-in buttons
 * would) and `query` (more of the demo's parameters, such as `storage=indexeddb`), and waits until
 * its client is attached to the worker.
 */
export async function openDemo(context: BrowserContext, url: string, label = 'page', user: DemoUser = 'alice', query = ''): Promise<DemoPage> {
  const page = await context.newPage();
  const { errors } = watchPage(page, label);
  await page.goto(`${url}?user=${user}${query ? `&${query}` : ''}`);
  await page.waitForFunction(() => Boolean(window.rxsyncDemo?.client), undefined, { timeout: 15_000 });
  const item = (title: string) => page.locator('#todos li', { has: page.locator('.title', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) });
  const demo: DemoPage = {
    page,
    errors,
    titles: () => page.$$eval('#todos li .title', (elements) => elements.map((element) => element.textContent ?? '')),
    async waitForTitles(expected, timeoutMs = 10_000) {
      const want = [...expected].sort();
      try {
        await page.waitForFunction(
          (sorted) => JSON.stringify([...document.querySelectorAll('#todos li .title')].map((e) => e.textContent ?? '').sort()) === JSON.stringify(sorted),
          want,
          { timeout: timeoutMs, polling: 50 },
        );
      } catch (error) {
        throw new Error(
          `${label}: expected titles ${JSON.stringify(want)}, the list shows ${JSON.stringify((await demo.titles()).sort())} (${(error as Error).message.split('\n')[0]})`,
          { cause: error },
        );
      }
    },
    async waitForStatus(status, timeoutMs = 10_000) {
      await page.waitForSelector(`#status[data-status="${status}"]`, { timeout: timeoutMs });
    },
    async waitForCount(n, timeoutMs = 10_000) {
      await page.waitForSelector(`#count[data-count="${n}"]`, { timeout: timeoutMs });
    },
    async waitForPending(n, timeoutMs = 10_000) {
      await page.waitForSelector(`#pending[data-pending="${n}"]`, { timeout: timeoutMs });
    },
    async add(title, listId) {
      if (listId) await page.selectOption('#new-list', listId);
      await page.fill('#new-title', title);
      await page.press('#new-title', 'Enter');
    },
    async toggle(title) {
      await item(title).locator('input[type=checkbox]').click();
    },
    async remove(title) {
      await item(title).locator('button.delete').click();
    },
    lists: () =>
      page.$$eval('#todos .list h2', (headings) =>
        headings.map((heading) => ({ name: heading.querySelector('.name')?.textContent ?? '', badge: heading.querySelector('.badge')?.textContent ?? '' })),
      ),
    query: <T>(sql: string) => page.evaluate((text) => window.rxsyncDemo.client!.query(text), sql) as Promise<T[]>,
    eventCounts: () => page.evaluate(() => ({ ...window.rxsyncDemo.eventCounts })),
  };
  return demo;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// `window.rxsyncDemo`, the handle the demo page exposes, is typed in examples/web/app.ts (declare global).
