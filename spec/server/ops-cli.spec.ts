import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CloseCode } from '../../src/protocol/index.js';
import { parseServeArgs } from '../../src/server/cli.js';
import { signToken } from '../../src/server/index.js';
import { testSchema } from '../support/test-schema.js';
import { TestPeer } from '../support/test-peer.js';
import { autoAck } from '../support/test-server.js';
import { parseMetrics } from '../support/metrics-text.js';
import { startServerProcess, stopAllServerProcesses, type ServerProcess } from '../support/server-process.js';

const SECRET = 'ops-cli-spec-secret-long-enough-0123456789';

describe('rxsync serve as a process: logs and SIGTERM', () => {
  let dir: string;
  let schemaFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rxsync-ops-cli-'));
    schemaFile = join(dir, 'schema.json');
    writeFileSync(schemaFile, JSON.stringify({ tables: testSchema.tables }));
  });

  afterAll(async () => {
    await stopAllServerProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `rxsync serve` (from source) on a free port with a token secret, and waits for its URL. */
  const startCli = (args: string[], env: Record<string, string> = {}): Promise<ServerProcess> =>
    startServerProcess(['--port', '0', '--schema', schemaFile, '--jwt-secret', SECRET, ...args], { RXSYNC_LOG_LEVEL: '', RXSYNC_JWT_SECRET: '', ...env }, dir);

  /** The JSON log lines of an output: every line but the human ones printed at start. */
  const jsonLines = (output: string) =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: string; time: string; msg: string; [field: string]: unknown });

  it('drains on SIGTERM: the push sent just before it is answered, the client is told 1012, the process exits 0', async () => {
    const db = join(dir, 'sigterm.db');
    const server = await startCli(['--db', db, '--log-level', 'debug']);
    const token = await signToken({ secret: SECRET, claims: { sub: 'alice', email: 'alice@example.com' } });
    const peer = await TestPeer.connect(server.url);
    autoAck(peer);
    peer.hello(testSchema, { clientId: 'sigterm-client', token });
    await peer.next('welcome');
    // The CLI serves the process's metrics too: event-loop lag, CPU, memory.
    const metrics = await fetch(server.url.replace(/^ws/, 'http').replace(/\/api\/sync$/, '/metrics'));
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = parseMetrics(await metrics.text());
    expect(samples.get('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(samples.get('nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
    expect(samples.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samples.get('rxsync_sessions')).toBe(1);
    expect(samples.get('rxsync_messages_received_total{type="hello"}')).toBe(1);
    // A client whose token is refused: its token must not reach the logs either.
    const refusedToken = await signToken({ secret: 'another-secret-that-is-long-enough-0123', claims: { sub: 'mallory' } });
    const refused = await TestPeer.connect(server.url);
    refused.hello(testSchema, { clientId: 'refused-client', token: refusedToken });
    expect(await refused.closed).toBe(CloseCode.unauthorized);

    // The push is on its way (written to the socket) when the signal comes.
    await new Promise<void>((resolve, reject) =>
      peer.ws.send(
        JSON.stringify({
          type: 'push',
          changes: [{ id: 'last', table: 'todos', op: 'insert', key: 'last', row: { id: 'last', title: 'sent before SIGTERM' } }],
        }),
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    server.signal('SIGTERM');

    const { results } = await peer.next('push_result', 10_000);
    expect(results).toEqual([{ id: 'last', status: 'applied', lsn: expect.any(String) }]);
    expect(await peer.closed).toBe(CloseCode.serviceRestart);
    expect(peer.closeReason).toBe('server restarting: reconnect');
    expect(await server.exited).toBe(0);
    // Nothing lost: the row is in the database the process left behind.
    const file = new Database(db, { readonly: true });
    try {
      expect(file.prepare('SELECT id, title FROM todos').all()).toEqual([{ id: 'last', title: 'sent before SIGTERM' }]);
    } finally {
      file.close();
    }

    const output = server.output();
    const logs = jsonLines(output);
    for (const line of logs) {
      expect(typeof line.level).toBe('string');
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
      expect(typeof line.msg).toBe('string');
    }
    const messages = logs.map((line) => line.msg);
    expect(messages[0]).toBe('server started');
    expect(logs[0]).toMatchObject({ level: 'info', url: server.url, store: 'sqlite', role: 'replicator', db });
    expect(logs).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'session closed', clientId: 'sigterm-client', code: CloseCode.serviceRestart }));
    expect(messages).toEqual(expect.arrayContaining(['session opened', 'signal received: draining, clients are told to reconnect elsewhere', 'store closed']));
    expect(messages[messages.length - 1]).toBe('drained: exiting');
    // Human lines first, JSON after: the scripts that read the URL still find it.
    expect(output.split('\n')[0]).toMatch(/^rxsync server listening: ws:\/\//);
    for (const secret of [token, refusedToken, SECRET, 'alice@example.com']) expect(output).not.toContain(secret);
  }, 30_000);

  it('logs only warnings and worse with RXSYNC_LOG_LEVEL=warn', async () => {
    const server = await startCli(['--db', ':memory:'], { RXSYNC_LOG_LEVEL: 'warn' });
    const peer = await TestPeer.connect(server.url);
    peer.hello(testSchema, { clientId: 'quiet-client', token: await signToken({ secret: SECRET, claims: { sub: 'bob' } }) });
    await peer.next('welcome');
    server.signal('SIGTERM');
    expect(await peer.closed).toBe(CloseCode.serviceRestart);
    expect(await server.exited).toBe(0);
    expect(jsonLines(server.output())).toEqual([]);
    expect(server.output()).toMatch(/^rxsync server listening: ws:\/\//);
  }, 30_000);

  it('takes --log-level over RXSYNC_LOG_LEVEL and refuses a level it does not know', () => {
    expect(parseServeArgs(['--demo'], {}).logLevel).toBe('info');
    expect(parseServeArgs(['--demo'], { RXSYNC_LOG_LEVEL: 'error' }).logLevel).toBe('error');
    expect(parseServeArgs(['--demo', '--log-level', 'silent'], { RXSYNC_LOG_LEVEL: 'error' }).logLevel).toBe('silent');
    expect(() => parseServeArgs(['--demo', '--log-level', 'loud'], {})).toThrow(
      '--log-level must be one of trace, debug, info, warn, error, fatal, silent, got loud',
    );
    expect(() => parseServeArgs(['--demo'], { RXSYNC_LOG_LEVEL: 'verbose' })).toThrow(/^RXSYNC_LOG_LEVEL must be one of/);
  });
});
