#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by area (where the code lives)
 * and the top functions by self time.
 *
 *   node bench/cpuprofile-summary.mjs <file.cpuprofile> [--top=25] [--from-ms=N --to-ms=N] [--match=REGEX]
 *
 * --match also lists the inclusive (self + callees) time of every function whose name or file
 * matches REGEX, e.g. --match='applyChunk|decodeFrame|runManyRows'.
 * --from-ms/--to-ms keep only samples in that window (ms since the profile started).
 */
import { readFileSync } from 'node:fs';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpuprofile-summary.mjs <file.cpuprofile> [--top=25] [--from-ms=N --to-ms=N]');
  process.exit(2);
}
const opt = (name, fallback) => Number(rest.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const top = opt('top', 25);
const fromMs = opt('from-ms', 0);
const toMs = opt('to-ms', Infinity);
const match = rest.find((a) => a.startsWith('--match='))?.slice('--match='.length);

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let t = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  const ms = t / 1000;
  if (ms < fromMs || ms > toMs) continue;
  const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
}

function area(frame) {
  const url = frame.url ?? '';
  const name = frame.functionName;
  if (!url) return name.startsWith('(') ? name : `(native) ${name || 'anonymous'}`;
  if (url.includes('wa-sqlite')) return 'wa-sqlite (JS glue + wasm)';
  if (/\.wasm|wasm:\/\//.test(url)) return 'wa-sqlite (JS glue + wasm)';
  if (url.includes('/io-ts/') || url.includes('/fp-ts/')) return 'io-ts / fp-ts';
  if (url.includes('/rxjs/')) return 'rxjs';
  if (url.includes('/ws/')) return 'ws (socket)';
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('rxsync-bench')) return 'rxsync (bundled src + bench)';
  return url.replace(/^.*node_modules\//, '');
}

const areas = new Map();
const fns = new Map();
let total = 0;
for (const [id, ms] of self) {
  const node = byId.get(id);
  const frame = node.callFrame;
  total += ms;
  const a = area(frame);
  areas.set(a, (areas.get(a) ?? 0) + ms);
  const key = `${frame.functionName || '(anonymous)'}  ${(frame.url || '').replace(/^.*\//, '')}:${frame.lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + ms);
}
const print = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [k, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
};
console.log(`${file}: ${total.toFixed(0)} ms sampled${fromMs || toMs !== Infinity ? ` between ${fromMs} and ${toMs} ms` : ''}`);
print('self time by area', areas, 20);
print(`top ${top} functions by self time`, fns, top);

if (match) {
  const re = new RegExp(match);
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n) => `${n.callFrame.functionName || '(anonymous)'}  ${(n.callFrame.url || '').replace(/^.*\//, '')}:${n.callFrame.lineNumber + 1}`;
  const inclusive = new Map();
  for (const [id, ms] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      const key = label(n);
      if (seen.has(key) || !re.test(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  print(`inclusive time of functions matching /${match}/`, inclusive, 40);
}
