import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineSchema } from '../../../src/protocol/index.js';
import { loadRules } from '../../../src/server/rules/load-rules.js';
import { listsSchema } from './rules-fixtures.js';

/** The tables docs/rules.md's examples use. */
const docsSchema = defineSchema({
  tables: {
    ...listsSchema.tables,
    notes: { primaryKey: 'id', columns: { id: 'text', owner_id: 'text', body: 'text' } },
    projects: { primaryKey: 'id', columns: { id: 'text', org_id: 'text', name: 'text' } },
    countries: { primaryKey: 'code', columns: { code: 'text', name: 'text' } },
  },
});

describe('docs/rules.md', () => {
  const text = readFileSync(join(__dirname, '../../../docs/rules.md'), 'utf8');
  const examples = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]);

  it('has its five rules files', () => {
    expect(examples).toHaveLength(5);
  });

  it.each(examples.map((example, i) => [i, example]))('example %i compiles', (_i, example) => {
    expect(() => loadRules(example, docsSchema)).not.toThrow();
  });
});
