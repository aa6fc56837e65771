import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StoreHealth, SyncStore } from '../store/store.js';
import type { ServerMetrics } from './metrics.js';

/** A health check that takes longer is a failed one: a probe (or a scrape) should not hang on a stuck database. */
const HEALTH_TIMEOUT_MS = 2000;

/** What the operations endpoints read. */
export interface OpsState {
  readonly store: Pick<SyncStore, 'health' | 'currentLsn'>;
  readonly metrics: ServerMetrics;
  sessionCount(): number;
  /** The server is draining: it takes no new clients (see SyncServer.drain). */
  isDraining(): boolean;
}

/** `/readyz`'s answer: whether this process should get new clients, and why not. */
type Readiness = { ready: true; health: StoreHealth } | { ready: false; reason: string; health?: StoreHealth };

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/**
 * The operations endpoints (docs/operations.md): `GET /healthz` (the process and its database
 * answer), `/readyz` (send it clients: ready, caught up, not draining) and `/metrics` (Prometheus
 * text). Resolves to false for any other path.
 */
export async function handleOps(state: OpsState, request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
  if (path === '/healthz') await healthz(state, response);
  else if (path === '/readyz') await readyz(state, response);
  else if (path === '/metrics') {
    const text = await state.metrics.scrape();
    response.writeHead(200, { 'content-type': state.metrics.contentType, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : text);
  } else return false;
  return true;
}

async function healthz(state: OpsState, response: ServerResponse): Promise<void> {
  const { store } = state;
  let health: StoreHealth;
  try {
    health = await storeHealth(store);
  } catch (error) {
    // The store's database is unreachable: not healthy, and the reason without any secret.
    response
      .writeHead(503, JSON_HEADERS)
      .end(JSON.stringify({ ok: false, lsn: store.currentLsn(), sessions: state.sessionCount(), error: (error as Error).message }));
    return;
  }
  response.writeHead(200, JSON_HEADERS).end(JSON.stringify({ ok: true, lsn: store.currentLsn(), sessions: state.sessionCount(), ...health }));
}

async function readyz(state: OpsState, response: ServerResponse): Promise<void> {
  const readiness = await readinessOf(state);
  const body = {
    ...readiness.health,
    ready: readiness.ready,
    ...(!readiness.ready && { reason: readiness.reason }),
    lsn: state.store.currentLsn(),
    sessions: state.sessionCount(),
  };
  response.writeHead(readiness.ready ? 200 : 503, JSON_HEADERS).end(JSON.stringify(body));
}

async function readinessOf(state: OpsState): Promise<Readiness> {
  if (state.isDraining()) return { ready: false, reason: 'shutting down' };
  let health: StoreHealth;
  try {
    health = await storeHealth(state.store);
  } catch (error) {
    return { ready: false, reason: `database unreachable: ${(error as Error).message}` };
  }
  // Draining may have begun while the store answered.
  if (state.isDraining()) return { ready: false, reason: 'shutting down', health };
  if (!health.ready) return { ready: false, reason: health.reason ?? 'the store is not ready', health };
  return { ready: true, health };
}

/** Whether `/readyz` answers 200 for this health (undefined: the store did not answer). */
export function isReady(state: Pick<OpsState, 'isDraining'>, health: StoreHealth | undefined): boolean {
  return !state.isDraining() && health?.ready === true;
}

/** The store's health, or a rejection when it fails or takes longer than HEALTH_TIMEOUT_MS. */
export function storeHealth(store: Pick<SyncStore, 'health'>): Promise<StoreHealth> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store did not answer within ${HEALTH_TIMEOUT_MS / 1000} s`)), HEALTH_TIMEOUT_MS);
    timer.unref?.();
  });
  return Promise.race([store.health(), timeout]).finally(() => clearTimeout(timer));
}
