import { defineSchema } from 'rxsync/browser';

/** The server's schema (../../schema.json): the same definition gives the same hash, which the server checks. */
export const schema = defineSchema({
  tables: {
    todos: { primaryKey: 'id', columns: { id: 'text', title: 'text', done: 'integer' } },
  },
});

export interface Todo {
  id: string;
  title: string;
  done: number;
}
