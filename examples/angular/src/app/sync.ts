// rxsync's place in the app's dependency injection: the app gives its config once
// (`provideSync(...)` in app.config.ts) and injects SYNC_CLIENT where it needs the engine.
import { DestroyRef, inject, InjectionToken, makeEnvironmentProviders, type EnvironmentProviders } from '@angular/core';
import { createWorkerSyncClient, type RemoteSyncClient, type ServerUrls } from 'rxsync/browser';
// The Angular CLI emits each file under a hashed name and imports its URL: the worker fetches
// wa-sqlite's wasm from there (the Asyncify build for IndexedDB databases, the other for ':memory:').
import syncWasm from 'rxsync/browser/wa-sqlite.wasm' with { loader: 'file' };
import asyncWasm from 'rxsync/browser/wa-sqlite-async.wasm' with { loader: 'file' };
import { schema } from './schema';

export interface SyncConfig {
  /** The sync server: ws(s)://host/path, a list of them, or a function asked before each try. */
  url: ServerUrls;
  /** The local database (in IndexedDB), one per app and user. */
  database: string;
}

export type TodoClient = RemoteSyncClient<typeof schema>;

export const SYNC_CONFIG = new InjectionToken<SyncConfig>('rxsync: SyncConfig');

/**
 * The app's client of the rxsync worker, attached once and detached when the app is destroyed.
 * A Promise: the worker answers asynchronously; the engine opens its database on the first call.
 */
export const SYNC_CLIENT = new InjectionToken<Promise<TodoClient>>('rxsync: client', {
  providedIn: 'root',
  factory: () => {
    const { database } = inject(SYNC_CONFIG);
    const client = createWorkerSyncClient({
      schema,
      database,
      // Written out here, in the app's own code, so that the Angular CLI bundles the worker.
      worker: () => new SharedWorker(new URL('./rxsync.worker', import.meta.url), { type: 'module', name: 'rxsync' }),
      // This tab's candidate holder of the database in OPFS (the same script, as a dedicated worker).
      holderWorker: () => new Worker(new URL('./rxsync.worker', import.meta.url), { type: 'module', name: 'rxsync-opfs' }),
      wasmUrl: { 'wa-sqlite.wasm': syncWasm, 'wa-sqlite-async.wasm': asyncWasm },
    });
    inject(DestroyRef).onDestroy(() => void client.then((started) => started.cleanup()).catch(() => undefined));
    return client;
  },
});

/** Provides the config of rxsync: `bootstrapApplication(App, { providers: [provideSync({ url, database })] })`. */
export function provideSync(config: SyncConfig): EnvironmentProviders {
  return makeEnvironmentProviders([{ provide: SYNC_CONFIG, useValue: config }]);
}
