import type * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { formatDecodeErrors } from './decode-errors.js';
import { SyncProtocolError } from './errors.js';
import { CLIENT_MESSAGE_CODECS, SERVER_MESSAGE_CODECS, type ClientMessage, type ServerMessage } from './messages.js';

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: SyncProtocolError };

/**
 * Parses one text frame and decodes it with the side's message union, member by `type` tag: an
 * unknown type gets its own code (`unknown_message`) instead of a wall of union errors, and
 * everything else is the member codec's verdict.
 */
function decodeFrame<T>(frame: unknown, codecs: Record<string, t.Decoder<unknown, T>>): Decoded<T> {
  let value: unknown = frame;
  if (typeof frame === 'string') {
    try {
      value = JSON.parse(frame);
    } catch {
      return fail('malformed_frame', 'frame is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('malformed_frame', 'frame is not a JSON object');
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') return fail('invalid_message', 'message has no string "type"');
  if (!Object.prototype.hasOwnProperty.call(codecs, type)) {
    return fail('unknown_message', `unknown message type ${JSON.stringify(type.slice(0, 40))}`);
  }
  const decoded = codecs[type].decode(value);
  if (isLeft(decoded)) {
    // A bad LSN gets its own code: it is the one field whose misuse a client most needs to tell apart.
    const badLsn = decoded.left.some((error) => error.context[error.context.length - 1]?.type.name === 'Lsn');
    const code = badLsn ? 'invalid_lsn' : 'invalid_message';
    return fail(code, `invalid ${type} message: ${formatDecodeErrors(decoded.left)}`, { ref: type });
  }
  return { ok: true, value: decoded.right };
}

function fail(code: SyncProtocolError['code'], message: string, context: Record<string, unknown> = {}): Decoded<never> {
  return { ok: false, error: new SyncProtocolError(code, message, context) };
}

/** What the server does with every inbound frame. */
export const decodeClientMessage = (frame: unknown): Decoded<ClientMessage> => decodeFrame(frame, CLIENT_MESSAGE_CODECS);

/** What the client does with every inbound frame. */
export const decodeServerMessage = (frame: unknown): Decoded<ServerMessage> => decodeFrame(frame, SERVER_MESSAGE_CODECS);
