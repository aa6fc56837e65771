/**
 * A tab's proxy follows an engine that moves: what happens in a browser when the tab whose worker
 * holds an OPFS database closes, and another tab's worker opens the database and takes over
 * (src/worker/opfs-broker.ts). In-process here: two worker cores (the old holder and the new), a
 * database file both open in turn, and a relay between the tab and the old holder that the spec
 * cuts, as a dead worker's port goes silent (no answer, no error, no close event).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from 'comlink';
import { filter, firstValueFrom, Subject } from 'rxjs';
import type { SyncServer } from '../../src/server/index.js';
import { WorkerCore } from '../../src/worker/worker-core.js';
import { connectRemoteClient } from '../../src/worker/remote-client.js';
import type { RemoteSyncClient } from '../../src/worker/types.js';
import { startTestServer } from '../support/test-server.js';
import { testSchema, todo } from '../support/test-schema.js';
import { fastClientOptions, until } from '../support/test-client.js';

/** A port pair with a relay between: `cut()` drops every message from then on, both ways. */
const openPorts: MessagePort[] = [];

function cuttableChannel(): { tabEnd: MessagePort; workerEnd: MessagePort; cut(): void } {
  const tabSide = new MessageChannel();
  const workerSide = new MessageChannel();
  let open = true;
  const relay = (from: MessagePort, to: MessagePort) => {
    from.onmessage = (event) => {
      if (open) to.postMessage(event.data, [...event.ports]);
    };
  };
  openPorts.push(tabSide.port1, tabSide.port2, workerSide.port1, workerSide.port2);
  relay(tabSide.port2, workerSide.port1);
  relay(workerSide.port1, tabSide.port2);
  return {
    tabEnd: tabSide.port1,
    workerEnd: workerSide.port2,
    cut: () => {
      open = false;
    },
  };
}

describe('a tab whose engine moves to another worker', () => {
  let server: SyncServer;
  let dir: string;
  let cores: WorkerCore[];
  let tab: RemoteSyncClient | undefined;

  beforeEach(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'rxsync-moves-'));
    cores = [];
  });
  afterEach(async () => {
    await tab?.cleanup().catch(() => undefined);
    await Promise.all(cores.map((core) => core.close()));
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    // Ports keep Node's event loop alive: the relay's, whose far end died without closing them.
    for (const port of openPorts.splice(0)) port.close();
  });

  function newCore(): WorkerCore {
    const core = new WorkerCore({ defaults: fastClientOptions });
    cores.push(core);
    return core;
  }

  /** A tab attached to database file `name` through a first holder, on a channel the spec can cut. */
  async function attachToOldHolder(name: string) {
    const endpoints$ = new Subject<Endpoint>();
    const oldHolder = newCore();
    const toOld = cuttableChannel();
    oldHolder.serve(toOld.workerEnd);
    const attaching = connectRemoteClient(endpoints$, { schema: testSchema, database: join(dir, name) });
    endpoints$.next(toOld.tabEnd);
    const client = await attaching;
    tab = client;
    return { client, endpoints$, oldHolder, toOld };
  }

  it('attaches to the new one, connects there again, makes the unanswered calls again there, and its watch goes on', async () => {
    for (let i = 0; i < 5; i++) await server.insert('todos', todo(i));
    const { client, endpoints$, oldHolder, toOld } = await attachToOldHolder('moving.db');
    expect(await client.connect(server.url)).toBe(true);
    await client.whenSynced({ timeoutMs: 5000 });
    const seen: string[][] = [];
    const watching = client.watch<{ id: string }>('SELECT id FROM todos ORDER BY id').subscribe((rows) => seen.push(rows.map((row) => row.id)));
    const statuses: string[] = [];
    const statusing = client.status$.subscribe((status) => statuses.push(status));
    await client.insert('todos', { ...todo(100), id: 'before' });
    await client.whenSynced({ timeoutMs: 5000 });

    // The old holder's worker dies: its port goes silent, then its database is let go.
    toOld.cut();
    const during = client.insert('todos', { ...todo(101), id: 'during' });
    const count = client.query<{ n: number }>('SELECT count(*) AS n FROM todos');
    let settled = false;
    void during.finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false); // nobody answers
    await oldHolder.close();
    await until(() => server.sessionCount === 0 || undefined, 5000, 'the old holder to be gone from the server');

    const newHolder = newCore();
    const { port1, port2 } = new MessageChannel();
    openPorts.push(port1, port2);
    newHolder.serve(port1);
    endpoints$.next(port2);

    await during; // made again on the new holder
    // Made again in the order they were made: the five rows, 'before' and 'during'.
    expect(await count).toEqual([{ n: 7 }]);
    await until(() => (statuses.at(-1) === 'live' ? true : undefined), 5000, 'the new holder to connect');
    await server.insert('todos', { ...todo(102), id: 'server-after' });
    await client.insert('todos', { ...todo(103), id: 'after' });
    await client.whenSynced({ timeoutMs: 5000 });

    const ids = [...[0, 1, 2, 3, 4].map((i) => todo(i).id), 'after', 'before', 'during', 'server-after'].sort();
    await until(() => (JSON.stringify(seen.at(-1)) === JSON.stringify(ids) ? true : undefined), 5000, 'the watch to show every row');
    expect((await server.query<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((row) => row.id)).toEqual(ids);
    expect(await client.debug()).toMatchObject({ engines: 1, engineTabs: 1 });
    expect(server.sessionCount).toBe(1);
    watching.unsubscribe();
    statusing.unsubscribe();
  });

  it('stays disconnected where it had disconnected, and its cleanup reaches the new holder', async () => {
    const { client, endpoints$, oldHolder, toOld } = await attachToOldHolder('quiet.db');
    expect(await client.connect(server.url)).toBe(true);
    await client.disconnect();
    toOld.cut();
    await oldHolder.close();

    const newHolder = newCore();
    const { port1, port2 } = new MessageChannel();
    openPorts.push(port1, port2);
    newHolder.serve(port1);
    endpoints$.next(port2);
    await firstValueFrom(client.status$.pipe(filter((status) => status === 'idle' || status === 'disconnected')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await client.currentStatus).not.toMatch(/connecting|live|syncing/);
    expect(server.sessionCount).toBe(0);

    await client.cleanup();
    tab = undefined;
    expect(newHolder.debugInfo()).toMatchObject({ engines: 0, tabs: 0 });
  });
});
