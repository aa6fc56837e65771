import WebSocket from 'ws';
import { startTestServer } from '../support/test-server.js';
import type { SyncServer } from '../../src/server/index.js';

describe('the server over HTTP', () => {
  let server: SyncServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('listens on a free port of 127.0.0.1 and names its sync URL', () => {
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/api\/sync$/);
    expect(server.port).toBeGreaterThan(0);
  });

  it('answers 404 elsewhere', async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/nope`);
    expect(response.status).toBe(404);
  });

  it('refuses a WebSocket upgrade on any path but /api/sync', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/other`);
    const error = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(error.message).toMatch(/404/);
  });
});
