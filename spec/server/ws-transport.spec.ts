import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type ClientOptions, type WebSocket } from 'ws';
import type { ServerMessage } from '../../src/protocol/index.js';
import type { SessionTransport } from '../../src/server/session/outbound.js';
import { wsTransport } from '../../src/server/ws-transport.js';
import { TestPeer } from '../support/test-peer.js';
import { helloPeer, startTestServer } from '../support/test-server.js';
import { todo } from '../support/test-schema.js';

/** A bare `ws` server on 127.0.0.1, port 0, that wraps each connection in wsTransport. */
async function startTransportServer(options: { perMessageDeflate?: boolean } = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: options.perMessageDeflate ?? false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const waiting: Array<(connection: Connection) => void> = [];
  wss.on('connection', (ws: WebSocket, request: IncomingMessage) => {
    const socket = request.socket as Socket;
    waiting.shift()?.({ ws, socket, transport: wsTransport(ws, socket, () => undefined) });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    /** A client connected with `options`, and the server's side of its connection. */
    async connect(clientOptions?: ClientOptions) {
      const accepted = new Promise<Connection>((resolve) => waiting.push(resolve));
      const peer = await TestPeer.connect(this.url, clientOptions);
      return { peer, ...(await accepted) };
    },
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}

interface Connection {
  ws: WebSocket;
  socket: Socket;
  transport: SessionTransport;
}

/** An error message whose JSON is exactly `bytes` bytes, its text made of `unit` (1 to 3 bytes in UTF-8). */
function messageOfBytes(bytes: number, unit = 'a'): ServerMessage {
  const empty = Buffer.byteLength(JSON.stringify({ type: 'error', code: 'internal', message: '', retryable: false }));
  const room = bytes - empty;
  const unitBytes = Buffer.byteLength(unit);
  const text = unit.repeat(Math.floor(room / unitBytes)) + 'a'.repeat(room % unitBytes);
  const message: ServerMessage = { type: 'error', code: 'internal', message: text, retryable: false };
  expect(Buffer.byteLength(JSON.stringify(message))).toBe(bytes);
  return message;
}

const noop = () => undefined;

describe('wsTransport (a session frame on the socket)', () => {
  it('gives every session of a commit the same changes message, decoded as the protocol says', async () => {
    const server = await startTestServer();
    const lsn = server.currentLsn();
    const peers = await Promise.all(['a', 'b', 'c'].map((id) => helloPeer(server, { clientId: id, lsn }).then(({ peer }) => peer)));
    await server.insert('todos', todo(1, { title: 'déjà vu ✓ 𝄞' }));
    const received = await Promise.all(peers.map((peer) => peer.next('changes')));
    for (const message of received) {
      expect(message).toEqual(received[0]);
      expect(message.changes.map((change) => change.row)).toEqual([todo(1, { title: 'déjà vu ✓ 𝄞' })]);
    }
    await Promise.all(peers.map((peer) => peer.close()));
    await server.close();
  });

  it.each([
    [125, 'a'],
    [126, 'a'],
    [127, '€'],
    [65535, 'a'],
    [65536, 'é'],
    [200_000, '€'],
  ])('frames a message of %i bytes (text in %s) so that a ws client reads it whole', async (bytes, unit) => {
    const server = await startTransportServer();
    const { peer, transport } = await server.connect();
    const message = messageOfBytes(bytes, unit);
    expect(transport.send(message, noop)).toBe(bytes);
    // A frame after it: the length in the header said where the first one ended.
    transport.send({ type: 'ping' }, noop);
    await peer.next('ping');
    expect(peer.invalidFrames).toEqual([]);
    expect(peer.messages).toEqual([message, { type: 'ping' }]);
    await peer.close();
    await server.close();
  });

  it('with permessage-deflate, lets ws compress for the socket that asked, and sends the others the frame as is', async () => {
    const server = await startTransportServer({ perMessageDeflate: true });
    const deflating = await server.connect();
    const plain = await server.connect({ perMessageDeflate: false });
    expect(deflating.peer.ws.extensions).toMatch(/permessage-deflate/);
    expect(plain.peer.ws.extensions).toBe('');
    // One message object for both sockets, as the fan-out shares a commit's message.
    const message = messageOfBytes(20_000);
    const before = [deflating.socket.bytesWritten, plain.socket.bytesWritten];
    expect(deflating.transport.send(message, noop)).toBe(20_000);
    expect(plain.transport.send(message, noop)).toBe(20_000);
    expect(await deflating.peer.next('error')).toEqual(message);
    expect(await plain.peer.next('error')).toEqual(message);
    expect(deflating.socket.bytesWritten - before[0]).toBeLessThan(1000);
    expect(plain.socket.bytesWritten - before[1]).toBe(20_000 + 4);
    await Promise.all([deflating.peer.close(), plain.peer.close()]);
    await server.close();
  });

  it('keeps frames in order with the close frame, and sends nothing after it', async () => {
    const server = await startTransportServer();
    const { peer, transport } = await server.connect();
    const written: string[] = [];
    transport.send(messageOfBytes(300), () => written.push('first'));
    transport.close(4000, 'done');
    expect(transport.send({ type: 'ping' }, () => written.push('after close'))).toBe(0);
    expect(await peer.closed).toBe(4000);
    expect(peer.messages).toEqual([messageOfBytes(300)]);
    expect(peer.invalidFrames).toEqual([]);
    expect(written).toEqual(['first']);
    await server.close();
  });

  it("tells the session once a frame's bytes have left the process", async () => {
    const server = await startTransportServer();
    const { peer, transport } = await server.connect();
    const written = new Promise<void>((resolve) => transport.send(messageOfBytes(1000), resolve));
    await written;
    expect(transport.bufferedAmount).toBe(0);
    await peer.next('error');
    await peer.close();
    await server.close();
  });
});
