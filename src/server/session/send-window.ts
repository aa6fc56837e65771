import { compareLsn, type Lsn } from '../../protocol/index.js';

/**
 * Flow control for one session: how many messages are in flight (sent, not yet acknowledged).
 * Snapshot chunks are acknowledged by sequence number and `changes` messages by LSN, both
 * cumulatively, so one small ack frees everything up to it. The session sends only while
 * `hasRoom`, which bounds a session's memory and the socket's buffer whatever the data size.
 */
export class ChunkWindow {
  private sent = 0;
  private acked = 0;
  constructor(private readonly size: number) {}

  get hasRoom(): boolean {
    return this.sent - this.acked < this.size;
  }
  get lastSent(): number {
    return this.sent;
  }
  /** The sequence number of the chunk about to be sent. */
  next(): number {
    return ++this.sent;
  }
  /** False for an ack of a chunk never sent. An older ack than one already seen changes nothing. */
  ack(seq: number): boolean {
    if (seq > this.sent) return false;
    this.acked = Math.max(this.acked, seq);
    return true;
  }
}

export class LsnWindow {
  private readonly inFlight: Lsn[] = [];
  constructor(private readonly size: number) {}

  get hasRoom(): boolean {
    return this.inFlight.length < this.size;
  }
  get pending(): number {
    return this.inFlight.length;
  }
  sent(lsn: Lsn): void {
    this.inFlight.push(lsn);
  }
  /** Frees every message at or below `lsn`. False for an LSN beyond the last one sent. */
  ack(lsn: Lsn, lastSent: Lsn): boolean {
    if (compareLsn(lsn, lastSent) > 0) return false;
    while (this.inFlight.length > 0 && compareLsn(this.inFlight[0], lsn) <= 0) this.inFlight.shift();
    return true;
  }
}
