/**
 * What a URL answered when it should have served one of rxsync's browser files (the worker script,
 * a .wasm), put in words for an error that says what came back and how to fix it.
 *
 * The usual cause is a missing file behind a server that answers every path with its index.html
 * (Vite's dev server, single-page-app hosting): the browser then reports only "load error" or
 * "expected magic word 00 61 73 6d, found 3c 21 64 6f", which names neither the URL nor the page.
 *
 * Used by the page's proxy (src/browser.ts) and by the engine (storage/wasm.ts): it holds no engine code.
 */

/** A file rxsync needed that its URL did not serve. */
export class AssetLoadError extends Error {
  override readonly name = 'AssetLoadError';
  readonly code = 'asset_load_failed';
  readonly retryable = false;
  constructor(
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** What a URL answered: enough to tell a missing file, an HTML fallback page and the real thing apart. */
export interface ServedAnswer {
  readonly url: string;
  readonly status: number;
  readonly statusText: string;
  readonly contentType: string;
  /** The first bytes of the body (all of it, for a body read whole). */
  readonly head: Uint8Array;
}

/** Every .wasm file starts with these four bytes: "\0asm". */
const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

export function answerOf(url: string, response: Response, head: Uint8Array): ServedAnswer {
  return { url, status: response.status, statusText: response.statusText, contentType: response.headers.get('content-type') ?? '', head };
}

/** The first `limit` bytes of a response's body, without reading the rest. */
export async function readHead(response: Response, limit = 64): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  const head = new Uint8Array(Math.min(length, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, head.length - offset);
    head.set(part, offset);
    offset += part.length;
  }
  return head;
}

export function isWasm(head: Uint8Array): boolean {
  return WASM_MAGIC.every((byte, i) => head[i] === byte);
}

/** An HTML page: by its content type, or by a body that opens with a tag (a server may label it anything). */
export function looksLikeHtml(answer: ServedAnswer): boolean {
  if (/\btext\/html\b/i.test(answer.contentType)) return true;
  return /^\s*</.test(new TextDecoder().decode(answer.head.subarray(0, 64)).replace(/^\uFEFF/, ''));
}

/** `404 Not Found, text/html, starting "<!doctype html><html>…"` (the bytes in hex when they are not text). */
export function describeAnswer(answer: ServedAnswer): string {
  const status = `${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
  const type = answer.contentType || 'no content type';
  return `${status}, ${type}, ${describeHead(answer.head)}`;
}

function describeHead(head: Uint8Array): string {
  if (head.length === 0) return 'with an empty body';
  const shown = head.subarray(0, 48);
  // stream: a character cut at the end is left out rather than shown as U+FFFD.
  const text = new TextDecoder().decode(shown, { stream: true });
  const printable = [...text].filter((char) => char >= ' ' || char === '\n' || char === '\r' || char === '\t').length;
  if (printable < text.length * 0.9 || text.includes('\uFFFD')) {
    return `starting with the bytes ${[...shown.subarray(0, 8)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ')}`;
  }
  const flat = text.replace(/\s+/g, ' ').trim();
  return `starting "${flat}${head.length > shown.length ? '…' : ''}"`;
}
