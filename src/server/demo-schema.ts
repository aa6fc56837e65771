import { defineSchema } from '../protocol/index.js';

/** The schema `npm start` serves: a todo list. */
export const demoSchema = defineSchema({
  tables: {
    todos: {
      primaryKey: 'id',
      columns: { id: 'text', title: 'text', done: 'integer', updated_at: 'text' },
    },
  },
});
