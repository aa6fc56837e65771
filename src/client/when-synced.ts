import { concatMap, first, firstValueFrom, from, map, merge, startWith, timeout, type SchedulerLike } from 'rxjs';
import { compareLsn } from '../protocol/index.js';
import { TimeoutError } from '../errors.js';
import type { SyncedData } from '../changes/synced-data.js';
import type { Connection } from './connection.js';
import type { SocketSession } from './session.js';

/**
 * Resolves when the outbox is empty and the local LSN has reached the server's LSN as of the
 * call: the server is asked for its head (a ping; its pong carries the LSN) on the connection in
 * use, and asked again on the next connection if this one drops first. Checked again whenever
 * the data, the checkpoint or the connection changes.
 */
export function whenSynced(parts: { data: SyncedData; connection: Connection; scheduler: SchedulerLike }, timeoutMs?: number): Promise<void> {
  const { data, connection, scheduler } = parts;
  let probed: SocketSession | undefined;
  const check = async (): Promise<boolean> => {
    const session = connection.session;
    if (!session) return false;
    if (probed !== session) {
      if (!(await session.probeServerHead())) return false;
      probed = session;
    }
    return session.active && (await data.outbox.openCount()) === 0 && compareLsn(data.checkpoint.current, session.serverHead) >= 0;
  };
  const synced$ = merge(data.tablesChanged$, data.checkpoint.lsn$, connection.status$).pipe(
    startWith(null),
    concatMap(() => from(check())),
    first((synced) => synced),
    map(() => undefined),
  );
  if (timeoutMs === undefined) return firstValueFrom(synced$);
  return firstValueFrom(
    synced$.pipe(
      timeout({
        first: timeoutMs,
        scheduler,
        with: () => {
          throw new TimeoutError('whenSynced', timeoutMs);
        },
      }),
    ),
  );
}
