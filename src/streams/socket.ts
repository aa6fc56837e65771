import { fromEvent, NEVER, Observable } from 'rxjs';
import { webSocket, type WebSocketSubject } from 'rxjs/webSocket';
import { ConnectionError } from '../errors.js';
import { CloseCode, type ClientMessage } from '../protocol/index.js';
import { readControlOf, type ReadControl } from './inbound-flow.js';

export interface SocketHooks {
  /**
   * The socket opened; `send` writes to it (frames are JSON-encoded); `reads` holds back reading
   * it, where the socket can (see InboundFlow).
   */
  onOpen(send: (message: ClientMessage) => void, reads: ReadControl | undefined): void;
  /** The socket closed (by either side), with its close code. */
  onClose(code: number, reason: string): void;
}

/** Close codes after which reconnecting cannot help: the server refused this client as it is. */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.protocolViolation, CloseCode.unauthorized, CloseCode.replaced]);

/**
 * Close codes after which the client reconnects at once, without a backoff wait and without
 * counting a failure: the server asked for it (a draining process, 1012: go to another server; an
 * expired token, 4403: come back with a fresh one). See retryBackoff's `retryAtOnce`.
 */
export const AT_ONCE_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.serviceRestart, CloseCode.tokenExpired]);

/** The standard code of a socket that closed without a close frame (never sent, only reported). */
const NO_CLOSE_FRAME = 1006;

/**
 * One WebSocket connection as an Observable of raw inbound frames (rxjs `webSocket`, with the
 * constructor injected). It never completes quietly: any close, clean or not, is an error
 * (ConnectionError with the close code, and `fatal` / `atOnce` in its context, see
 * FATAL_CLOSE_CODES and AT_ONCE_CLOSE_CODES), so that `retryBackoff` downstream reconnects; an
 * unsubscribe closes the socket. Frames are passed on undecoded: validation is the next operator.
 */
export function socketFrames(url: string, WebSocketCtor: typeof WebSocket, hooks: SocketHooks): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    let closeCode = NO_CLOSE_FRAME;
    let closeReason = '';
    const subject: WebSocketSubject<unknown> = webSocket<unknown>({
      url,
      WebSocketCtor: WebSocketCtor as never,
      deserializer: (event) => event.data,
      serializer: (value) => JSON.stringify(value),
      openObserver: { next: (event) => hooks.onOpen((message) => subject.next(message), readControlOf(event.target)) },
      closeObserver: {
        next: (event) => {
          closeCode = event.code;
          closeReason = event.reason;
          hooks.onClose(event.code, event.reason);
        },
      },
    });
    const closed = () =>
      new ConnectionError(`connection to ${url} closed (${closeCode}${closeReason ? ` ${closeReason}` : ''})`, {
        context: { url, code: closeCode, reason: closeReason, fatal: FATAL_CLOSE_CODES.has(closeCode), atOnce: AT_ONCE_CLOSE_CODES.has(closeCode) },
      });
    const subscription = subject.subscribe({
      next: (frame) => subscriber.next(frame),
      error: () => subscriber.error(closed()),
      complete: () => subscriber.error(closed()),
    });
    return () => {
      subscription.unsubscribe();
      subject.complete();
    };
  });
}

/** The browser's `online` event where there is one (it cuts a reconnect wait short); else never. */
export function onlineEvents(): Observable<unknown> {
  const target = globalThis as { addEventListener?: unknown };
  return typeof target.addEventListener === 'function' ? fromEvent(globalThis as unknown as EventTarget, 'online') : NEVER;
}

/** The global WebSocket, else (Node 20 has none) the `ws` package's. */
export async function defaultWebSocket(): Promise<typeof WebSocket> {
  const global = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (global) return global;
  try {
    const ws = await import('ws');
    return (ws.default ?? ws) as unknown as typeof WebSocket;
  } catch (error) {
    if (!/Cannot find (module|package) 'ws'/.test(String((error as Error).message))) throw error;
    throw new Error(
      'rxsync: this runtime has no global WebSocket (Node before 22): npm install ws (an optional peer dependency of rxsync), or pass the client a WebSocketCtor',
      { cause: error },
    );
  }
}
