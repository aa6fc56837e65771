// A sync client (or a bare database) in a process of its own, for specs that kill it mid-write and
// for a restart that is a real new process. spec/support/node-client-process.ts bundles this file
// (esbuild resolves the TypeScript sources) and drives it over IPC:
//   { id, method: 'create', args: [options] }   createSyncClient({ schema: testSchema, ... })
//   { id, method: 'get', args: [property] }     a property of the client (currentLsn, clientId)
//   { id, method: 'writeLoop', args: [options] } a bare database committing transactions forever
//   { id, method: 'exit' }                      cleans the client up and exits
//   { id, method, args }                        any other client call (connect, insert, query, ...)
// and answers { id, result } or { id, error }. Every client event is forwarded as { event, data };
// each commit of the write loop as { committed }.
import WebSocket from 'ws';
import { createSyncClient } from '../../src/index.js';
import { openDatabase } from '../../src/storage/index.js';
import { testSchema } from './test-schema.js';

let client;

const plain = (value) => JSON.parse(JSON.stringify(value ?? null, (_key, v) => (v instanceof Error ? { name: v.name, message: v.message, code: v.code } : v)));

/**
 * Transactions of `rowsPerTransaction` rows each, the transaction's number written with them in
 * `lsn` (as the client writes a batch's LSN with its rows), until the process is killed.
 */
async function writeLoop({ name, rowsPerTransaction }) {
  const db = await openDatabase({ name });
  await db.exec('CREATE TABLE IF NOT EXISTS rows (tx INTEGER, i INTEGER, v TEXT); CREATE TABLE IF NOT EXISTS lsn (v INTEGER)');
  if (!(await db.get('SELECT v FROM lsn'))) await db.run('INSERT INTO lsn VALUES (0)');
  let { v: tx } = await db.get('SELECT v FROM lsn');
  const filler = 'x'.repeat(100);
  for (;;) {
    tx += 1;
    const rows = Array.from({ length: rowsPerTransaction }, (_, i) => [tx, i, `${tx}:${i}:${filler}`]);
    await db.transaction(async (t) => {
      await t.runMany('INSERT INTO rows VALUES (?, ?, ?)', rows);
      await t.run('UPDATE lsn SET v = ?', [tx]);
    });
    process.send({ committed: tx });
  }
}

process.on('message', async ({ id, method, args = [] }) => {
  try {
    let result = null;
    if (method === 'create') {
      client = createSyncClient({
        schema: testSchema,
        WebSocketCtor: WebSocket,
        reconnect: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 },
        changes: { ackTimeoutMs: 500 },
        ...args[0],
      });
      client.events$.subscribe((e) => process.send({ event: e.type, data: plain(e.data) }));
    } else if (method === 'get') result = client[args[0]];
    else if (method === 'writeLoop') void writeLoop(args[0]).catch((error) => process.send({ id, error: plain(error) }));
    else if (method === 'exit') {
      await client?.cleanup();
      process.send({ id, result: null }, () => process.exit(0));
      return;
    } else result = await client[method](...args);
    process.send({ id, result: plain(result) });
  } catch (error) {
    process.send({ id, error: plain(error) });
  }
});
process.send({ ready: process.pid });
