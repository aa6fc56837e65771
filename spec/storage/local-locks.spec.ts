import { LocalLockManager } from '../../src/storage/index.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe('LocalLockManager (the in-process stand-in for navigator.locks)', () => {
  it('grants an exclusive lock to one holder at a time, in request order', async () => {
    const locks = new LocalLockManager();
    const log: string[] = [];
    const hold = (who: string) =>
      locks.request('file', { mode: 'exclusive' }, async (lock) => {
        log.push(`${who} got ${lock?.mode}`);
        await tick();
        log.push(`${who} released`);
        return who;
      });
    expect(await Promise.all([hold('a'), hold('b')])).toEqual(['a', 'b']);
    expect(log).toEqual(['a got exclusive', 'a released', 'b got exclusive', 'b released']);
  });

  it('lets shared locks coexist, answers ifAvailable with null, and reports held locks', async () => {
    const locks = new LocalLockManager();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const s1 = locks.request('f', { mode: 'shared' }, () => held);
    const s2 = locks.request('f', { mode: 'shared' }, () => 'second shared');
    expect(await s2).toBe('second shared');
    expect(await locks.request('f', { mode: 'exclusive', ifAvailable: true }, (lock) => lock)).toBeNull();
    expect((await locks.query()).held).toEqual([{ name: 'f', mode: 'shared' }]);
    release();
    await s1;
    expect(await locks.query()).toEqual({ held: [], pending: [] });
  });

  it('tryAcquire grants or refuses at once, and releases synchronously', async () => {
    const locks = new LocalLockManager();
    const release = locks.tryAcquire('db-outer');
    expect(release).not.toBeNull();
    expect(locks.tryAcquire('db-outer')).toBeNull();
    expect(locks.tryAcquire('db-outer', 'shared')).toBeNull();
    release!();
    release!(); // idempotent
    const again = locks.tryAcquire('db-outer');
    expect(again).not.toBeNull();
    const waiting = locks.request('db-outer', {}, () => 'served after release');
    again!();
    expect(await waiting).toBe('served after release');
    const s1 = locks.tryAcquire('r', 'shared');
    const s2 = locks.tryAcquire('r', 'shared');
    expect([s1, s2].every(Boolean)).toBe(true);
    expect(locks.tryAcquire('r', 'exclusive')).toBeNull();
  });

  it('rejects a waiting request with AbortError when its signal aborts', async () => {
    const locks = new LocalLockManager();
    let release!: () => void;
    const holder = locks.request('f', {}, () => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    const waiting = locks.request('f', { signal: controller.signal }, () => 'never');
    await tick();
    expect((await locks.query()).pending).toEqual([{ name: 'f', mode: 'exclusive' }]);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    release();
    await holder;
    expect(await locks.request('f', {}, () => 'free again')).toBe('free again');
  });
});
