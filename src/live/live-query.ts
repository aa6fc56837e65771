/**
 * watch() and watchChanges(): a query's result as an Observable, updated after the commits that
 * touch what it reads. A query of the shape query-shape.ts accepts folds each commit's changed rows
 * into its result (LiveResult); any other query runs again. Either way one query runs at a time per
 * watch, and the commits that arrive meanwhile are merged into the next update, so a slow query
 * never piles up work behind the applies, and it emits only when its rows changed.
 */
import { Observable, map } from 'rxjs';
import type { SyncSchema } from '../protocol/index.js';
import { distinctRows } from '../operators/distinct-rows.js';
import { tablesReadBy } from './watched-tables.js';
import type { ListPatch } from './list-patch.js';
import { LiveResult, type QueryRunner, type ResultChanges, type ResultDelta } from './live-result.js';
import { queryShape, type QueryShape } from './query-shape.js';

/** What a commit wrote, as the watches need it. */
export interface Commit {
  /** Tables written (`local_changes` for the outbox). */
  readonly tables: ReadonlySet<string>;
  /** The rows written, by table, as the JSON of their primary keys. A table written but not here (or no map: a snapshot, a reset) is read whole again. */
  readonly rows?: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Past this many changed rows in one update, reading the whole result again is the cheaper way. */
const MAX_FOLDED_ROWS = 10_000;

/** The rows of `sql` now, and again whenever they change (see the module comment). */
export function watchQuery<T>(db: QueryRunner, commits$: Observable<Commit>, schema: SyncSchema, sql: string, params: readonly unknown[]): Observable<T[]> {
  const shape = queryShape(sql, schema);
  if (shape) return foldedResult<T>(db, commits$, shape, params, (result) => result.rows());
  return rerunResult<T>(db, commits$, schema, sql, params);
}

/**
 * watch() as a worker sends it to a tab: each update as the splices that turn the tab's list into
 * the new one (list-patch.ts), or the whole list where the query is run again.
 */
export function watchQueryPatches<T>(
  db: QueryRunner,
  commits$: Observable<Commit>,
  schema: SyncSchema,
  sql: string,
  params: readonly unknown[],
): Observable<ListPatch<T>> {
  const shape = queryShape(sql, schema);
  if (shape) return foldedResult<T, ListPatch<T>>(db, commits$, shape, params, (result) => result.takePatch());
  return rerunResult<T>(db, commits$, schema, sql, params).pipe(map((rows) => ({ rows })));
}

/** The rows of a query that cannot be folded: run again after each commit to a table it reads, emitted when they differ. */
function rerunResult<T>(db: QueryRunner, commits$: Observable<Commit>, schema: SyncSchema, sql: string, params: readonly unknown[]): Observable<T[]> {
  const tables = tablesReadBy(sql, [...schema.tableNames, 'local_changes']);
  return oneAtATime<true, T[]>(
    commits$,
    true,
    (pending, commit) => (tables.some((table) => commit.tables.has(table)) ? true : pending),
    () => db.all<T>(sql, [...params]),
  ).pipe(distinctRows());
}

/**
 * The rows of `sql` with what changed at each update: `added`, `removed` and `changed` rows (the
 * first update adds every row). For queries of one synced table (query-shape.ts); any other fails
 * with an error that says so.
 */
export function watchQueryChanges<T>(
  db: QueryRunner,
  commits$: Observable<Commit>,
  schema: SyncSchema,
  sql: string,
  params: readonly unknown[],
): Observable<ResultChanges<T>> {
  return changesOf<T, ResultChanges<T>>(db, commits$, schema, sql, params, (result, delta) => ({ rows: result.rows(), ...delta }));
}

/** watchChanges() as a worker sends it to a tab: the rows as splices (see watchQueryPatches), with what changed. */
export interface PatchedChanges<T> extends ResultDelta<T> {
  patch: ListPatch<T>;
}

export function watchQueryChangePatches<T>(
  db: QueryRunner,
  commits$: Observable<Commit>,
  schema: SyncSchema,
  sql: string,
  params: readonly unknown[],
): Observable<PatchedChanges<T>> {
  return changesOf<T, PatchedChanges<T>>(db, commits$, schema, sql, params, (result, delta) => ({ patch: result.takePatch(), ...delta }));
}

function changesOf<T, U>(
  db: QueryRunner,
  commits$: Observable<Commit>,
  schema: SyncSchema,
  sql: string,
  params: readonly unknown[],
  give: (result: LiveResult<T>, delta: ResultDelta<T>) => U,
): Observable<U> {
  const shape = queryShape(sql, schema);
  if (!shape) {
    return new Observable((subscriber) =>
      subscriber.error(
        new Error(
          'watchChanges() needs a query of one synced table: SELECT * (or columns) FROM <table> [WHERE ...] [ORDER BY columns] [LIMIT n], ' +
            `with no join, aggregate, subquery, OFFSET or named parameter; use watch() for this one: ${sql}`,
        ),
      ),
    );
  }
  return foldedResult<T, U>(db, commits$, shape, params, give);
}

interface FoldWork {
  /** Read the whole result again. */
  full: boolean;
  keys: Set<string>;
}

/** A folded result's updates, each as `give` makes it from the result and what the update did. */
function foldedResult<T, U = T[]>(
  db: QueryRunner,
  commits$: Observable<Commit>,
  shape: QueryShape,
  params: readonly unknown[],
  give: (result: LiveResult<T>, delta: ResultDelta<T>) => U,
): Observable<U> {
  return new Observable<U>((subscriber) => {
    const result = new LiveResult<T>(shape, params, db);
    return oneAtATime<FoldWork, U>(
      commits$,
      { full: true, keys: new Set() },
      (pending, commit) => {
        if (!commit.tables.has(shape.table)) return pending;
        const keys = commit.rows?.get(shape.table);
        const work = pending ?? { full: false, keys: new Set<string>() };
        if (!keys || work.full) return { full: true, keys: new Set() };
        for (const key of keys) work.keys.add(key);
        return work.keys.size > MAX_FOLDED_ROWS ? { full: true, keys: new Set() } : work;
      },
      async (work) => {
        const delta = await (work.full ? result.refresh() : result.fold(work.keys));
        return delta && give(result, delta);
      },
    ).subscribe(subscriber);
  });
}

/**
 * Runs `run` for the work the commits ask for, one run at a time: the commits that arrive during a
 * run are merged (`merge`) into the next one. Emits each run's result that is not undefined, and
 * completes when the commits do and nothing is left to run.
 */
function oneAtATime<W, R>(
  commits$: Observable<Commit>,
  initial: W,
  merge: (pending: W | undefined, commit: Commit) => W | undefined,
  run: (work: W) => Promise<R | undefined>,
): Observable<R> {
  return new Observable<R>((subscriber) => {
    let pending: W | undefined = initial;
    let running = false;
    let ended = false;
    const next = (): void => {
      if (running || subscriber.closed) return;
      if (pending === undefined) {
        if (ended) subscriber.complete();
        return;
      }
      const work = pending;
      pending = undefined;
      running = true;
      run(work).then(
        (result) => {
          running = false;
          if (result !== undefined) subscriber.next(result);
          next();
        },
        (error: unknown) => subscriber.error(error),
      );
    };
    const subscription = commits$.subscribe({
      next: (commit) => {
        pending = merge(pending, commit);
        next();
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        ended = true;
        next();
      },
    });
    next();
    return () => subscription.unsubscribe();
  });
}
