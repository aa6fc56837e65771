#!/usr/bin/env node
/**
 * Reads bench/results.json (every bench records its section there), works out the ratios that
 * span two benches (rxsync against RxDB's best setting), prints one table of figures against the
 * goals of the benchmark issue, and draws docs/benchmarks.svg with vega-lite (rendered headless by
 * vega: no canvas, no browser).
 *
 *   node bench/report.mjs            # table + chart
 *   node bench/report.mjs --no-chart # table only
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { table } from './markdown-table.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const resultsFile = join(root, 'bench', 'results.json');
const chartFile = join(root, 'docs', 'benchmarks.svg');

const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
const { initialSync = {}, latency = {}, fanout = {}, memory = {}, browser = {}, liveQueries = {} } = results;

// ---- ratios across benches -------------------------------------------------------------------

// RxDB's best setting is whichever of its two measured batch sizes was faster in this run.
const rxdbBest = Math.max(initialSync.rxdbRowsPerSec ?? 0, initialSync.rxdbDefaultBatchRowsPerSec ?? 0) || undefined;
if (initialSync.rowsPerSec && rxdbBest) {
  initialSync.ratioToRxdb = round(initialSync.rowsPerSec / rxdbBest, 2);
  results.initialSync = initialSync;
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
}

// ---- the table -------------------------------------------------------------------------------

const rows = [['figure', 'rxsync', 'baseline', 'reading', 'goal', 'met']];
const add = (figure, value, baseline, reading, goal, met) =>
  rows.push([figure, value ?? 'n/a', baseline ?? '', reading ?? '', goal ?? '', value === undefined || met === undefined ? '' : met ? 'yes' : 'NO']);
const rate = (n) => (n === undefined ? undefined : `${Math.round(n).toLocaleString('en-US')} rows/s`);
const ms = (n) => (n === undefined ? undefined : `${n.toFixed(2)} ms`);
const p = (pair) => (pair ? `${ms(pair.p50)} / ${ms(pair.p99)}` : undefined);

add(
  'initial sync, 100k rows (Node)',
  rate(initialSync.rowsPerSec),
  `raw wa-sqlite ${rate(initialSync.rawInsertRowsPerSec) ?? 'n/a'}`,
  initialSync.ratioToRaw && `${initialSync.ratioToRaw.toFixed(2)} of raw`,
  '>= 0.6 of raw',
  initialSync.ratioToRaw && initialSync.ratioToRaw >= 0.6,
);
add(
  'initial sync vs RxDB',
  rate(initialSync.rowsPerSec),
  `RxDB best (batchSize ${initialSync.rxdbBatchSize ?? '?'}) ${rate(rxdbBest) ?? 'n/a'} (default batch ${rate(initialSync.rxdbDefaultBatchRowsPerSec) ?? 'n/a'})`,
  initialSync.ratioToRxdb && `${initialSync.ratioToRxdb.toFixed(1)}x RxDB`,
  '>= 3x RxDB',
  initialSync.ratioToRxdb && initialSync.ratioToRxdb >= 3,
);
const live = latency.rxsync ?? {};
const rxdbLive = latency.rxdb ?? {};
add(
  'live: server write -> applied, idle (p50 / p99)',
  p(live.idle?.applied),
  `RxDB ${p(rxdbLive.idle) ?? 'n/a'}`,
  '',
  'p99 <= 5 ms',
  live.idle && live.idle.applied.p99 <= 5,
);
add('live: server write -> watch(), idle', p(live.idle?.watch), '', '', 'p99 <= 5 ms', live.idle && live.idle.watch.p99 <= 5);
add(
  'live: -> applied, 5,000 changes/s load',
  p(live.underLoad?.applied),
  `RxDB ${p(rxdbLive.underLoad) ?? 'n/a'}`,
  '',
  'p99 <= 25 ms',
  live.underLoad && live.underLoad.applied.p99 <= 25,
);
add('live: -> watch(), 5,000 changes/s load', p(live.underLoad?.watch), '', '', 'p99 <= 25 ms', live.underLoad && live.underLoad.watch.p99 <= 25);
add('client write -> push_result', p(live.roundTrip), `RxDB ${p(rxdbLive.roundTrip) ?? 'n/a'}`, '', '', undefined);
add(
  `fan-out: ${fanout.sessions ?? '?'} sessions, ${fanout.changesPerSec ?? '?'} changes/s`,
  fanout.deliveryP99Ms === undefined ? undefined : `p50 ${ms(fanout.deliveryP50Ms)} / p99 ${ms(fanout.deliveryP99Ms)}`,
  '',
  fanout.serverRssPerSessionKB === undefined ? '' : `${fanout.serverRssPerSessionKB} KB RSS per session`,
  'p99 <= 100 ms',
  fanout.deliveryP99Ms !== undefined && fanout.deliveryP99Ms <= 100,
);
const twoWatches = liveQueries.fold;
add(
  `two watches (top 20, whole table) on ${liveQueries.rows?.toLocaleString('en-US') ?? '?'} rows, ${liveQueries.rate ?? '?'} writes/s`,
  twoWatches && `top ${p(twoWatches.top)}, whole ${p(twoWatches.whole)}`,
  liveQueries.rerun && `run again: top ${p(liveQueries.rerun.top)}, whole ${p(liveQueries.rerun.whole)}`,
  '',
  'both p99 <= 10 ms',
  twoWatches && twoWatches.top.p99 <= 10 && twoWatches.whole.p99 <= 10,
);
const heapGrowth = memory.rows100k && memory.rows1M ? memory.rows1M.peakHeapMB / memory.rows100k.peakHeapMB : undefined;
add(
  'client memory, 100k -> 1M rows',
  memory.rows1M && `heap ${memory.rows100k.peakHeapMB} -> ${memory.rows1M.peakHeapMB} MB, RSS ${memory.rows100k.peakRssMB} -> ${memory.rows1M.peakRssMB} MB`,
  memory.rows1M && `database ${memory.rows100k.dbMB} -> ${memory.rows1M.dbMB} MB`,
  heapGrowth && `heap x${heapGrowth.toFixed(2)} for 10x rows`,
  'heap flat (x < 1.5)',
  heapGrowth !== undefined && heapGrowth < 1.5,
);
// Chromium (issue 15): the OPFS client against the IndexedDB one of the same run, and against
// direct inserts into OPFS. Results from before OPFS was measured have no `opfs` object: n/a.
const opfs = typeof browser.opfs === 'object' ? browser.opfs : {};
add(
  'Chromium initial sync, 100k rows: OPFS vs IndexedDB',
  rate(opfs.rowsPerSec),
  `IndexedDB (${browser.vfs ?? 'IDBBatchAtomicVFS'}) ${rate(browser.rowsPerSec) ?? 'n/a'}`,
  opfs.ratioToIndexedDb && `${opfs.ratioToIndexedDb.toFixed(2)}x IndexedDB`,
  '>= 2x IndexedDB',
  opfs.ratioToIndexedDb && opfs.ratioToIndexedDb >= 2,
);
add(
  'Chromium initial sync, 100k rows: OPFS vs direct inserts',
  rate(opfs.rowsPerSec),
  `direct inserts into OPFS ${rate(opfs.rawInsertRowsPerSec) ?? 'n/a'}`,
  opfs.ratioToRaw && `${opfs.ratioToRaw.toFixed(2)} of direct`,
  '>= 0.8 of direct',
  opfs.ratioToRaw && opfs.ratioToRaw >= 0.8,
);
add(
  `Chromium initial sync, IndexedDB (${browser.vfs ?? 'IDBBatchAtomicVFS'})`,
  rate(browser.rowsPerSec),
  `direct inserts ${rate(browser.rawInsertRowsPerSec) ?? 'n/a'}`,
  browser.ratioToRaw && `${browser.ratioToRaw.toFixed(2)} of direct`,
  '',
  undefined,
);

console.log(table(rows));
if (results.machine)
  console.log(`\nmachine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGB} GB, node ${results.machine.node}`);

// ---- the chart -------------------------------------------------------------------------------

if (!process.argv.includes('--no-chart')) {
  const throughput = [
    ['Node', 'direct insert (ceiling)', initialSync.rawInsertRowsPerSec],
    ['Node', 'rxsync', initialSync.rowsPerSec],
    ['Node', `RxDB, batchSize ${initialSync.rxdbBatchSize ?? '?'}`, initialSync.rxdbRowsPerSec],
    ['Node', 'RxDB, default batch', initialSync.rxdbDefaultBatchRowsPerSec],
    ['Chromium', 'direct insert (ceiling)', browser.rawInsertRowsPerSec],
    ['Chromium', 'rxsync', browser.rowsPerSec],
  ]
    .filter(([, , v]) => v !== undefined)
    .map(([where, engine, value]) => ({ where, engine, value: Math.round(value) }));
  const latencies = [];
  const pushLatency = (engine, scenario, pair) => {
    if (!pair) return;
    latencies.push({ engine, scenario, stat: 'p50', ms: pair.p50 }, { engine, scenario, stat: 'p99', ms: pair.p99 });
  };
  pushLatency('rxsync', 'server write, idle', live.idle?.applied);
  pushLatency('RxDB', 'server write, idle', rxdbLive.idle);
  pushLatency('rxsync', 'server write, 5k/s load', live.underLoad?.applied);
  pushLatency('RxDB', 'server write, 5k/s load', rxdbLive.underLoad);
  pushLatency('rxsync', 'client write round trip', live.roundTrip);
  pushLatency('RxDB', 'client write round trip', rxdbLive.roundTrip);

  const engineColor = {
    scale: {
      domain: ['direct insert (ceiling)', 'rxsync', `RxDB, batchSize ${initialSync.rxdbBatchSize ?? '?'}`, 'RxDB, default batch'],
      range: ['#9e9e9e', '#1f77b4', '#d62728', '#ff9896'],
    },
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'rxsync benchmarks',
      subtitle: `${results.machine?.cpu ?? ''}, ${results.machine?.cores ?? '?'} cores, node ${results.machine?.node ?? ''}`,
    },
    config: { font: 'sans-serif', view: { stroke: null } },
    resolve: { scale: { color: 'independent' } },
    hconcat: [
      {
        title: 'Initial sync of 100,000 rows (rows/s, higher is better)',
        data: { values: throughput },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          row: {
            field: 'where',
            type: 'nominal',
            title: null,
            sort: ['Node', 'Chromium'],
            header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' },
          },
          y: { field: 'engine', type: 'nominal', title: null, sort: null, axis: { labelLimit: 260 } },
          x: { field: 'value', type: 'quantitative', title: 'rows/s' },
          color: { field: 'engine', type: 'nominal', legend: null, ...engineColor },
        },
        resolve: { scale: { y: 'independent' } },
      },
      {
        title: 'Live latency (ms, lower is better)',
        data: { values: latencies },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          row: {
            field: 'scenario',
            type: 'nominal',
            title: null,
            sort: ['server write, idle', 'server write, 5k/s load', 'client write round trip'],
            header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' },
          },
          y: { field: 'engine', type: 'nominal', title: null },
          yOffset: { field: 'stat', type: 'nominal' },
          x: { field: 'ms', type: 'quantitative', title: 'ms', scale: { type: 'symlog' } },
          color: { field: 'stat', type: 'nominal', title: 'percentile', scale: { range: ['#6baed6', '#08519c'] } },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  writeFileSync(chartFile, await view.toSVG());
  console.log(`chart: ${chartFile}`);
}

function round(n, digits) {
  return Number(n.toFixed(digits));
}
