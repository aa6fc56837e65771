import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncServer, type SyncServer } from '../../src/server/index.js';
import { contentTypeOf, demoHttpHandler, resolveInside, serveStatic } from '../../src/server/static-files.js';
import { testSchema } from '../support/test-schema.js';

/** A raw GET: fetch() would normalise `..` and `%2e%2e` away before they reach the server. */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serveStatic', () => {
  let dir: string;
  let root: string;
  let server: SyncServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rxsync-static-'));
    root = join(dir, 'web');
    mkdirSync(join(root, 'assets'), { recursive: true });
    mkdirSync(join(root, '.git'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>demo</title>');
    writeFileSync(join(root, 'app.js'), 'console.log("app")');
    writeFileSync(join(root, 'style.css'), 'body{}');
    writeFileSync(join(root, 'wa-sqlite-async.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    writeFileSync(join(root, 'assets', 'index.html'), 'nested index');
    writeFileSync(join(root, 'a file.txt'), 'spaced');
    writeFileSync(join(root, '.env'), 'SECRET=1');
    writeFileSync(join(root, '.git', 'config'), 'secret');
    writeFileSync(join(dir, 'secret.txt'), 'outside the root');
    symlinkSync(join(dir, 'secret.txt'), join(root, 'link-out.txt'));
    symlinkSync(join(root, 'app.js'), join(root, 'link-in.js'));
    server = await createSyncServer({ schema: testSchema, port: 0, database: ':memory:', httpHandler: serveStatic(root), onError: () => undefined });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and for a directory, and files with their content types', async () => {
    const index = await get(server.port, '/');
    expect(index).toMatchObject({ status: 200, body: '<!doctype html><title>demo</title>' });
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect((await get(server.port, '/assets/')).body).toBe('nested index');
    expect((await get(server.port, '/assets')).body).toBe('nested index');
    expect((await get(server.port, '/index.html?v=2#x')).status).toBe(200);
    const js = await get(server.port, '/app.js');
    expect(js).toMatchObject({ status: 200, body: 'console.log("app")' });
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await get(server.port, '/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    const wasm = await get(server.port, '/wa-sqlite-async.wasm');
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect(wasm.headers['content-length']).toBe('8');
    expect((await get(server.port, '/a%20file.txt')).body).toBe('spaced');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
  });

  it('maps extensions to content types', () => {
    expect(contentTypeOf('x.MJS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('x.wasm')).toBe('application/wasm');
    expect(contentTypeOf('x.png')).toBe('image/png');
    expect(contentTypeOf('x.bin')).toBe('application/octet-stream');
  });

  it.each([
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/..%2fsecret.txt',
    '/..%5csecret.txt',
    '/assets%5c..%5c..%5csecret.txt',
    '/app.js%00.html',
    '/%E0%A4%A',
    '/.env',
    '/.git/config',
    '/%2egit/config',
    '/link-out.txt',
    '/missing.js',
    '/app.js/',
  ])('refuses %s (404, nothing from outside the root)', async (path) => {
    const response = await get(server.port, path);
    expect(response.status).toBe(404);
    expect(response.body).not.toContain('outside the root');
    expect(response.body).not.toContain('secret');
  });

  it('resolves paths only inside the root', () => {
    expect(resolveInside(root, '/../secret.txt')).toBeUndefined();
    expect(resolveInside(root, '//etc/passwd')).toBeUndefined();
    expect(resolveInside(root, '/link-in.js')?.path).toBe(join(root, 'app.js'));
    expect(resolveInside(root, '/')?.path).toBe(join(root, 'index.html'));
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await get(server.port, '/app.js', {}, 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe(String('console.log("app")'.length));
    expect((await get(server.port, '/app.js', {}, 'POST')).status).toBe(404);
  });

  it('revalidates every time: no-cache with an ETag, 304 when unchanged, 200 after a rebuild', async () => {
    const first = await get(server.port, '/app.js');
    expect(first.headers['cache-control']).toBe('no-cache');
    const etag = first.headers.etag as string;
    expect(etag).toBeTruthy();
    expect(first.headers['last-modified']).toBeTruthy();
    const unchanged = await get(server.port, '/app.js', { 'if-none-match': etag });
    expect(unchanged).toMatchObject({ status: 304, body: '' });
    writeFileSync(join(root, 'app.js'), 'console.log("rebuilt app")');
    utimesSync(join(root, 'app.js'), new Date(), new Date(Date.now() + 5000));
    const rebuilt = await get(server.port, '/app.js', { 'if-none-match': etag });
    expect(rebuilt).toMatchObject({ status: 200, body: 'console.log("rebuilt app")' });
    expect(rebuilt.headers.etag).not.toBe(etag);
  });

  it('keeps /healthz and the 404 of the server', async () => {
    expect((await get(server.port, '/healthz')).status).toBe(200);
    expect((await get(server.port, '/nope')).body).toBe('not found\n');
  });

  it('serves nothing (404) from a root that does not exist, and picks it up once it does', async () => {
    const later = join(dir, 'later');
    const other = await createSyncServer({ schema: testSchema, port: 0, database: ':memory:', httpHandler: serveStatic(later), onError: () => undefined });
    try {
      expect((await get(other.port, '/')).status).toBe(404);
      mkdirSync(later);
      writeFileSync(join(later, 'index.html'), 'built');
      expect((await get(other.port, '/')).body).toBe('built');
    } finally {
      await other.close();
    }
  });

  it("the demo handler serves the engine's worker and wasm from dist/browser when dist/web has no copy (the published package)", async () => {
    const web = join(dir, 'published', 'web');
    const browser = join(dir, 'published', 'browser');
    mkdirSync(web, { recursive: true });
    mkdirSync(browser, { recursive: true });
    writeFileSync(join(web, 'index.html'), '<title>page</title>');
    writeFileSync(join(browser, 'rxsync-worker.js'), 'self.worker = 1;');
    writeFileSync(join(browser, 'wa-sqlite.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    writeFileSync(join(browser, 'rxsync.js'), 'export {};');
    const demo = await createSyncServer({ schema: testSchema, port: 0, database: ':memory:', httpHandler: demoHttpHandler(web), onError: () => undefined });
    try {
      const worker = await get(demo.port, '/rxsync-worker.js');
      expect([worker.status, worker.body]).toEqual([200, 'self.worker = 1;']);
      expect(worker.headers['content-type']).toMatch(/^text\/javascript/);
      const wasm = await get(demo.port, '/wa-sqlite.wasm');
      expect([wasm.status, wasm.headers['content-type']]).toEqual([200, 'application/wasm']);
      // Only the engine's files: the rest of dist/browser is not the page's.
      expect((await get(demo.port, '/rxsync.js')).status).toBe(404);
    } finally {
      await demo.close();
    }
  });

  it('the demo handler explains how to build the page when dist/web is missing', async () => {
    const missing = join(dir, 'not-built');
    const demo = await createSyncServer({ schema: testSchema, port: 0, database: ':memory:', httpHandler: demoHttpHandler(missing), onError: () => undefined });
    try {
      const response = await get(demo.port, '/');
      expect(response.status).toBe(503);
      expect(response.body).toMatch(/npm run build/);
      expect((await get(demo.port, '/app.js')).status).toBe(404);
    } finally {
      await demo.close();
    }
    const built = await createSyncServer({ schema: testSchema, port: 0, database: ':memory:', httpHandler: demoHttpHandler(root), onError: () => undefined });
    try {
      expect((await get(built.port, '/')).body).toContain('<title>demo</title>');
    } finally {
      await built.close();
    }
  });
});
