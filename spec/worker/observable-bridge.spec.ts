/**
 * The Observable bridge alone: a worker-side Subject behind comlink on one end of a MessageChannel,
 * fromRemote on the other. Order, error (with its code), completion, and unsubscribe reaching the
 * source; every ending releases the observer's channel.
 */
import { expose, wrap, releaseProxy } from 'comlink';
import { Subject, firstValueFrom, lastValueFrom, take, toArray, type Observable } from 'rxjs';
import { fromRemote, pipeToRemote, type ObserverPort, type RemoteSubscription } from '../../src/worker/observable-bridge.js';
import { SyncProtocolError } from '../../src/protocol/index.js';
import { until } from '../support/test-client.js';

function bridge<T>(source$: Observable<T>) {
  const live = new Map<number, RemoteSubscription>();
  let next = 1;
  const api = {
    subscribe(observer: ObserverPort) {
      const id = next++;
      const subscription = pipeToRemote(source$, observer, () => live.delete(id));
      if (!subscription.closed) live.set(id, subscription);
      return id;
    },
    unsubscribe(id: number) {
      live.get(id)?.stop();
    },
  };
  const { port1, port2 } = new MessageChannel();
  expose(api, port1);
  const remote = wrap<typeof api>(port2);
  const observable = fromRemote<T>(
    (observer) => remote.subscribe(observer),
    (id) => remote.unsubscribe(id),
  );
  return { observable, live, close: () => remote[releaseProxy]() };
}

describe('observables across a MessageChannel', () => {
  it('delivers values in order, then completion', async () => {
    const source = new Subject<number>();
    const { observable, live, close } = bridge(source);
    const all = lastValueFrom(observable.pipe(toArray()));
    await until(() => live.size === 1, 1000, 'the worker-side subscription');
    for (let i = 0; i < 500; i++) source.next(i);
    source.complete();
    expect(await all).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(live.size).toBe(0);
    close();
  });

  it('delivers an error with its name and code', async () => {
    const source = new Subject<number>();
    const { observable, live, close } = bridge(source);
    const result = lastValueFrom(observable).catch((e: unknown) => e);
    await until(() => live.size === 1, 1000, 'the worker-side subscription');
    source.error(new SyncProtocolError('unknown_column', 'unknown column todos.x', { table: 'todos' }));
    const error = await result;
    expect(error).toBeInstanceOf(SyncProtocolError);
    expect(error).toMatchObject({ name: 'SyncProtocolError', code: 'unknown_column', context: { table: 'todos' } });
    expect(live.size).toBe(0);
    close();
  });

  it('stops the worker-side subscription on unsubscribe', async () => {
    const source = new Subject<number>();
    const { observable, live, close } = bridge(source);
    const firstTwo = firstValueFrom(observable.pipe(take(2), toArray()));
    await until(() => live.size === 1, 1000, 'the worker-side subscription');
    source.next(1);
    source.next(2);
    source.next(3);
    expect(await firstTwo).toEqual([1, 2]);
    await until(() => live.size === 0 && !source.observed, 1000, 'the source to be unsubscribed');
    close();
  });

  it("reports a value that cannot be cloned as the stream's error", async () => {
    const source = new Subject<unknown>();
    const { observable, live, close } = bridge(source);
    const result = lastValueFrom(observable).catch((e: unknown) => e);
    await until(() => live.size === 1, 1000, 'the worker-side subscription');
    source.next({ fn: () => 1 });
    expect(await result).toMatchObject({ name: 'DataCloneError' });
    await until(() => live.size === 0, 1000, 'the subscription to end');
    close();
  });
});
