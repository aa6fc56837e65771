import { ConnectionError } from '../errors.js';

/**
 * Where a client connects: one URL; a list of equivalent servers, tried in turn; or a function
 * asked for the URL before every try (it may answer with a Promise).
 */
export type ServerUrls = string | readonly string[] | (() => string | Promise<string>);

/**
 * The order a list of URLs is tried in. `'shuffled'` (the default): each connect() tries the list
 * in its own random order, so that many clients spread over the servers, at the first connection
 * and at every fail-over alike. `'listed'`: in the order given, from the first (a preferred server
 * and its fallbacks).
 */
export type UrlOrder = 'shuffled' | 'listed';

/**
 * The URL of each try of one connect(): a list's next URL in turn (wrapping around), or the
 * function's answer; a string is every try's. `roundSize` is how many tries make one round of the
 * servers (the backoff grows once per round, see retryBackoff's `roundSize`): the list's length,
 * else 1.
 */
export class UrlRotation {
  readonly roundSize: number;
  private readonly urls: readonly string[] | undefined;
  private tries = 0;

  /** Throws a TypeError for an empty list or anything that is not a URL string. */
  constructor(
    private readonly target: ServerUrls,
    order: UrlOrder = 'shuffled',
    random: () => number = Math.random,
  ) {
    if (order !== 'shuffled' && order !== 'listed') throw new TypeError(`urlOrder must be 'shuffled' or 'listed', got ${JSON.stringify(order)}`);
    if (typeof target === 'function') {
      this.urls = undefined;
    } else {
      const urls = typeof target === 'string' ? [target] : [...target];
      if (urls.length === 0) throw new TypeError('connect() needs at least one server URL');
      for (const url of urls) if (typeof url !== 'string' || url === '') throw new TypeError(`not a server URL: ${JSON.stringify(url)}`);
      this.urls = order === 'shuffled' ? shuffled(urls, random) : urls;
    }
    this.roundSize = this.urls?.length ?? 1;
  }

  /**
   * The URL for the next try: a string at once for a list; for a function, a Promise that rejects
   * with a ConnectionError (retryable, like an unreachable server) when the function throws,
   * rejects, or answers anything but a non-empty string.
   */
  next(): string | Promise<string> {
    if (this.urls) return this.urls[this.tries++ % this.urls.length]!;
    const ask = this.target as () => string | Promise<string>;
    return (async () => {
      let url: unknown;
      try {
        url = await ask();
      } catch (error) {
        throw new ConnectionError(`the server URL function failed: ${(error as Error)?.message ?? String(error)}`, {
          cause: error,
          context: { urlFunction: true },
        });
      }
      if (typeof url !== 'string' || url === '') {
        throw new ConnectionError(`the server URL function answered ${JSON.stringify(url)}, not a URL`, { context: { urlFunction: true } });
      }
      return url;
    })();
  }
}

/** Whether two connect targets name the same servers (a function is only ever itself). */
export function sameServerUrls(a: ServerUrls, b: ServerUrls): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  if (typeof a === 'function' || typeof b === 'function') return a === b;
  return a.length === b.length && a.every((url, i) => url === b[i]);
}

/** A copy of `items` in random order (Fisher-Yates), `random` in [0, 1) as Math.random. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}
