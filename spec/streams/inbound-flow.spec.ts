import { InboundFlow, readControlOf } from '../../src/streams/inbound-flow.js';

describe('InboundFlow', () => {
  it('pauses reading above the high water mark and resumes at the low one, once each', () => {
    const calls: string[] = [];
    const flow = new InboundFlow(3, 1);
    flow.attach({ pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    for (let i = 0; i < 5; i++) flow.queued();
    expect(calls).toEqual(['pause']); // at the 4th message waiting, not again at the 5th
    flow.done();
    flow.done();
    flow.done();
    expect(calls).toEqual(['pause']); // 2 still waiting: above the low water mark
    flow.done();
    flow.done();
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('only counts where the socket cannot pause', () => {
    const flow = new InboundFlow(1, 0);
    flow.attach(undefined);
    expect(() => {
      for (let i = 0; i < 10; i++) flow.queued();
      for (let i = 0; i < 10; i++) flow.done();
    }).not.toThrow();
  });

  it('finds pause and resume on a socket that has them (the ws package), and nothing on one that has not', () => {
    const calls: string[] = [];
    const socket = {
      pause() {
        calls.push(`pause ${this === socket}`);
      },
      resume() {
        calls.push(`resume ${this === socket}`);
      },
    };
    const control = readControlOf(socket)!;
    control.pause();
    control.resume();
    expect(calls).toEqual(['pause true', 'resume true']);
    expect(readControlOf({ send() {} })).toBeUndefined();
    expect(readControlOf(undefined)).toBeUndefined();
  });
});
