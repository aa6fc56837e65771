import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareLsn } from '../../src/protocol/index.js';
import type { SyncClient } from '../../src/index.js';
import type { SyncServer } from '../../src/server/index.js';
import { startTestServer } from '../support/test-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { freshIndexedDB, testClient } from '../support/test-client.js';

/**
 * The real system under a model-based test: one server on a SQLite file (so it can restart), a
 * fault-injecting proxy in front of it, and clients that each persist in their own IndexedDB (so
 * they can restart). It records what the invariants need: every write the API confirmed, and
 * every LSN each client reported.
 */
export class World {
  server!: SyncServer;
  proxy!: TcpProxy;
  readonly clients: SyncClient[] = [];
  private readonly factories: IDBFactory[] = [];
  /** Unique-key inserts (counters table) whose insert() resolved: each must be on the server once. */
  readonly confirmedUnique: number[] = [];
  /** Per client: LSNs seen on lsn$ since its last reset. */
  readonly lsnTrail: string[][] = [];
  readonly problems: string[] = [];
  /** Per client: its error and disconnect events, for the report of a failing run. */
  readonly journal: string[][] = [];
  faults = 0;
  private dir = '';
  private nextUnique = 1;

  async start(clientCount: number): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'rxsync-model-'));
    await this.startServer();
    this.proxy = await TcpProxy.start(this.server.port);
    for (let i = 0; i < clientCount; i++) {
      this.factories.push(freshIndexedDB());
      this.lsnTrail.push([]);
      this.journal.push([]);
      this.clients.push(await this.openClient(i));
    }
  }

  private async startServer(): Promise<void> {
    this.server = await startTestServer({ database: join(this.dir, 'server.db'), retention: { maxChanges: 1_000_000 } });
  }

  private async openClient(i: number): Promise<SyncClient> {
    const client = testClient({ database: `model-${i}`, indexedDB: this.factories[i], changes: { ackTimeoutMs: 300 } });
    client.lsn$.subscribe((lsn) => {
      const trail = this.lsnTrail[i];
      const last = trail[trail.length - 1];
      if (lsn === '0/0')
        trail.length = 0; // a reset starts the trail again
      else if (last !== undefined && compareLsn(lsn, last) < 0) this.problems.push(`client ${i}: LSN went back from ${last} to ${lsn}`);
      trail.push(lsn);
    });
    client.on('error', (e) => this.journal[i].push(`error ${e.code}: ${e.message}`));
    client.on('disconnected', (e) => this.journal[i].push(`disconnected: ${e.reason}`));
    client.on('connected', (e) => this.journal[i].push(`connected: ${e.mode}`));
    void client.connect(this.proxy.url);
    return client;
  }

  uniqueKey(): number {
    return this.nextUnique++;
  }

  async restartClient(i: number): Promise<void> {
    await this.clients[i].cleanup();
    this.clients[i] = await this.openClient(i);
  }

  async restartServer(): Promise<void> {
    await this.server.close();
    await this.startServer();
    this.proxy.retarget(this.server.port);
  }

  /** Heals every fault and waits until every client is connected, drained and caught up. */
  async settle(timeoutMs = 20_000): Promise<void> {
    this.proxy.up();
    this.proxy.release();
    // Twice: a client may be synced before another's last push reached the server.
    for (let round = 0; round < 2; round++) {
      const results = await Promise.allSettled(this.clients.map((client) => client.whenSynced({ timeoutMs })));
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`client ${i}: ${(r.reason as Error).message}`] : []));
      if (failed.length) throw new Error(`not synced after the faults were healed: ${failed.join('; ')}`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.cleanup()));
    await this.proxy.close();
    await this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
