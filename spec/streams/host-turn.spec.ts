import { lastValueFrom } from 'rxjs';
import { hostTurn } from '../../src/streams/host-turn.js';

describe('hostTurn', () => {
  it('completes after the host had a turn: a due timer runs between turns, microtasks never let it', async () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    for (let i = 0; i < 1000; i++) await Promise.resolve();
    expect(fired).toBe(false); // a microtask chain starves it
    // Turns, however many it takes the timer to fall due (a microtask loop would spin here for ever).
    for (let i = 0; i < 100_000 && !fired; i++) await lastValueFrom(hostTurn());
    expect(fired).toBe(true);
  });

  it('does nothing once unsubscribed', async () => {
    let completed = false;
    hostTurn()
      .subscribe({ complete: () => (completed = true) })
      .unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(completed).toBe(false);
  });
});
