import { createPostgresStore } from '../../src/server/store/postgres/postgres-store.js';
import type { SyncStore } from '../../src/server/store/store.js';
import { createAppDatabase, useTestPostgres } from '../support/postgres.js';
import { describeStoreContract } from './store-contract.js';

/** The contract schema's tables as an app would have made them in Postgres. */
const CONTRACT_DDL = `
  CREATE TABLE items (n bigint PRIMARY KEY, label text);
  CREATE TABLE todos (id text PRIMARY KEY, title text, done bigint, score double precision, meta jsonb);`;

const cluster = useTestPostgres();

jest.setTimeout(30_000);

describeStoreContract('Postgres', async ({ schema, retention }) => {
  const database = await createAppDatabase(cluster(), CONTRACT_DDL);
  let store: SyncStore;
  try {
    // Slots are named cluster-wide: one per database.
    store = await createPostgresStore({ schema, retention, connectionString: database.connectionString, slot: database.name, pollMs: 200 });
  } catch (error) {
    await database.drop();
    throw error;
  }
  const close = store.close.bind(store);
  // Closing a store drops its database too: the cluster keeps a bounded number of slots.
  return Object.assign(store, {
    close: async () => {
      await close();
      await database.drop();
    },
  });
});
