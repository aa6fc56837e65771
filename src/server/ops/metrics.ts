import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CLIENT_MESSAGE_CODECS, SERVER_MESSAGE_CODECS, type ServerMessage } from '../../protocol/index.js';
import type { StoreHealth, WriteResult } from '../store/store.js';

/** What an inbound frame was: a protocol message type, or a frame refused before it was one. */
type InboundKind = keyof typeof CLIENT_MESSAGE_CODECS | 'invalid';
type OutboundKind = ServerMessage['type'];
type PushOutcome = WriteResult['status'];

const INBOUND_KINDS = [...Object.keys(CLIENT_MESSAGE_CODECS), 'invalid'] as InboundKind[];
const OUTBOUND_KINDS = Object.keys(SERVER_MESSAGE_CODECS) as OutboundKind[];
const PUSH_OUTCOMES: readonly PushOutcome[] = ['applied', 'duplicate', 'rejected'];

/** From a commit reported by the store to its frame handed to a session's socket: within a turn when the server keeps up. */
const DELIVERY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the metrics read at scrape time. */
export interface MetricsSources {
  sessionCount(): number;
  /** The store's health, or undefined when it cannot answer (its database is down). */
  health(): Promise<StoreHealth | undefined>;
  /** Whether `/readyz` would answer 200 given this health. */
  isReady(health: StoreHealth | undefined): boolean;
  /** Add the process's own metrics (see SyncServerOptions.processMetrics). */
  processMetrics?: boolean;
}

/**
 * One server's Prometheus metrics (docs/operations.md), in a registry of its own so that several
 * servers in one process do not share counters. The process's own metrics (event-loop lag, memory,
 * CPU, GC), when asked for, are one set per process, merged in at scrape time.
 *
 * The counting calls are on the hot path (every frame in and out): they add to plain numbers, and
 * prom-client hears the increase when scraped. The store's health is read once per scrape.
 */
export class ServerMetrics {
  /** `text/plain; version=0.0.4; charset=utf-8`: what `/metrics` answers with. */
  readonly contentType: string;
  private readonly registry = new Registry();
  private readonly received = new Tally<InboundKind>(INBOUND_KINDS);
  private readonly sent = new Tally<OutboundKind>(OUTBOUND_KINDS);
  private readonly pushed = new Tally<PushOutcome>(PUSH_OUTCOMES);
  private readonly bytes = new Tally<'in' | 'out' | 'snapshotRows'>(['in', 'out', 'snapshotRows']);
  private readonly delivery: Histogram;
  private readonly scraped: Registry[];

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    // Started now, so that the event-loop figures cover the time before the first scrape.
    this.scraped = sources.processMetrics ? [processRegistry(), this.registry] : [this.registry];
    this.contentType = this.registry.contentType;
    this.received.expose({
      name: 'rxsync_messages_received_total',
      help: 'Frames received from clients, by protocol message type (invalid: refused before decoding, rate-limited or malformed).',
      registers,
      label: 'type',
    });
    this.sent.expose({ name: 'rxsync_messages_sent_total', help: 'Messages sent to clients, by protocol message type.', registers, label: 'type' });
    this.bytes.expose({ name: 'rxsync_received_bytes_total', help: 'Bytes of the frames received from clients.', registers, only: 'in' });
    this.bytes.expose({ name: 'rxsync_sent_bytes_total', help: 'Bytes of the frames sent to clients.', registers, only: 'out' });
    this.bytes.expose({ name: 'rxsync_snapshot_rows_total', help: 'Rows sent to clients in snapshot chunks.', registers, only: 'snapshotRows' });
    this.pushed.expose({
      name: 'rxsync_push_changes_total',
      help: "Client changes pushed, by the store's result: applied, duplicate (a resend already applied) or rejected.",
      registers,
      label: 'result',
    });
    this.delivery = new Histogram({
      name: 'rxsync_fanout_delivery_seconds',
      help: "Seconds from the store reporting a commit to its changes being handed to a caught-up session's socket (live path; once per session).",
      buckets: DELIVERY_BUCKETS,
      registers,
    });
    exposeState(sources, registers);
  }

  /** An inbound frame of `bytes` bytes; `kind` is its decoded message type, never a string a client chose. */
  messageIn(kind: InboundKind, bytes: number): void {
    this.received.counts[kind] += 1;
    this.bytes.counts.in += bytes;
  }

  /** A message handed to a socket as `bytes` bytes. */
  messageOut(message: ServerMessage, bytes: number): void {
    this.sent.counts[message.type] += 1;
    this.bytes.counts.out += bytes;
    if (message.type === 'snapshot_chunk') this.bytes.counts.snapshotRows += message.rows.length;
  }

  /** What the store made of one push's changes. */
  pushResults(results: readonly WriteResult[]): void {
    for (const result of results) this.pushed.counts[result.status] += 1;
  }

  /** A commit the store reported at `reportedAt` (performance.now()) was just handed to one session's socket. */
  delivered(reportedAt: number): void {
    this.delivery.observe((performance.now() - reportedAt) / 1000);
  }

  /** The Prometheus text: this server's metrics (and the process's). */
  async scrape(): Promise<string> {
    return (this.scraped.length === 1 ? this.registry : Registry.merge(this.scraped)).metrics();
  }
}

/** The gauges read at scrape time: sessions, and what the store's health says (one health() per scrape). */
function exposeState(sources: MetricsSources, registers: Registry[]): void {
  // Every gauge's collect runs in the same turn of one scrape: they share one health() call.
  let current: Promise<StoreHealth | undefined> | undefined;
  const health = (): Promise<StoreHealth | undefined> =>
    (current ??= sources.health().finally(() => {
      current = undefined;
    }));
  /** A gauge read from the health; NaN (no value) while the store cannot say. */
  const fromHealth = (name: string, help: string, read: (health: StoreHealth) => number | null) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const known = await health();
        this.set((known && read(known)) ?? NaN);
      },
    });
  new Gauge({
    name: 'rxsync_sessions',
    help: 'Client connections open now.',
    registers,
    collect() {
      this.set(sources.sessionCount());
    },
  });
  new Gauge({
    name: 'rxsync_store_up',
    help: "1 when the store's database answers, 0 when it does not.",
    registers,
    async collect() {
      this.set((await health()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rxsync_ready',
    help: '1 when /readyz answers 200: the store is ready and the server is not draining.',
    registers,
    async collect() {
      this.set(sources.isReady(await health()) ? 1 : 0);
    },
  });
  fromHealth('rxsync_change_log_lag_seconds', "Seconds this process's view of the change log trails what is stored in it.", (h) => h.changeLogLagSeconds);
  fromHealth('rxsync_replication_lag_seconds', "Seconds the change log trails the source database's commits.", (h) => h.replicationLagSeconds);
  fromHealth(
    'rxsync_replication_lag_bytes',
    'WAL bytes the source has that the change log has not stored (no value when unknown).',
    (h) => h.replicationLagBytes,
  );
  new Gauge({
    name: 'rxsync_role',
    help: "This process's role: 1 for the role it has (replicator writes the change log, follower serves from it); 0 for both while the store cannot say.",
    labelNames: ['role'],
    registers,
    async collect() {
      const role = (await health())?.role;
      for (const each of ['replicator', 'follower'] as const) this.set({ role: each }, role === each ? 1 : 0);
    },
  });
}

/**
 * Counts kept as plain numbers, one per key: what the hot path adds to. A counter exposed over
 * some of the keys hears their increase since the last scrape when it is collected.
 */
class Tally<K extends string> {
  readonly counts: Record<K, number>;
  private readonly reported: Record<K, number>;

  constructor(private readonly keys: readonly K[]) {
    this.counts = Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
    this.reported = { ...this.counts };
  }

  /** A counter labelled `label` with one series per key, or an unlabelled one of the key `only`. */
  expose(config: { name: string; help: string; registers: Registry[]; label?: string; only?: K }): void {
    const { label, only } = config;
    const keys = only === undefined ? this.keys : [only];
    const counter: Counter = new Counter({
      name: config.name,
      help: config.help,
      registers: config.registers,
      labelNames: label ? [label] : [],
      collect: () => {
        for (const key of keys) {
          const increase = this.counts[key] - this.reported[key];
          if (increase === 0) continue;
          this.reported[key] = this.counts[key];
          if (label) counter.inc({ [label]: key }, increase);
          else counter.inc(increase);
        }
      },
    });
    // Every series from the first scrape on, at 0: a rate over a series that appears late misses its start.
    if (label) for (const key of keys) counter.inc({ [label]: key }, 0);
  }
}

let shared: Registry | undefined;

/** The process's metrics (nodejs_eventloop_lag_seconds, memory, CPU, GC): one set, whatever the number of servers. */
function processRegistry(): Registry {
  // collectDefaultMetrics starts an event-loop delay monitor and a GC observer that nothing can
  // stop: once per process, not once per server (and only when asked for).
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
