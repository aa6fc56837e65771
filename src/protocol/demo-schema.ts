import { defineSchema } from './index.js';

/** The schema `npm start` serves and the callback facade defaults to: a todo list. Shared by client and server. */
export const demoSchema = defineSchema({
  tables: {
    todos: {
      primaryKey: 'id',
      columns: { id: 'text', title: 'text', done: 'integer', updated_at: 'text' },
    },
  },
});
