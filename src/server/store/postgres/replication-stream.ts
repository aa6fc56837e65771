import type pg from 'pg';
import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { lsnFromBigInt, type Lsn } from '../../../protocol/index.js';
import { quoteIdentifier } from '../../../sql/index.js';

/** What the walsender sends, in the order it sent it. */
export type ReplicationEvent =
  | { kind: 'message'; message: Pgoutput.Message }
  /** A keepalive: every transaction committed before `walEnd` has been sent. */
  | { kind: 'keepalive'; walEnd: Lsn; replyRequested: boolean };

/** Pause the socket when this many events wait, resume when they are down to RESUME_AT. */
const PAUSE_AT = 1000;
const RESUME_AT = 100;

/** Microseconds between 1970-01-01 and 2000-01-01, Postgres's epoch for replication timestamps. */
const POSTGRES_EPOCH_US = 946_684_800_000_000n;

/**
 * One `START_REPLICATION ... LOGICAL` stream of `pgoutput` on a replication connection, with
 * nothing acknowledged unless the caller says so. pg-logical-replication's service acknowledges
 * what it received (on each message, and by a timer even with auto-ack off) and answers keepalives
 * out of order with the data; this keeps only its pgoutput parser and does the rest: every event is
 * handled in the order the server sent it, one at a time (`handle` may be async; the socket pauses
 * while events queue up, so a 100k-row transaction costs bounded memory), and the flush position
 * reported to the server is only ever what `acknowledge` was given.
 *
 * Values of every type are kept as Postgres's text output (the parser's per-type parsers are
 * replaced): pg-values.ts converts them, the same way as snapshot reads.
 */
export class ReplicationStream {
  private readonly plugin: PgoutputPlugin;
  private readonly queue: ReplicationEvent[] = [];
  private draining = false;
  private paused = false;
  private ended = false;
  private acknowledged = 0n;

  private constructor(
    private readonly client: pg.Client,
    publication: string,
    private readonly handle: (event: ReplicationEvent) => Promise<void>,
    private readonly onEnd: (error?: unknown) => void,
  ) {
    this.plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication], messages: true });
  }

  /**
   * Starts streaming the slot from `fromLsn` (the server resumes from the slot's confirmed
   * position when that is later); resolves once the server streams, rejects when it refuses (the
   * slot is in use, missing, ...). After that, `onEnd` is called once, when the stream fails or the
   * connection ends; `handle` is not called after that.
   */
  static start(
    client: pg.Client,
    names: { slot: string; publication: string },
    fromLsn: Lsn,
    handle: (event: ReplicationEvent) => Promise<void>,
    onEnd: (error?: unknown) => void,
  ): Promise<ReplicationStream> {
    return new Promise((resolve, reject) => {
      let started = false;
      const stream = new ReplicationStream(client, names.publication, handle, (error) => {
        if (started) onEnd(error);
        else reject(error);
      });
      const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
      connection.once('replicationStart', () => {
        started = true;
        resolve(stream);
      });
      connection.on('copyData', ({ chunk }: { chunk: Buffer }) => stream.receive(chunk));
      client.on('error', (error) => stream.end(error));
      client.on('end', () => stream.end(new Error('the replication connection ended')));
      // The publication name goes in a string literal: quote it as one (identifiers were checked).
      const publications = names.publication.replace(/'/g, "''");
      client
        .query(
          `START_REPLICATION SLOT ${quoteIdentifier(names.slot)} LOGICAL ${fromLsn} (proto_version '1', publication_names '${publications}', messages 'true')`,
        )
        .then(
          () => stream.end(new Error('the replication stream ended')),
          (error: unknown) => stream.end(error),
        );
    });
  }

  /** Events received and not handled yet. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Reports `lsn` as written and flushed: the server may drop WAL before it and will not send
   * again a transaction that ended at or before it. Only ever called with what is stored.
   */
  acknowledge(lsn: bigint): void {
    if (lsn > this.acknowledged) this.acknowledged = lsn;
    this.sendStatus(false);
  }

  async close(): Promise<void> {
    this.ended = true;
    this.queue.length = 0;
    this.disconnect();
  }

  private receive(chunk: Buffer): void {
    if (this.ended) return;
    try {
      if (chunk[0] === 0x77 /* w: XLogData */) {
        // A copy: pg reuses the buffer a chunk points into, and the parser keeps views of it (a
        // logical message's content) that are read later, when the event's turn comes.
        const message = this.plugin.parse(Buffer.from(chunk.subarray(25))) as Pgoutput.Message;
        // Keep every value as text (the parser looks the relation up for each row it reads).
        if (message.tag === 'relation') for (const column of message.columns) column.parser = (raw: unknown) => raw;
        this.queue.push({ kind: 'message', message });
      } else if (chunk[0] === 0x6b /* k: keepalive */) {
        const replyRequested = chunk[17] === 1;
        // Answered at once, not behind queued data, so a long transaction never trips
        // wal_sender_timeout; the answer says what is stored, never more.
        if (replyRequested) this.sendStatus(false);
        this.queue.push({ kind: 'keepalive', walEnd: lsnFromBigInt(chunk.readBigUInt64BE(1)), replyRequested });
      } else {
        throw new Error(`unexpected replication message ${String.fromCharCode(chunk[0])}`);
      }
    } catch (error) {
      this.end(error);
      return;
    }
    if (this.queue.length >= PAUSE_AT && !this.paused) this.setPaused(true);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.ended) {
        await this.handle(this.queue.shift()!);
        if (this.paused && this.queue.length <= RESUME_AT) this.setPaused(false);
      }
    } catch (error) {
      this.end(error);
    } finally {
      this.draining = false;
    }
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    const socket = (this.client as unknown as { connection: { stream: { pause(): void; resume(): void } } }).connection.stream;
    if (paused) socket.pause();
    else socket.resume();
  }

  /** A standby status update: written, flushed and applied are all the acknowledged position. */
  private sendStatus(replyRequested: boolean): void {
    if (this.ended) return;
    const status = Buffer.alloc(34);
    status[0] = 0x72; // r
    status.writeBigUInt64BE(this.acknowledged, 1);
    status.writeBigUInt64BE(this.acknowledged, 9);
    status.writeBigUInt64BE(this.acknowledged, 17);
    status.writeBigInt64BE(BigInt(Date.now()) * 1000n - POSTGRES_EPOCH_US, 25);
    status[33] = replyRequested ? 1 : 0;
    (this.client as unknown as { connection: { sendCopyFromChunk(chunk: Buffer): void } }).connection.sendCopyFromChunk(status);
  }

  private end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.disconnect();
    this.onEnd(error);
  }

  /**
   * Closes the socket itself, not only politely: a walsender in COPY BOTH mode does not act on a
   * Terminate, and at a shutdown of Postgres it waits for this end to confirm everything sent (up
   * to wal_sender_timeout, a minute by default) unless the connection is gone. A replicator that
   * failed mid-transaction (its writer cut by that same shutdown) must not hold the restart up.
   */
  private disconnect(): void {
    void this.client.end().catch(() => undefined);
    (this.client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}
