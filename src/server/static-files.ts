import { createReadStream, existsSync, realpathSync, statSync, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A small static file handler for the sync server's `httpHandler` option (the demo page). It serves
 * GET and HEAD under `rootDir` and nothing outside it:
 *
 * - the URL path is decoded once and resolved against the root; a path that leaves the root (`..`,
 *   encoded `%2e%2e`, backslashes, NUL bytes) or reaches a dot file is not served, and a symlink
 *   inside the root that points outside it is not followed;
 * - content types cover what a bundled app needs, `application/wasm` included (browsers refuse
 *   `WebAssembly.instantiateStreaming` without it) and `text/javascript` for module workers;
 * - `cache-control: no-cache` with an ETag: the browser keeps a copy but asks every time, so a
 *   rebuilt bundle is never mixed with a stale worker or wasm file, and unchanged files cost a 304.
 *
 * Returns false (so the server answers 404) for anything it does not serve.
 */
export function serveStatic(rootDir: string, options: { index?: string } = {}): (request: IncomingMessage, response: ServerResponse) => boolean {
  const index = options.index ?? 'index.html';
  let root: string | undefined;
  const realRoot = (): string | undefined => {
    if (root) return root;
    try {
      root = realpathSync(resolve(rootDir));
    } catch {
      return undefined; // not there (yet): serve nothing, look again next time
    }
    return root;
  };

  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const base = realRoot();
    if (!base) return false;
    const file = resolveInside(base, request.url ?? '/', index);
    if (!file) return false;
    sendFile(request, response, file.path, file.stats);
    return true;
  };
}

/** The file a URL names under `root` (already a real path), or undefined when it must not be served. */
export function resolveInside(root: string, url: string, index = 'index.html'): { path: string; stats: Stats } | undefined {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url, 'http://localhost').pathname);
  } catch {
    return undefined; // malformed percent-encoding
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return undefined;
  const parts = pathname.split('/').filter((part) => part !== '' && part !== '.');
  // No `..`, and no dot files or dot directories (.git, .env, ...).
  if (parts.some((part) => part.startsWith('.'))) return undefined;
  let candidate = join(root, ...parts);
  if (!isWithin(root, candidate)) return undefined;
  let stats: Stats;
  try {
    stats = statSync(candidate);
    if (stats.isDirectory()) {
      candidate = join(candidate, index);
      stats = statSync(candidate);
    } else if (pathname.endsWith('/')) {
      return undefined; // `/app.js/` names a directory that is not there
    }
    if (!stats.isFile()) return undefined;
    // A symlink inside the root may point anywhere: serve it only if its target is inside too.
    const real = realpathSync(candidate);
    if (!isWithin(root, real)) return undefined;
    return { path: real, stats };
  } catch {
    return undefined;
  }
}

function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

function sendFile(request: IncomingMessage, response: ServerResponse, path: string, stats: Stats): void {
  const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
  const headers = {
    'content-type': contentTypeOf(path),
    'cache-control': 'no-cache',
    etag,
    'last-modified': stats.mtime.toUTCString(),
    'x-content-type-options': 'nosniff',
  };
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim() === etag)) {
    response.writeHead(304, headers).end();
    return;
  }
  response.writeHead(200, { ...headers, 'content-length': stats.size });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  const stream = createReadStream(path);
  stream.on('error', () => response.destroy());
  stream.pipe(response);
}

/** Where `npm run build` puts the demo page: `dist/web`, next to `dist/server` (this file's directory). */
function demoWebRoot(): string {
  return fileURLToPath(new URL('../web/', import.meta.url));
}

/**
 * The `--demo` HTTP handler: the built demo page from `dist/web` (the engine's worker and wasm from
 * `dist/browser` when dist/web has no copy of them), or, when it was not built, a page at `/` that
 * says how to build it (the sync endpoint works either way).
 */
export function demoHttpHandler(
  rootDir: string = demoWebRoot(),
  browserDir: string = join(rootDir, '..', 'browser'),
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const files = serveStatic(rootDir);
  // The page loads the worker and its wasm next to app.js. The published package leaves the
  // build's copies of them out of dist/web (they are dist/browser's files): serve those instead.
  const engineFiles = serveStatic(browserDir);
  const isEngineFile = (path: string) => /^\/(rxsync-worker\.js(\.map)?|wa-sqlite(-async)?\.wasm)$/.test(path);
  return (request, response) => {
    if (files(request, response)) return true;
    if (isEngineFile(new URL(request.url ?? '/', 'http://localhost').pathname) && engineFiles(request, response)) return true;
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/' || existsSync(join(rootDir, 'index.html'))) return false;
    response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    response.end('The demo page is not built: run `npm run build` (or `node scripts/build-demo.mjs`), then reload.\n');
    return true;
  };
}
