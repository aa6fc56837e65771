import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * SQLite's WAL checkpoints, off the event loop. Left to itself, SQLite checkpoints inside the
 * commit that takes the WAL past 1,000 pages: that commit copies the WAL into the database file and
 * fsyncs it, 4-9 ms on the bench VM, and every session's delivery waits behind it (the latency
 * bench's slowest server writes were these). Here a worker thread with a connection of its own runs
 * a PASSIVE checkpoint every `intervalMs`: PASSIVE never waits for the writer nor blocks it, so the
 * copy and the fsync happen beside the store's commits. The store's own connection keeps a
 * checkpoint of last resort, at `fallbackPages` (should the worker fall behind or fail).
 */
export interface WalCheckpointerOptions {
  /** How often the worker checkpoints (default 250 ms). */
  intervalMs?: number;
  /** wal_autocheckpoint of the store's connection: its own checkpoint, only past this many pages (default 10,000, ~40 MB). */
  fallbackPages?: number;
  /** A checkpoint that failed, or the worker that stopped (the fallback remains); the message says which. */
  onError?: (error: Error) => void;
}

/** The worker's code, evaluated as a CommonJS script: better-sqlite3 is loaded from the path the store resolved. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
const db = new Database(workerData.file, { fileMustExist: true });
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(db: Database.Database, options: WalCheckpointerOptions = {}) {
    const { intervalMs = 250, fallbackPages = 10_000, onError = () => undefined } = options;
    db.pragma(`wal_autocheckpoint = ${Math.floor(fallbackPages)}`);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file: db.name, intervalMs, modulePath: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    this.worker.on('message', (message: { error?: string }) => {
      if (message.error) onError(new Error(`a WAL checkpoint failed (${message.error}); the next one is in ${intervalMs} ms`));
    });
    this.worker.on('error', (error) =>
      onError(new Error(`the WAL checkpointer stopped (${error.message}); the store's connection checkpoints past ${fallbackPages} pages from now on`)),
    );
    this.worker.unref(); // a checkpointer alone never keeps the process alive
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  /** Stops the worker (its connection closed first); resolves once it has exited. */
  async close(): Promise<void> {
    this.worker.postMessage('close');
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
