import { createSyncServer, type SyncServer, type SyncServerOptions } from '../../src/server/index.js';
import { testSchema } from './test-schema.js';
import { TestPeer } from './test-peer.js';

/** A real server on 127.0.0.1, port 0, with an in-memory store unless told otherwise. */
export async function startTestServer(options: Partial<SyncServerOptions> = {}): Promise<SyncServer> {
  return createSyncServer({ schema: testSchema, port: 0, host: '127.0.0.1', database: ':memory:', onError: () => undefined, ...options });
}

/** Connects a peer, says hello and waits for the welcome. */
export async function helloPeer(server: SyncServer, options: Parameters<TestPeer['hello']>[1] = {}) {
  const peer = await TestPeer.connect(server.url);
  peer.hello(testSchema, options);
  const welcome = await peer.next('welcome');
  return { peer, welcome };
}

/** Acks every snapshot chunk and changes message as it arrives, like a well-behaved client. */
export function autoAck(peer: TestPeer): void {
  peer.ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'snapshot_chunk') peer.send({ type: 'snapshot_ack', seq: message.seq });
    if (message.type === 'changes') peer.send({ type: 'ack', lsn: message.lsn });
  });
}
