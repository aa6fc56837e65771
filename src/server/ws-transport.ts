import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ServerMessage } from '../protocol/index.js';
import type { SessionTransport } from './session/outbound.js';

/**
 * A session's socket, as the session sees it (SessionTransport), over a `ws` WebSocket and the
 * raw socket the server upgraded it from.
 *
 * A frame from server to client is unmasked (RFC 6455 5.1), so one message is the same bytes on
 * every socket: a commit's `changes`, sent to a thousand sessions, is serialized and framed once
 * and that one buffer is written to each socket. `ws.send` would build a header per socket and
 * write header and payload as two chunks (cork, two writes, uncork: a writev), a thousand times
 * per commit. `ws` has no public call that writes a framed buffer (its Sender is exported but not
 * documented), so the header is written here (textFrame).
 *
 * Writing beside `ws` on its socket is safe while `ws` itself never holds frames back: that is
 * only while it compresses (permessage-deflate) or reads a Blob, and this server does neither.
 * With permessage-deflate negotiated, each socket compresses with its own context, the frames
 * differ, and `ws` frames them; the payload is still serialized once.
 */
export function wsTransport(ws: WebSocket, socket: Duplex, onSent: (message: ServerMessage, bytes: number) => void): SessionTransport {
  const framedByWs = ws.extensions !== '';
  return {
    send(message, written) {
      // CLOSING: `ws` wrote (or is about to write) its close frame, after which nothing may follow.
      if (ws.readyState !== ws.OPEN) return 0;
      const frame = frameOf(message);
      const header = headerLength(frame);
      // The payload's size, as before frames were built here: what the metrics and the session count.
      const bytes = frame.length - header;
      // Either way `written` runs once the bytes left the process or the socket failed.
      if (framedByWs) ws.send(frame.subarray(header), { binary: false }, () => written());
      else socket.write(frame, () => written());
      onSent(message, bytes);
      return bytes;
    },
    close: (code, reason) => ws.close(code, reason),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
}

/** Each message's frame, built at its first send: a message sent to many sessions is encoded once. */
const frames = new WeakMap<ServerMessage, Buffer>();

function frameOf(message: ServerMessage): Buffer {
  let frame = frames.get(message);
  if (!frame) frames.set(message, (frame = textFrame(JSON.stringify(message))));
  return frame;
}

/**
 * One final, unmasked text frame holding `text` (RFC 6455 5.2): the first byte is FIN and opcode
 * 1, the second the length, or 126 and a 16-bit length, or 127 and a 64-bit length.
 */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/** The header's size in a frame built by textFrame, from its length byte. */
function headerLength(frame: Buffer): number {
  const length = frame[1];
  return length < 126 ? 2 : length === 126 ? 4 : 10;
}
