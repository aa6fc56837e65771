import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer as WebSocketServerClass } from 'ws';
import { loadOptionalPeer } from './optional-peer.js';
import { CloseCode, type Key, type Lsn, type Row } from '../protocol/index.js';
import { resolveLimits } from './limits.js';
import { Fanout } from './fanout/fanout.js';
import { SyncSession, type SessionHost, type SessionStats } from './session/session.js';
import { openStore, resolveRules, type SyncServerOptions } from './options.js';
import { createJwtVerifier } from './auth/jwt-verifier.js';
import { RoutePlan } from './rules/route-plan.js';
import type { SyncStore } from './store/store.js';
import { ServerMetrics } from './ops/metrics.js';
import { handleOps, isReady, storeHealth, type OpsState } from './ops/routes.js';
import { ReadinessWatch } from './ops/readiness-watch.js';
import { wsTransport } from './ws-transport.js';

export const SYNC_PATH = '/api/sync';

export interface SyncServer {
  /** ws://HOST:PORT/api/sync */
  readonly url: string;
  readonly port: number;
  readonly store: SyncStore;
  /** Sessions currently connected. */
  readonly sessionCount: number;
  /** What each connected session holds right now (buffered bytes, messages in flight and queued). */
  sessionStats(): SessionStats[];
  insert(table: string, row: Row): Promise<Lsn>;
  update(table: string, key: Key, patch: Row): Promise<Lsn>;
  delete(table: string, key: Key): Promise<Lsn>;
  query<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  currentLsn(): Lsn;
  /**
   * Stops for a process that takes over (a deploy, SIGTERM; docs/operations.md): no new clients
   * (a WebSocket upgrade answers 503, `/readyz` 503 "shutting down"); each session handles the
   * messages it has read (a push gets its push_result) and closes with CloseCode.serviceRestart
   * (1012: reconnect at once, elsewhere); then the store closes. Sessions still busy after
   * `timeoutMs` (default 10 s) are closed anyway. Resolves once everything is closed.
   */
  drain(options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Stops the server: as drain(), but clients are told CloseCode.goingAway (1001: the server is
   * gone, retry with backoff) and busy sessions are waited for at most 2 s. After drain(), the same.
   */
  close(): Promise<void>;
}

const DRAIN_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 2000;
/** How long closed clients get to answer the close frame (so they see its code) before their sockets are cut. */
const CLOSE_HANDSHAKE_MS = 1000;

/**
 * The reference sync server: an HTTP server with `/healthz`, `/readyz` and `/metrics`, and the
 * sync protocol over WebSocket at `/api/sync` on the same port. Each connection gets a
 * SyncSession; the sessions share one store.
 */
export async function createSyncServer(options: SyncServerOptions): Promise<SyncServer> {
  const limits = resolveLimits(options.limits);
  const { logger: log } = options;
  // With a logger, failures are logged; onError (a library user's) hears them too; with neither, the console.
  const onError = (error: unknown, context?: Record<string, unknown>): void => {
    log?.error({ err: error, ...context }, 'server error');
    if (options.onError) options.onError(error);
    else if (!log) console.error('[rxsync server]', error);
  };
  // Rules and token settings are checked before anything opens: a mistake stops the start.
  const rules = resolveRules(options);
  const verifier = options.jwt && createJwtVerifier(options.jwt);
  const store = await openStore(options, onError);
  if (store.schema.hash !== options.schema.hash) throw new Error('the store was opened with a different schema than the server');
  const sessions = new Set<SyncSession>();
  const byClient = new Map<string, SyncSession>();
  /** Set once drain() or close() began: how sessions are closed, and that no new ones are taken. */
  let stopping: { code: number; reason: string } | undefined;

  const ops: OpsState = {
    store,
    metrics: new ServerMetrics({
      sessionCount: () => sessions.size,
      health: () => storeHealth(store).catch(() => undefined),
      isReady: (health) => isReady(ops, health),
      processMetrics: options.processMetrics,
    }),
    sessionCount: () => sessions.size,
    isDraining: () => stopping !== undefined,
  };
  const { metrics } = ops;
  const fanout = new Fanout(store, onError, rules && new RoutePlan(rules, store.schema));
  const readiness = new ReadinessWatch(store, {
    closeAfterMs: options.closeSessionsWhenNotReadyMs ?? 10_000,
    onLost(reason) {
      log?.warn({ reason, sessions: sessions.size }, 'the store is not ready: closing sessions for their clients to reconnect elsewhere');
      for (const session of sessions) session.close(CloseCode.serviceRestart, 'this server lost its database: reconnect elsewhere');
    },
    onBack: () => log?.info('the store is ready again: taking clients'),
  });
  const host: SessionHost = {
    store,
    fanout,
    limits,
    metrics,
    authenticate: options.authenticate as SessionHost['authenticate'],
    ...(verifier && { verifier }),
    ...(rules && { rules }),
    claimClient(clientId, session) {
      const previous = byClient.get(clientId);
      byClient.set(clientId, session);
      if (previous && previous !== session) previous.close(CloseCode.replaced, 'replaced by a newer connection of this client');
    },
    releaseClient(clientId, session) {
      if (byClient.get(clientId) === session) byClient.delete(clientId);
    },
    onError: (error, session) => onError(error, { sessionId: session.id, clientId: session.clientId }),
  };

  const http: Server = createServer((request, response) => {
    handleHttp(request, response).catch((error) => {
      onError(error);
      if (!response.headersSent) response.writeHead(500).end();
    });
  });
  async function handleHttp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (await handleOps(ops, request, response, path)) return;
    if (options.httpHandler && (await options.httpHandler(request, response))) return;
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  // maxPayload makes `ws` refuse an oversized frame (CloseCode.messageTooBig) before any of it is buffered whole or parsed.
  const { WebSocketServer } = loadOptionalPeer<{ WebSocketServer: typeof WebSocketServerClass }>('ws', 'the sync server');
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  http.on('upgrade', (request, socket, head) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== SYNC_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (stopping || readiness.isLost) {
      // Draining, or the store lost: the client tries its next server (or this URL again, behind a load balancer).
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => attach(ws, request, socket));
  });

  function attach(ws: WebSocket, request: IncomingMessage, socket: Duplex): void {
    if (stopping) {
      // The upgrade began before the drain did.
      ws.close(stopping.code, stopping.reason);
      return;
    }
    const transport = wsTransport(ws, socket, (message, bytes) => metrics.messageOut(message, bytes));
    const session = new SyncSession(host, transport, request);
    sessions.add(session);
    log?.debug({ sessionId: session.id }, 'session opened');
    ws.on('message', (data, isBinary) => session.receive(isBinary ? '' : data.toString(), isBinary, byteLength(data)));
    ws.on('close', (code) => {
      sessions.delete(session);
      session.dispose();
      // Never the token nor the claims: the session and client ids, and how it ended.
      log?.debug({ sessionId: session.id, clientId: session.clientId, code }, 'session closed');
    });
    ws.on('error', () => {
      // A protocol-level socket error (e.g. an oversized frame) is followed by 'close'; nothing else to do.
    });
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  readiness.start();
  const address = http.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  /**
   * drain() and close(): new clients are refused, every session handles what it has read and
   * closes with `code`, those still busy after `timeoutMs` are closed anyway, and then the
   * sockets, the HTTP server and the store.
   */
  async function stop(code: number, reason: string, timeoutMs: number): Promise<void> {
    stopping = { code, reason };
    readiness.close();
    log?.info({ sessions: sessions.size, code }, 'draining: new connections refused');
    const closed = [...wss.clients].map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
    // Frames that reached the sockets in the same turn as the signal are read first: a push sent
    // just before it is still answered here rather than resent elsewhere.
    await new Promise((resolve) => setTimeout(resolve, 0)); // not setImmediate: a server may run in jsdom (specs)
    const busy = [...sessions];
    if (!(await within(Promise.all(busy.map((session) => session.drain(code, reason))), timeoutMs))) {
      log?.warn({ sessions: busy.filter((session) => !session.isClosed).length, timeoutMs }, 'sessions still busy after the drain timeout: closing them');
    }
    for (const session of sessions) session.close(code, reason);
    await within(Promise.all(closed), CLOSE_HANDSHAKE_MS);
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    log?.info({ sessions: busy.length }, 'sessions closed');
    fanout.close();
    await store.close();
    log?.info('store closed');
  }
  let stopped: Promise<void> | undefined;

  return {
    url: `ws://${urlHost}:${address.port}${SYNC_PATH}`,
    port: address.port,
    store,
    get sessionCount() {
      return sessions.size;
    },
    sessionStats: () => [...sessions].map((session) => session.stats),
    insert: (table, row) => store.write({ op: 'insert', table, row }),
    update: (table, key, patch) => store.write({ op: 'update', table, key, patch }),
    delete: (table, key) => store.write({ op: 'delete', table, key }),
    query: (sql, params) => store.query(sql, params),
    currentLsn: () => store.currentLsn(),
    drain({ timeoutMs = DRAIN_TIMEOUT_MS } = {}) {
      return (stopped ??= stop(CloseCode.serviceRestart, 'server restarting: reconnect', timeoutMs));
    },
    close() {
      return (stopped ??= stop(CloseCode.goingAway, 'server shutting down', CLOSE_TIMEOUT_MS));
    },
  };
}

/** Whether `promise` settled within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The size of a frame as `ws` hands it over. */
function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}
