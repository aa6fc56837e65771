/**
 * The tab's side of an OPFS database (see opfs-broker.ts and opfs-holder.ts): it starts this tab's
 * candidate holder, offers it to the SharedWorker's broker, and gives the endpoints the engine is
 * at: one at first, and a new one each time the engine moves to another holder.
 *
 * No engine code: this runs in the page.
 */
import { releaseProxy, transfer, wrap, type Endpoint } from 'comlink';
import { from, switchMap, type Observable } from 'rxjs';
import { fromRemote } from './observable-bridge.js';
import { checkVersion, unwrap } from './remote-client.js';
import type { TabApi } from './types.js';
import type { TabHandshake } from './tab-api.js';

export interface OpfsEngineLink {
  /** Ports served by the database's holder, a new one each time a new holder comes up. */
  readonly endpoints$: Observable<Endpoint>;
  /** Lets go of the broker and ends this tab's candidate (a holder hands over to another tab's). */
  close(): void;
}

/**
 * `broker`: this tab's port to the SharedWorker; `candidate`: this tab's dedicated worker of
 * rxsync's script.
 */
export async function linkToOpfsEngine(broker: Endpoint, candidate: Worker, database: string, workerUrl: string | undefined): Promise<OpfsEngineLink> {
  const remote = wrap<TabApi & TabHandshake>(broker);
  const close = () => {
    try {
      remote[releaseProxy]();
    } catch {
      // already released
    }
    candidate.terminate();
  };
  try {
    await checkVersion(remote, workerUrl);
    const { port1, port2 } = new MessageChannel();
    candidate.postMessage({ rxsyncOpfs: database }, [port1]);
    await unwrap(remote.offerHolder(database, transfer(port2, [port2])));
  } catch (error) {
    close();
    throw error;
  }
  const holders$ = fromRemote<number>(
    (observer) => unwrap(remote.subscribe('holders', [database], observer)),
    (id) => unwrap(remote.unsubscribe(id)),
  );
  return { endpoints$: holders$.pipe(switchMap(() => from(unwrap(remote.holderPort(database))))), close };
}
