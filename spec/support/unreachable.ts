import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';

/** A ws URL on a port of 127.0.0.1 that nothing listens on (a server that is down): connecting is refused. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `ws://127.0.0.1:${port}/api/sync`;
}

/** A server that is up but answers every request, the WebSocket upgrade included, with HTTP 503. */
export async function httpErrorServer(): Promise<{ url: string; upgrades: () => number; close(): Promise<void> }> {
  let upgrades = 0;
  const server = createHttpServer((_, response) => response.writeHead(503).end('draining'));
  server.on('upgrade', (_, socket) => {
    upgrades += 1;
    socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/api/sync`,
    upgrades: () => upgrades,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
