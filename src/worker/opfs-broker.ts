/**
 * The SharedWorker's part when a database lives in OPFS (storage: 'opfs'): a broker, not a host.
 *
 * OPFS's sync access handles exist only in dedicated workers, which a SharedWorker cannot start.
 * So each tab starts a dedicated worker of its own as a candidate holder (opfs-holder.ts), and the
 * candidate that gets the database's Web Lock opens the database and runs its engine. Tabs reach
 * that engine through this broker, the one place every tab of the origin can talk to:
 *
 * - `offer(database, control)`: a tab hands over its candidate's control port. When that candidate
 *   takes the lock it says `{ holding: true }` on the port, and becomes the database's holder.
 * - `holders(database)`: the holder's epoch, a new number each time a holder comes up. A tab
 *   attaches at each one (the engine moved: the holder's tab closed and another tab's candidate
 *   took over).
 * - `portToHolder(database)`: a new MessageChannel, one end sent to the holder to be served like any
 *   tab's port, the other for the tab. Messages then go straight between the tab and the holder;
 *   the broker is not on their way.
 *
 * A dead holder says nothing: the next holder's `{ holding: true }` (its lock was granted, so the
 * previous holder's was released) is the news.
 */
import { BehaviorSubject, filter, firstValueFrom, type Observable } from 'rxjs';

interface HolderEntry {
  control: MessagePort | undefined;
  readonly epoch$: BehaviorSubject<number>;
}

export class OpfsBroker {
  private readonly entries = new Map<string, HolderEntry>();

  private entry(database: string): HolderEntry {
    let entry = this.entries.get(database);
    if (!entry) this.entries.set(database, (entry = { control: undefined, epoch$: new BehaviorSubject(0) }));
    return entry;
  }

  /** A tab's candidate for `database`: it becomes the holder when it says it took the lock. */
  offer(database: string, control: MessagePort): void {
    const entry = this.entry(database);
    control.onmessage = ({ data }) => {
      if ((data as { holding?: unknown } | null)?.holding !== true) return;
      entry.control = control;
      entry.epoch$.next(entry.epoch$.value + 1);
    };
  }

  /** The epochs of `database`'s holders: the current one at once (once there is one), then each new one. */
  holders(database: string): Observable<number> {
    return this.entry(database).epoch$.pipe(filter((epoch) => epoch > 0));
  }

  /** A port served by `database`'s current holder (waiting for the first holder to come up). */
  async portToHolder(database: string): Promise<MessagePort> {
    const entry = this.entry(database);
    if (!entry.control) await firstValueFrom(this.holders(database));
    const { port1, port2 } = new MessageChannel();
    entry.control!.postMessage({ serve: port1 }, [port1]);
    return port2;
  }
}
