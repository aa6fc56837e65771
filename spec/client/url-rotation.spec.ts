import { ConnectionError } from '../../src/errors.js';
import { sameServerUrls, UrlRotation } from '../../src/client/server-urls.js';

const [a, b, c] = ['ws://a/api/sync', 'ws://b/api/sync', 'ws://c/api/sync'];
const tries = (rotation: UrlRotation, n: number) => Array.from({ length: n }, () => rotation.next());

describe('UrlRotation', () => {
  it('a string is every try, a round of one', () => {
    const rotation = new UrlRotation(a);
    expect(tries(rotation, 3)).toEqual([a, a, a]);
    expect(rotation.roundSize).toBe(1);
  });

  it('a listed list goes round in order from the first', () => {
    const rotation = new UrlRotation([a, b, c], 'listed');
    expect(tries(rotation, 7)).toEqual([a, b, c, a, b, c, a]);
    expect(rotation.roundSize).toBe(3);
  });

  it('a shuffled list goes round in an order drawn once, from the random it is given', () => {
    expect(tries(new UrlRotation([a, b, c], 'shuffled', () => 0), 6)).toEqual([b, c, a, b, c, a]);
    expect(tries(new UrlRotation([a, b, c], 'shuffled', () => 0.999), 3)).toEqual([a, b, c]);
    // Every order comes up: the first URL is spread over the list.
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const firsts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const first = new UrlRotation([a, b, c], 'shuffled', random).next() as string;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    for (const url of [a, b, c]) expect(firsts.get(url)).toBeGreaterThan(800);
  });

  it('does not take the list by reference', () => {
    const urls = [a, b];
    const rotation = new UrlRotation(urls, 'listed');
    urls[0] = c;
    expect(tries(rotation, 2)).toEqual([a, b]);
  });

  it('asks a function before every try, a round of one', async () => {
    let n = 0;
    const rotation = new UrlRotation(() => (n++ % 2 ? Promise.resolve(b) : a));
    expect(rotation.roundSize).toBe(1);
    expect(await Promise.all(tries(rotation, 3))).toEqual([a, b, a]);
  });

  it('turns a failing function into a retryable ConnectionError', async () => {
    const thrown = new UrlRotation(() => {
      throw new Error('nope');
    }).next();
    await expect(thrown).rejects.toBeInstanceOf(ConnectionError);
    await expect(thrown).rejects.toMatchObject({ retryable: true, message: 'the server URL function failed: nope' });
    await expect(new UrlRotation(() => 42 as unknown as string).next()).rejects.toThrow('the server URL function answered 42, not a URL');
  });

  it('refuses an empty list, a non-URL entry and an unknown order', () => {
    expect(() => new UrlRotation([])).toThrow(TypeError);
    expect(() => new UrlRotation([a, 7 as unknown as string])).toThrow(TypeError);
    expect(() => new UrlRotation('')).toThrow(TypeError);
    expect(() => new UrlRotation([a], 'alphabetical' as never)).toThrow(TypeError);
  });
});

describe('sameServerUrls', () => {
  it('compares strings and lists by value, functions by identity', () => {
    const f = () => a;
    expect(sameServerUrls(a, a)).toBe(true);
    expect(sameServerUrls(a, [a])).toBe(false);
    expect(sameServerUrls([a, b], [a, b])).toBe(true);
    expect(sameServerUrls([a, b], [b, a])).toBe(false);
    expect(sameServerUrls(f, f)).toBe(true);
    expect(sameServerUrls(f, () => a)).toBe(false);
    expect(sameServerUrls(f, a)).toBe(false);
  });
});
