import type { StoreHealth, SyncStore } from '../store/store.js';
import { storeHealth } from './routes.js';

export interface ReadinessWatchOptions {
  /** How often the store's health is read (default 2000 ms). */
  checkMs?: number;
  /** How long the store may stay not ready before its clients are sent elsewhere. */
  closeAfterMs: number;
  /** The store stayed not ready for `closeAfterMs`: send this process's clients to another one. */
  onLost(reason: string): void;
  /** The store is ready again after onLost. */
  onBack(): void;
}

/**
 * Moves clients off a process that lost its database. `/readyz` keeps a load balancer from sending
 * it new clients, but the sessions it has stay connected, their socket and heartbeat fine, while
 * nothing reaches them and their pushes cannot apply. When the store stays not ready (its
 * database unreachable, its view of the change log stale) for `closeAfterMs`, this tells the
 * server once (onLost), which closes those sessions for their clients to reconnect elsewhere, and
 * refuses new ones until the store is ready again (onBack).
 */
export class ReadinessWatch {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private notReadySince: number | undefined;
  private lost = false;
  private closed = false;

  constructor(
    private readonly store: Pick<SyncStore, 'health'>,
    private readonly options: ReadinessWatchOptions,
  ) {}

  /** Whether the store was lost (onLost) and is not back yet. */
  get isLost(): boolean {
    return this.lost;
  }

  start(): void {
    if (this.options.closeAfterMs === Infinity) return;
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.check().finally(() => this.closed || this.schedule()), this.options.checkMs ?? 2000);
    this.timer.unref?.();
  }

  private async check(): Promise<void> {
    let health: StoreHealth | undefined;
    let reason: string;
    try {
      health = await storeHealth(this.store);
      reason = health.reason ?? 'the store is not ready';
    } catch (error) {
      reason = `database unreachable: ${(error as Error).message}`;
    }
    if (this.closed) return;
    if (health?.ready) {
      this.notReadySince = undefined;
      if (this.lost) {
        this.lost = false;
        this.options.onBack();
      }
      return;
    }
    const now = Date.now();
    this.notReadySince ??= now;
    if (!this.lost && now - this.notReadySince >= this.options.closeAfterMs) {
      this.lost = true;
      this.options.onLost(reason);
    }
  }
}
