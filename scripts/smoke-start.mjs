// Smoke test of the README's start command: runs `npm start` (on a free port and a throwaway
// database), waits for it to print its URL and the demo users' tokens, checks /healthz, the page,
// and that the WebSocket endpoint answers a hello with alice's token with a welcome, then stops
// it. Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

const dir = mkdtempSync(join(tmpdir(), 'rxsync-smoke-'));
const child = spawn('npm', ['start', '--', '--db', join(dir, 'demo.db')], {
  env: { ...process.env, PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true,
});
const stop = (code) => {
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
};
const timer = setTimeout(() => {
  console.error('smoke: npm start did not print its URL within 60 s');
  stop(1);
}, 60_000);

let output = '';
child.stdout.on('data', async (data) => {
  output += data;
  const match = output.match(/listening: (ws:\/\/\S+)/);
  // The demo prints a ready token for each user after the URL.
  if (!match || !/token for bob: +ey/.test(output)) return;
  child.stdout.removeAllListeners('data');
  clearTimeout(timer);
  try {
    const url = match[1];
    const health = await fetch(url.replace(/^ws/, 'http').replace(/\/api\/sync$/, '/healthz'));
    const body = await health.json();
    if (health.status !== 200 || body.ok !== true) throw new Error(`/healthz answered ${health.status} ${JSON.stringify(body)}`);
    const page = await fetch(url.replace(/^ws/, 'http').replace(/\/api\/sync$/, '/'));
    if (page.status !== 200 || !/text\/html/.test(page.headers.get('content-type') ?? ''))
      throw new Error(`GET / answered ${page.status} ${page.headers.get('content-type')}`);
    const { demoListsSchema } = await import('../dist/server/demo.js');
    const signIn = await fetch(url.replace(/^ws/, 'http').replace(/\/api\/sync$/, '/demo/token?user=alice'), { method: 'POST' });
    if (signIn.status !== 200) throw new Error(`POST /demo/token?user=alice answered ${signIn.status}`);
    const { token } = await signIn.json();
    const welcome = await new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('error', reject);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: 1, clientId: 'smoke', lsn: '0/0', schemaHash: demoListsSchema.hash, token })));
      ws.on('message', (data) => {
        ws.close();
        resolve(JSON.parse(data.toString()));
      });
    });
    if (welcome.type !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(welcome)}`);
    console.log(`smoke: npm start serves ${url}: /healthz ok (lsn ${body.lsn}), the demo page at /, WebSocket welcome for alice, mode ${welcome.mode}`);
    stop(0);
  } catch (error) {
    console.error('smoke:', error);
    stop(1);
  }
});
child.on('exit', (code) => {
  console.error(`smoke: npm start exited early with ${code}\n${output}`);
  stop(1);
});
