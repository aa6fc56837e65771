/**
 * The object the worker exposes to one tab with comlink ({@link TabApi} and {@link TabHandshake}):
 * the calls a tab makes through the bridge, each answered with an {@link Outcome}, on top of its
 * {@link TabSession} (its engine and its subscriptions, worker-core.ts). Nothing else is reachable
 * from a tab: not the core, not the engine.
 *
 * It also answers for the OPFS broker (opfs-broker.ts), which needs no engine: a tab offers its
 * candidate holder (`offerHolder`), asks for a port to the current holder (`holderPort`) and
 * subscribes to the holders' epochs (the `holders` stream).
 */
import { finalizer, releaseProxy, transfer, wrap, type Remote } from 'comlink';
import type { Observable } from 'rxjs';
import { SYNC_CLIENT_CALLS } from '../client/api.js';
import { VERSION } from '../version.js';
import { serializeError } from './errors.js';
import { isPort, type ObserverPort, type RemoteObserver } from './observable-bridge.js';
import type { Outcome, RemoteStream, TabApi, TabCalls } from './types.js';
import type { TabSession, WorkerCore } from './worker-core.js';

/** The worker's answer to a tab's hello. */
export interface WorkerHello {
  /** The worker's rxsync version (src/version.ts when it was built). */
  version: string;
  /** The worker script's URL, as the worker sees it (for the tab's errors). */
  url: string;
}

/** The version handshake, exposed next to {@link TabApi}: a tab calls it before `attach`. */
export interface TabHandshake {
  hello(tabVersion: string): Promise<Outcome<WorkerHello>>;
}

/** Runs one call for the tab: its value, or its error as data (comlink's own transfer would lose `code`, `context`, ...). */
async function run<T>(body: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await body() };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}

/** The object comlink exposes to the tab of `session`: every method answers an Outcome. */
export function tabApi(session: TabSession, core: WorkerCore): TabApi & TabHandshake & { [finalizer]: () => void } {
  // The client's calls go to this tab's engine as they are, but for the three that act on the
  // sharing: connect joins a running connection, disconnect forgets its url, cleanup detaches the tab.
  const calls = Object.fromEntries(
    SYNC_CLIENT_CALLS.map((name) => [name, (...args: unknown[]) => run(() => (session.engine()[name] as (...a: unknown[]) => unknown)(...args))]),
  ) as unknown as TabCalls;
  return {
    ...calls,
    connect: (url, options = {}) => run(() => session.connect(url, options)),
    disconnect: (reason) => run(() => session.disconnect(reason)),
    hello: (tabVersion) =>
      run(() => {
        session.setTabVersion(String(tabVersion));
        return { version: VERSION, url: (globalThis as { location?: { href?: string } }).location?.href ?? '' };
      }),
    attach: (options, tabId, tokenSource) => run(() => session.attach(options, tabId, tokenSource)),
    clientId: () =>
      run(async () => {
        const engine = session.engine();
        await engine.initialize();
        return engine.clientId;
      }),
    currentStatus: () => run(() => session.engine().currentStatus),
    syncStatus: () => run(() => session.engine().syncStatus),
    currentLsn: () => run(() => session.engine().currentLsn),
    cleanup: () => run(() => session.detach()),
    setAuthToken: (token) => run(() => session.setAuthToken(token)),
    subscribe: (stream, args, observer) => run(() => subscribe(session, core, stream, args, observer)),
    unsubscribe: (id) => run(() => session.unsubscribe(id)),
    debug: () => run(() => core.debugInfo(session)),
    offerHolder: (database, control) => run(() => core.broker.offer(String(database), control)),
    // The port must be transferred, not cloned: comlink transfers what the answer is marked with.
    holderPort: async (database) => {
      const answer = await run(() => core.broker.portToHolder(String(database)));
      return answer.ok ? transfer(answer, [answer.value]) : answer;
    },
    // comlink calls this when the tab releases its proxy (or it is garbage-collected there).
    [finalizer]: () => void session.detach(),
  };
}

/** Starts `stream` for the tab, sent to its observer; answers the subscription's id (for `unsubscribe`). */
function subscribe(
  session: TabSession,
  core: WorkerCore,
  stream: RemoteStream,
  args: unknown[],
  observerOrPort: Remote<RemoteObserver<unknown>> | ObserverPort,
): number {
  const observer = isPort(observerOrPort) ? wrap<RemoteObserver<unknown>>(observerOrPort) : observerOrPort;
  let source$: Observable<unknown>;
  try {
    if (stream === 'holders') return session.pipe(core.broker.holders(String(args[0])), observer);
    const engine = session.engine();
    const sql = String(args[0]);
    const params = (args[1] as unknown[] | undefined) ?? [];
    const streams: Record<Exclude<RemoteStream, 'holders'>, () => Observable<unknown>> = {
      events: () => engine.events$,
      status: () => engine.status$,
      syncStatus: () => engine.syncStatus$,
      lsn: () => engine.lsn$,
      watchPatches: () => engine.watchPatches(sql, params),
      watchChanges: () => engine.watchChangePatches(sql, params),
    };
    if (!Object.hasOwn(streams, stream)) throw new TypeError(`unknown stream ${JSON.stringify(stream)}`);
    source$ = streams[stream as Exclude<RemoteStream, 'holders'>]();
  } catch (error) {
    // The observer's port was transferred to us: close it, or it would stay open on both sides.
    observer[releaseProxy]();
    throw error;
  }
  return session.pipe(source$, observer);
}
