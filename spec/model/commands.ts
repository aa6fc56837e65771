import fc from 'fast-check';
import type { World } from './harness.js';

/** The model: nothing but the world itself; every invariant is checked on the real system at the end. */
export type Model = { clients: number };
type Cmd = fc.AsyncCommand<Model, World>;

const KEYS = ['k0', 'k1', 'k2', 'k3']; // a small key space, so that writes conflict

abstract class Base implements Cmd {
  check(): boolean {
    return true;
  }
  abstract run(model: Model, world: World): Promise<void>;
  abstract toString(): string;
}

class ClientInsert extends Base {
  constructor(
    readonly c: number,
    readonly key: string,
    readonly title: string,
  ) {
    super();
  }
  async run(_m: Model, w: World) {
    await w.clients[this.c].insert('todos', { id: this.key, title: this.title, done: 0 });
  }
  toString() {
    return `insert(c${this.c}, ${this.key}, ${this.title})`;
  }
}

class ClientUpdate extends Base {
  constructor(
    readonly c: number,
    readonly key: string,
    readonly title: string,
  ) {
    super();
  }
  async run(_m: Model, w: World) {
    const client = w.clients[this.c];
    if ((await client.query('SELECT 1 FROM todos WHERE id = ?', [this.key])).length === 0) return;
    // A server change may delete the row between the look and the write: then the API refuses
    // the update (nothing is written, nothing confirmed), as it should.
    await client.update('todos', this.key, { title: this.title, done: 1 }).catch((error) => {
      if (!/no such row/.test((error as Error).message)) throw error;
    });
  }
  toString() {
    return `update(c${this.c}, ${this.key}, ${this.title})`;
  }
}

class ClientDelete extends Base {
  constructor(
    readonly c: number,
    readonly key: string,
  ) {
    super();
  }
  async run(_m: Model, w: World) {
    await w.clients[this.c].delete('todos', this.key);
  }
  toString() {
    return `delete(c${this.c}, ${this.key})`;
  }
}

class UniqueInsert extends Base {
  constructor(readonly c: number) {
    super();
  }
  async run(_m: Model, w: World) {
    const n = w.uniqueKey();
    await w.clients[this.c].insert('counters', { n, label: `c${this.c}` });
    w.confirmedUnique.push(n); // the API confirmed it: it must reach the server exactly once
  }
  toString() {
    return `uniqueInsert(c${this.c})`;
  }
}

class ServerWrite extends Base {
  constructor(
    readonly key: string,
    readonly title: string,
    readonly remove: boolean,
  ) {
    super();
  }
  async run(_m: Model, w: World) {
    const exists = (await w.server.query('SELECT 1 FROM todos WHERE id = ?', [this.key])).length > 0;
    if (this.remove) {
      if (exists) await w.server.delete('todos', this.key);
    } else if (exists) await w.server.update('todos', this.key, { title: this.title });
    else await w.server.insert('todos', { id: this.key, title: this.title, done: 0 });
  }
  toString() {
    return `server${this.remove ? 'Delete' : 'Write'}(${this.key}${this.remove ? '' : `, ${this.title}`})`;
  }
}

class Fault extends Base {
  constructor(readonly kind: 'cut' | 'down' | 'hold' | 'heal') {
    super();
  }
  async run(_m: Model, w: World) {
    if (this.kind !== 'heal') w.faults += 1;
    if (this.kind === 'cut') w.proxy.cut();
    else if (this.kind === 'down') w.proxy.down();
    else if (this.kind === 'hold') w.proxy.hold();
    else {
      w.proxy.up();
      w.proxy.release();
    }
  }
  toString() {
    return this.kind;
  }
}

class Pause extends Base {
  constructor(readonly ms: number) {
    super();
  }
  async run() {
    await new Promise((resolve) => setTimeout(resolve, this.ms));
  }
  toString() {
    return `pause(${this.ms})`;
  }
}

class RestartClient extends Base {
  constructor(readonly c: number) {
    super();
  }
  async run(_m: Model, w: World) {
    w.faults += 1;
    await w.restartClient(this.c);
  }
  toString() {
    return `restartClient(c${this.c})`;
  }
}

class RestartServer extends Base {
  async run(_m: Model, w: World) {
    w.faults += 1;
    await w.restartServer();
  }
  toString() {
    return 'restartServer';
  }
}

class ResetLsn extends Base {
  constructor(readonly c: number) {
    super();
  }
  async run(_m: Model, w: World) {
    await w.clients[this.c].resetLSN();
  }
  toString() {
    return `resetLSN(c${this.c})`;
  }
}

export function commandArbitraries(clients: number): Array<fc.Arbitrary<Cmd>> {
  const c = fc.integer({ min: 0, max: clients - 1 });
  const key = fc.constantFrom(...KEYS);
  const title = fc.string({ minLength: 1, maxLength: 6 });
  return [
    fc.tuple(c, key, title).map(([ci, k, t]) => new ClientInsert(ci, k, t)),
    fc.tuple(c, key, title).map(([ci, k, t]) => new ClientUpdate(ci, k, t)),
    fc.tuple(c, key).map(([ci, k]) => new ClientDelete(ci, k)),
    c.map((ci) => new UniqueInsert(ci)),
    fc.tuple(key, title, fc.boolean()).map(([k, t, r]) => new ServerWrite(k, t, r)),
    fc.constantFrom<'cut' | 'down' | 'hold' | 'heal'>('cut', 'down', 'hold', 'heal').map((kind) => new Fault(kind)),
    fc.integer({ min: 1, max: 60 }).map((ms) => new Pause(ms)),
    c.map((ci) => new RestartClient(ci)),
    fc.constant(new RestartServer()),
    c.map((ci) => new ResetLsn(ci)),
  ];
}
