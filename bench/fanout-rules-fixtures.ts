/**
 * What bench/fanout-rules shares between its processes: the schema, the rules, the token secret
 * and the rows' payload.
 *
 * - `items` rows belong to one user (`owner` = 'u0' .. 'u999'); under the rules each user's stream
 *   `mine` holds only their own rows (a claim-routed stream: one route key per user).
 * - `news` has a stream with no `where`: every row to every user (routed by `news|*`).
 * Both carry the write's wall-clock stamp (`x`) and a per-phase sequence number (`n`), as the
 * fanout bench's rows do, so a receiver times and orders a change from the frame alone.
 */
import { defineSchema, type SyncSchema } from '../src/protocol/index.js';

export const rulesBenchSchema: SyncSchema = defineSchema({
  tables: {
    items: { primaryKey: 'id', columns: { id: 'text', owner: 'text', n: 'integer', x: 'real', payload: 'text' } },
    news: { primaryKey: 'id', columns: { id: 'text', body: 'text', n: 'integer', x: 'real' } },
  },
});

/** The rules of issue 12's bench: per-user items, news for everyone. */
export const RULES_BENCH_RULES = {
  streams: {
    mine: { table: 'items', where: 'owner = auth.sub' },
    news: { table: 'news' },
  },
};

/** HS256 secret of the bench's tokens (the server verifies them with the same). */
export const RULES_BENCH_SECRET = 'fanout-rules-bench-secret-0123456789-abcdefghij';

/** The user of the session with global index `i`. */
export const userOf = (i: number): string => `u${i}`;

/** ~100 characters, like the other benches' row bodies. */
export const PAYLOAD = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore e';
