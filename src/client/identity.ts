import type { Welcome } from '../protocol/index.js';
import type { MetaStore, SqliteDatabase } from '../storage/index.js';
import { newChangeId } from '../changes/change-id.js';
import { readState, writeState } from '../changes/local-schema.js';

/**
 * Who this client is to servers: its id (generated once, kept in the database and in the small
 * IndexedDB store, or the one the app gave) and whether some server has welcomed it before, which
 * is how a server that lost track of it (a new or restored server) is told apart from a first
 * connection.
 */
export class ClientIdentity {
  private value = '';
  private registered = false;

  get id(): string {
    return this.value;
  }

  async load(db: SqliteDatabase, meta: MetaStore | undefined, given?: string): Promise<void> {
    if (given !== undefined) this.value = given;
    else {
      const stored = (await meta?.get<string>('clientId')) ?? (await readState(db, 'client_id'));
      this.value = stored ?? newChangeId();
      await writeState(db, 'client_id', this.value);
      await meta?.set('clientId', this.value);
    }
    this.registered = (await readState(db, 'registered')) === '1';
  }

  /**
   * A server welcomed this client: whether that server did not know it although another had
   * (hello registered it again; its outbox is kept, and the mode, usually reset, re-syncs the
   * data), and the write that remembers a server has welcomed it.
   */
  welcomed(db: SqliteDatabase, welcome: Welcome): { forgotten: boolean; saved: Promise<void> } {
    const forgotten = !welcome.clientKnown && this.registered;
    if (this.registered) return { forgotten, saved: Promise.resolve() };
    this.registered = true;
    return { forgotten, saved: writeState(db, 'registered', '1') };
  }
}
