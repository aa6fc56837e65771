/**
 * bench/rxdb-initial-sync: the peer engine RxDB (open core, 17.x) doing the initial sync of the same
 * 100,000-row table that bench/initial-sync.ts gives rxsync, through RxDB's WebSocket replication.
 *
 *   node bench/run.mjs rxdb-initial-sync [--rows=100000] [--runs=3] [--batch-size=5000]
 *                                        [--sweep] [--no-default] [--validate]
 *
 * - Server: RxDB's `startWebsocketServer` in its own process (bench/rxdb-server.ts, forked), on an
 *   RxDatabase with the memory storage, seeded with the rows of bench/fixtures.ts's benchRow()
 *   (bulkInsert, batches of 1000). Schema: bench/rxdb-common.ts (id string pk maxLength 32,
 *   title/body/updated_at strings, n integer, x number, all required). Before the timed runs, one
 *   untimed bare-socket pull warms the server up, as bench/initial-sync.ts does (so client run 1 is
 *   a cold client JIT, as rxsync's is).
 * - Client (this process): per run a fresh RxDatabase on the memory storage (new name, so nothing is
 *   shared with earlier runs), `multiInstance: false`, no dev-mode and no validation plugin, created
 *   and its collection added before the clock starts. The clock runs from calling
 *   `replicateWithWebsocketServer({ live: true, batchSize })` (which opens the socket, like rxsync's
 *   connect()) until `awaitInitialReplication()` resolves; then the collection's count is checked
 *   (not timed) and the replication cancelled and the database removed.
 * - Pull batch size: `--batch-size` (default 5000, RXDB_BATCH_SIZE in bench/rxdb-common.ts), 1000
 *   (printed only) and RxDB's default (100: replicateRxCollection's pullBatchSize when none is given).
 *   `--sweep` tries 250, 500, 1000, 2000, 5000, 10000, 20000 and 50000 instead of 1000. On the 2-core
 *   bench machine 2,000–10,000 are within noise of each other (~40k rows/s, client CPU ~2.1–2.5 s);
 *   1,000 is 20–35% slower; 100 is ~8x slower. The cause: the memory storage keeps every index as a
 *   sorted array and merges each written batch into a fresh copy of it (memory-helper.js
 *   bulkInsertToState/mergeSortedArrays), so a sync costs ~rows²/batchSize, on the client's
 *   collection and on its replication meta instance alike.
 * - `--validate` adds runs whose client storage is wrapped in RxDB's (free) ajv validation, so each
 *   pulled document is checked against the schema, as rxsync checks each value it applies. Without
 *   it (the recorded figures, RxDB's usual production setup) RxDB checks nothing.
 * - Server + socket only: a bare `ws` client sends the replication's `masterChangesSince` requests one
 *   after the other (as RxDB's client does) and JSON.parses the answers, applying nothing.
 * - CPU: the client's (process.cpuUsage) and the server process's (asked over IPC) per sync.
 * - Every figure is the MEDIAN of `--runs` runs (default 3); best and every run are shown beside it.
 *   The process runs with --expose-gc (bench/run.mjs) and collects garbage before each run.
 *
 * Records `initialSync.{ rxdbRowsPerSec, rxdbDefaultBatchRowsPerSec, rxdbBatchSize }` in
 * bench/results.json (bench/results.ts). The last line of output is the JSON it recorded.
 */
import { loadavg } from 'node:os';
import WebSocket from 'ws';
import { replicateWithWebsocketServer } from 'rxdb/plugins/replication-websocket';
import { TABLE } from './fixtures.js';
import { option } from './cli-options.js';
import { recordAndPrint } from './record-and-print.js';
import { runMain } from './run-main.js';
import { createItemsDatabase, RXDB_BATCH_SIZE, type ItemDoc, type RxdbServer, quietRxdb, silenced, startRxdbServer } from './rxdb-common.js';
import { median, rate } from './stats.js';
import { fmtMs, fmtRate, table } from './text-table.js';

const ROWS = Number(option('rows') ?? 100_000);
const RUNS = Math.max(1, Number(option('runs') ?? 3));
const BATCH_SIZE = Number(option('batch-size') ?? RXDB_BATCH_SIZE);
/** Also measured (printed, not recorded): the batch size the issue first proposed. */
const ALSO_BATCH = 1000;
const SWEEP = option('sweep') !== undefined;
const VALIDATE = option('validate') !== undefined;
const WITH_DEFAULT = option('no-default') === undefined;
/** replicateRxCollection's pull/push batch size when none is given (rxdb/plugins/replication). */
const RXDB_DEFAULT_BATCH = 100;
const TIMEOUT_MS = 120_000;

const now = () => performance.now();

interface Run {
  ms: number;
  firstRowMs: number;
  cpuMs: number;
  serverCpuMs: number;
}

/**
 * RxDB's server + socket alone: a bare `ws` client speaks the websocket replication's pull protocol
 * (`masterChangesSince` requests, one at a time, each after the previous answer, as RxDB's client
 * does), JSON.parses every answer and keeps nothing. Also warms the server up before the timed runs.
 */
async function transportRun(url: string, batchSize: number): Promise<{ ms: number; rows: number; bytes: number }> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const started = now();
  let rows = 0;
  let bytes = 0;
  let checkpoint: unknown = null;
  for (let n = 0; ; n++) {
    const id = `bare|${n}`;
    const answer = new Promise<{ documents: unknown[]; checkpoint: unknown }>((resolve) => {
      const onMessage = (data: Buffer) => {
        bytes += data.length;
        const message = JSON.parse(data.toString()) as { id: string; result: { documents: unknown[]; checkpoint: unknown } };
        if (message.id !== id) return;
        socket.off('message', onMessage);
        resolve(message.result);
      };
      socket.on('message', onMessage);
    });
    socket.send(JSON.stringify({ id, collection: TABLE, method: 'masterChangesSince', params: [checkpoint, batchSize] }));
    const result = await answer;
    if (result.documents.length === 0) break;
    rows += result.documents.length;
    checkpoint = result.checkpoint;
  }
  const ms = now() - started;
  socket.close();
  return { ms, rows, bytes };
}

let runCounter = 0;

async function clientRun(server: RxdbServer, batchSize: number | undefined, validate = false): Promise<Run> {
  const url = server.url;
  const run = runCounter++;
  (globalThis as { gc?: () => void }).gc?.();
  const db = await createItemsDatabase(`rxdbbenchclient${process.pid}x${run}`, { validate });
  const collection = db[TABLE];
  let firstRowMs = NaN;
  const errors: unknown[] = [];
  const serverCpuBefore = await server.cpuMs();
  const cpuBefore = process.cpuUsage();
  const started = now();
  const replication = await replicateWithWebsocketServer<ItemDoc, unknown>({
    collection,
    url,
    replicationIdentifier: `rxdb-bench-${process.pid}-${run}`,
    live: true,
    ...(batchSize !== undefined && { batchSize }),
  });
  const subs = [
    replication.received$.subscribe(() => {
      if (Number.isNaN(firstRowMs)) firstRowMs = now() - started;
    }),
    replication.error$.subscribe((error) => errors.push(error)),
  ];
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    replication.awaitInitialReplication(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`initial replication took over ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  const ms = now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpuMs = (await server.cpuMs()) - serverCpuBefore;
  const count = await collection.count().exec();
  subs.forEach((s) => s.unsubscribe());
  await replication.cancel();
  await db.remove();
  if (errors.length) throw new Error(`replication errors: ${String(errors[0])}`);
  if (count !== ROWS) throw new Error(`the client holds ${count} rows after awaitInitialReplication(), not ${ROWS}`);
  return { ms, firstRowMs, cpuMs: (cpu.user + cpu.system) / 1000, serverCpuMs };
}

async function main(): Promise<void> {
  quietRxdb();
  const started = now();
  const loadBefore = loadavg()[0];
  const server = await startRxdbServer(ROWS, 'rxdb-initial-sync');
  try {
    console.log(`rxdb server: seeded ${server.rows.toLocaleString('en-US')} rows in ${fmtMs(server.seedMs)}, ${server.url}`);
    if (server.rows !== ROWS) throw new Error(`the server holds ${server.rows} rows`);
    // Warm the server up (a long-running server is warm): one bare-socket pull, not timed.
    const warm = await transportRun(server.url, BATCH_SIZE);
    console.log(`warm-up bare-socket pull (not counted): ${fmtMs(warm.ms)}, ${warm.rows} rows, ${(warm.bytes / 1048576).toFixed(1)} MB of JSON on the wire`);

    const out: string[][] = [['measurement', 'median', 'best', 'median rows/s', 'runs (ms)', 'client CPU', 'server CPU']];
    const measure = async (label: string, batchSize: number | undefined, validate = false): Promise<number> => {
      const runs: Run[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await clientRun(server, batchSize, validate);
        runs.push(r);
        console.log(
          `${label} run ${i + 1}: ${fmtMs(r.ms)} (${fmtRate(rate(ROWS, r.ms))}), first row after ${fmtMs(r.firstRowMs)}, CPU client ${fmtMs(r.cpuMs)} server ${fmtMs(r.serverCpuMs)}`,
        );
      }
      const times = runs.map((r) => r.ms);
      out.push([
        label,
        fmtMs(median(times)),
        fmtMs(Math.min(...times)),
        fmtRate(rate(ROWS, median(times))),
        times.map((t) => t.toFixed(0)).join(' / '),
        fmtMs(median(runs.map((r) => r.cpuMs))),
        fmtMs(median(runs.map((r) => r.serverCpuMs))),
      ]);
      return rate(ROWS, median(times));
    };

    const rxdbRowsPerSec = await measure(`rxdb: replicate -> awaitInitialReplication, batchSize ${BATCH_SIZE}`, BATCH_SIZE);
    if (VALIDATE) await measure(`rxdb: same, batchSize ${BATCH_SIZE}, client storage wrapped in ajv validation`, BATCH_SIZE, true);
    if (!SWEEP && BATCH_SIZE !== ALSO_BATCH) await measure(`rxdb: same, batchSize ${ALSO_BATCH}`, ALSO_BATCH);
    const rxdbDefaultBatchRowsPerSec = WITH_DEFAULT ? await measure(`rxdb: same, default batchSize (${RXDB_DEFAULT_BATCH})`, undefined) : undefined;
    if (SWEEP) {
      for (const size of [250, 500, 1000, 2000, 5000, 10000, 20000, 50000]) {
        if (size !== BATCH_SIZE) await measure(`rxdb: same, batchSize ${size}`, size);
      }
    }

    const transport: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const run = await transportRun(server.url, BATCH_SIZE);
      if (run.rows !== ROWS) throw new Error(`bare-socket pull got ${run.rows} rows`);
      transport.push(run.ms);
    }
    out.push([
      `server + socket only (bare pull, batchSize ${BATCH_SIZE}, no apply)`,
      fmtMs(median(transport)),
      fmtMs(Math.min(...transport)),
      fmtRate(rate(ROWS, median(transport))),
      transport.map((t) => t.toFixed(0)).join(' / '),
      '',
      '',
    ]);

    console.log('');
    console.log(table(out));
    if (silenced.length) console.log(`\n(silenced ${silenced.length} RxDB websocket-client console lines: ${silenced.slice(0, 4).join(' | ')})`);
    console.log(
      `\ntotal bench time ${((now() - started) / 1000).toFixed(1)} s, load average ${loadBefore.toFixed(2)} -> ${loadavg()[0].toFixed(2)} (other load on the machine skews every figure)\n`,
    );

    const recorded = { rxdbRowsPerSec, ...(rxdbDefaultBatchRowsPerSec !== undefined && { rxdbDefaultBatchRowsPerSec }), rxdbBatchSize: BATCH_SIZE };
    recordAndPrint('rxdb-initial-sync', 'initialSync', recorded, {
      printed: { bench: 'rxdb-initial-sync', rows: ROWS, runs: RUNS, statistic: 'median', ...recorded, node: process.version },
    });
  } finally {
    await server.close();
  }
}

runMain(main);
