// Smoke test of the README's "Use it from Node": runs `npm start` (on a free port and a throwaway
// database), then
//   1. `node examples/node-client.mjs <url> --once` (alice) must print alice's 4 demo todos and an
//      LSN, none of bob's own, and exit 0;
//   2. `node examples/node-client.mjs <url>` (live, alice) must print a todo that bob, a second
//      client (built from dist/), adds to the list alice shares with him, and exit 0 on SIGINT;
//   3. /healthz must report the server's LSN moved past the first client's.
// Exits non-zero on any failure; the whole run is bounded (see DEADLINE_MS).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', 'node-client.mjs');
const DEADLINE_MS = 60_000; // `npm start` builds first; the checks themselves take a few seconds
/** What alice syncs of the demo's seed; bob's own list holds 'Fix the bike light'. */
const DEMO_TITLES = ['Oat milk', 'Book the train', 'Pack the tent', 'Check the weather'];
const BOB_ONLY = 'Fix the bike light';

const dir = mkdtempSync(join(tmpdir(), 'rxsync-smoke-client-'));
const children = new Set();
const server = spawn('npm', ['start', '--', '--db', join(dir, 'demo.db')], {
  cwd: root,
  env: { ...process.env, PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true,
});
children.add(server);

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
const fail = (message) => {
  console.error(`smoke-client: ${message}`);
  stop(1);
};
setTimeout(() => fail(`not done within ${DEADLINE_MS / 1000} s`), DEADLINE_MS).unref();
server.on('exit', (code) => fail(`npm start exited early with ${code}`));

/** Runs the example; resolves with its exit code and output once it exits. */
function runExample(args, { onStdout } = {}) {
  const child = spawn(process.execPath, [example, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data) => {
    stdout += data;
    onStdout?.(stdout);
  });
  child.stderr.on('data', (data) => (stderr += data));
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, exited };
}

function within(ms, promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out (${ms} ms) waiting for ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

const health = async (url) => (await fetch(url.replace(/^ws/, 'http').replace(/\/api\/sync$/, '/healthz'))).json();

async function check(url) {
  // 1. --once: alice's 4 demo todos (not bob's own) and the LSN.
  const once = await within(15_000, runExample([url, '--once']).exited, 'node examples/node-client.mjs --once');
  if (once.code !== 0) throw new Error(`--once exited ${once.code ?? once.signal}\n${once.stdout}${once.stderr}`);
  const missing = DEMO_TITLES.filter((title) => !once.stdout.includes(title));
  if (missing.length) throw new Error(`--once did not print ${JSON.stringify(missing)}:\n${once.stdout}`);
  if (once.stdout.includes(BOB_ONLY)) throw new Error(`--once (alice) printed bob's todo ${JSON.stringify(BOB_ONLY)}:\n${once.stdout}`);
  const lsn = once.stdout.match(/^lsn ([0-9A-F]+\/[0-9A-F]+)$/m)?.[1];
  if (!lsn || lsn === '0/0') throw new Error(`--once printed no LSN:\n${once.stdout}`);
  const before = await health(url);
  if (before.lsn !== lsn) throw new Error(`the client synced to ${lsn} but /healthz says ${before.lsn}`);

  // 2. live: a second client's insert shows up; SIGINT exits 0.
  let watching;
  let sawInsert;
  const id = `smoke-${process.pid}`;
  const watchingNow = new Promise((resolve) => (watching = resolve));
  const insertSeen = new Promise((resolve) => (sawInsert = resolve));
  const live = runExample([url], {
    onStdout: (text) => {
      if (text.includes('watching for changes')) watching();
      if (text.includes(`+ ${id}`)) sawInsert();
    },
  });
  await within(
    10_000,
    Promise.race([watchingNow, live.exited.then((r) => Promise.reject(new Error(`live client exited ${r.code}\n${r.stdout}${r.stderr}`)))]),
    'the live client to sync',
  );

  const { createSyncClient } = await import('../dist/index.js');
  const { DEMO_LISTS, demoListsSchema } = await import('../dist/server/demo.js');
  const bobsToken = async () =>
    (await (await fetch(url.replace(/^ws/, 'http').replace(/\/api\/sync$/, '/demo/token?user=bob'), { method: 'POST' })).json()).token;
  const writer = createSyncClient({ schema: demoListsSchema, authToken: bobsToken });
  try {
    if (!(await within(5_000, writer.connect(url), 'the second client to connect'))) throw new Error('the second client was not welcomed');
    await writer.insert('todos', { id, list_id: DEMO_LISTS.trip.id, title: 'from the smoke test', done: 0, updated_at: new Date().toISOString() });
    await writer.whenSynced({ timeoutMs: 5_000 });
  } finally {
    await writer.cleanup();
  }
  await within(5_000, insertSeen, `the live client to print the insert of ${id}`);
  live.child.kill('SIGINT');
  const ended = await within(5_000, live.exited, 'the live client to exit on SIGINT');
  if (ended.code !== 0) throw new Error(`the live client exited ${ended.code ?? ended.signal} on SIGINT\n${ended.stderr}`);
  if (/kept the process alive/.test(ended.stderr)) throw new Error(`the live client did not exit by itself after cleanup():\n${ended.stderr}`);

  // 3. the server's LSN moved.
  const after = await health(url);
  if (after.lsn === before.lsn) throw new Error(`/healthz LSN did not move after the insert (${after.lsn})`);
  console.log(
    `smoke-client: node examples/node-client.mjs synced alice's 4 demo todos at ${lsn}, saw bob's live insert in their shared list (server now at ${after.lsn}), exited on SIGINT`,
  );
}

let output = '';
server.stdout.on('data', (data) => {
  output += data;
  const match = output.match(/listening: (ws:\/\/\S+)/);
  if (!match) return;
  server.stdout.removeAllListeners('data');
  server.stdout.resume();
  check(match[1]).then(
    () => stop(0),
    (error) => fail(error.stack ?? error),
  );
});
