/**
 * Invalid messages in a row from one client (undecodable, out of place, refused). Each gets an
 * error reply; a valid message starts the count over, and at `max` in a row the client is closed:
 * it is broken or hostile, and every error costs the server a reply.
 */
export class InvalidMessages {
  private inRow = 0;

  constructor(private readonly max: number) {}

  /** Counts one; true when that makes too many (close the connection). */
  count(): boolean {
    this.inRow += 1;
    return this.inRow >= this.max;
  }

  /** A message was handled: the count starts over. */
  reset(): void {
    this.inRow = 0;
  }
}
