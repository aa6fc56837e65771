import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode, type Key, type Lsn, type Row } from '../protocol/index.js';
import { resolveLimits } from './limits.js';
import { Fanout } from './fanout/fanout.js';
import { SyncSession, type SessionHost, type SessionStats } from './session/session.js';
import { openStore, resolveRules, type SyncServerOptions } from './options.js';
import { createJwtVerifier } from './auth/jwt-verifier.js';
import { RoutePlan } from './rules/route-plan.js';
import type { SyncStore } from './store/store.js';

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
  close(): Promise<void>;
}

/**
 * The reference sync server: an HTTP server with `/healthz`, and the sync protocol over WebSocket
 * at `/api/sync` on the same port. Each connection gets a SyncSession; the sessions share one store.
 */
export async function createSyncServer(options: SyncServerOptions): Promise<SyncServer> {
  const limits = resolveLimits(options.limits);
  const onError = options.onError ?? ((error: unknown) => console.error('[rxsync server]', error));
  // Rules and token settings are checked before anything opens: a mistake stops the start.
  const rules = resolveRules(options);
  const verifier = options.jwt && createJwtVerifier(options.jwt);
  const store = await openStore(options, onError);
  if (store.schema.hash !== options.schema.hash) throw new Error('the store was opened with a different schema than the server');
  const sessions = new Set<SyncSession>();
  const byClient = new Map<string, SyncSession>();

  const fanout = new Fanout(store, onError, rules && new RoutePlan(rules, store.schema));
  const host: SessionHost = {
    store,
    fanout,
    limits,
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
    onError: (error) => onError(error),
  };

  const http: Server = createServer((request, response) => {
    handleHttp(request, response).catch((error) => {
      onError(error);
      if (!response.headersSent) response.writeHead(500).end();
    });
  });
  async function handleHttp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') {
      const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
      let health: Record<string, unknown>;
      try {
        health = await store.health();
      } catch (error) {
        // The store's database is unreachable: not healthy, and the reason without any secret.
        response.writeHead(503, headers).end(JSON.stringify({ ok: false, lsn: store.currentLsn(), sessions: sessions.size, error: (error as Error).message }));
        return;
      }
      response.writeHead(200, headers).end(JSON.stringify({ ok: true, lsn: store.currentLsn(), sessions: sessions.size, ...health }));
      return;
    }
    if (options.httpHandler && (await options.httpHandler(request, response))) return;
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  // maxPayload makes `ws` refuse an oversized frame (CloseCode.messageTooBig) before any of it is buffered whole or parsed.
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  http.on('upgrade', (request, socket, head) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== SYNC_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => attach(ws, request));
  });

  const encodedFrames = new WeakMap<object, Buffer>();
  function attach(ws: WebSocket, request: IncomingMessage): void {
    const session = new SyncSession(
      host,
      {
        send: (message, written) => {
          if (ws.readyState !== ws.OPEN) return 0;
          // Encoded once here, so the session can count the frame's bytes until the socket wrote them.
          // A message sent to many sessions (a commit's changes) is encoded once.
          let frame = encodedFrames.get(message);
          if (!frame) encodedFrames.set(message, (frame = Buffer.from(JSON.stringify(message))));
          ws.send(frame, { binary: false }, () => written());
          return frame.length;
        },
        close: (code, reason) => ws.close(code, reason),
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        pause: () => ws.pause(),
        resume: () => ws.resume(),
      },
      request,
    );
    sessions.add(session);
    ws.on('message', (data, isBinary) => session.receive(isBinary ? '' : data.toString(), isBinary));
    ws.on('close', () => {
      sessions.delete(session);
      session.dispose();
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
  const address = http.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;

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
    close() {
      closing ??= (async () => {
        const closed = [...wss.clients].map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
        for (const session of sessions) session.close(CloseCode.goingAway, 'server shutting down');
        // Give clients a moment to answer the close frame (so they see CloseCode.goingAway), then cut the rest.
        await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, 1000).unref?.())]);
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        fanout.close();
        await store.close();
      })();
      return closing;
    },
  };
}
