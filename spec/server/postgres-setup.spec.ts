import { Client } from 'pg';
import { defineSchema } from '../../src/protocol/index.js';
import { ensureReplicationSetup } from '../../src/server/store/postgres/setup.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

const schema = defineSchema({
  tables: {
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text' } },
    lists: { primaryKey: 'id', columns: { id: 'text', name: 'text' } },
  },
});

/**
 * Preparing a database to be a sync source, as the least-privileged role a production database
 * grants: LOGIN and REPLICATION, owner of its database and of the synced tables, no superuser.
 */
describe('the Postgres source set-up, against a real PostgreSQL', () => {
  let postgres: TestPostgres;
  let admin: Client;
  const connect = async () => {
    const client = new Client({ connectionString: postgres.connectionString.replace('postgres@', 'app:secret@').replace(/\/postgres$/, '/app') });
    await client.connect();
    return client;
  };
  beforeAll(async () => {
    postgres = await startPostgres();
    admin = new Client({ connectionString: postgres.connectionString });
    await admin.connect();
    await admin.query(`CREATE ROLE app LOGIN REPLICATION PASSWORD 'secret'`);
    await admin.query('CREATE DATABASE app OWNER app');
    const app = await connect();
    await app.query(
      'CREATE TABLE todos (id text PRIMARY KEY, title text); CREATE TABLE lists (id text PRIMARY KEY, name text); CREATE TABLE secrets (id text PRIMARY KEY)',
    );
    await app.end();
  }, 30_000);
  afterAll(async () => {
    await admin?.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots`).catch(() => undefined);
    await admin?.end();
    await postgres?.stop();
  });

  it('creates the rxsync schema, a publication of exactly the synced tables and a pgoutput slot, once, whoever starts at the same time', async () => {
    const clients = await Promise.all([connect(), connect(), connect()]);
    try {
      const results = await Promise.all(clients.map((client) => ensureReplicationSetup(client, schema)));
      expect(results.filter((r) => r.createdSlot)).toHaveLength(1);
      expect(await ensureReplicationSetup(clients[0], schema)).toEqual({ createdSlot: false }); // and again, later
      const [db] = clients;
      const published = await db.query(`SELECT tablename FROM pg_publication_tables WHERE pubname = 'rxsync' ORDER BY tablename`);
      expect(published.rows).toEqual([{ tablename: 'lists' }, { tablename: 'todos' }]); // not `secrets`
      const slots = await db.query(`SELECT slot_name, plugin, slot_type FROM pg_replication_slots`);
      expect(slots.rows).toEqual([{ slot_name: 'rxsync', plugin: 'pgoutput', slot_type: 'logical' }]);
      const state = await db.query(`SELECT slot, stored_lsn FROM rxsync.replication_state`);
      expect(state.rows).toEqual([{ slot: 'rxsync', stored_lsn: '0/0' }]);
      const tables = await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'rxsync' ORDER BY table_name`);
      expect(tables.rows.map((r) => r.table_name)).toEqual(['applied_changes', 'change_log', 'clients', 'replication_state', 'replicator_lease']);
      // Whole old rows in the WAL for the synced tables only: TOAST values and key changes.
      const identity = await db.query(`SELECT relname, relreplident FROM pg_class WHERE relname IN ('todos', 'lists', 'secrets') ORDER BY relname`);
      expect(identity.rows).toEqual([
        { relname: 'lists', relreplident: 'f' },
        { relname: 'secrets', relreplident: 'd' },
        { relname: 'todos', relreplident: 'f' },
      ]);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });

  it('makes the publication match the schema when a table was added to it', async () => {
    const db = await connect();
    try {
      await db.query('CREATE TABLE tags (id text PRIMARY KEY)');
      const wider = defineSchema({ tables: { ...schema.tables, tags: { primaryKey: 'id', columns: { id: 'text' } } } });
      await ensureReplicationSetup(db, wider);
      const published = await db.query(`SELECT tablename FROM pg_publication_tables WHERE pubname = 'rxsync' ORDER BY tablename`);
      expect(published.rows.map((r) => r.tablename)).toEqual(['lists', 'tags', 'todos']);
    } finally {
      await db.end();
    }
  });
});
