import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HELP, main, parseServeArgs, serve } from '../../src/server/cli.js';
import { demoListsSchema, demoToken } from '../../src/server/demo.js';
import { RulesError } from '../../src/server/index.js';
import { testSchema } from '../support/test-schema.js';
import { TestPeer } from '../support/test-peer.js';

/** A schema of notes with an owner, and rules that give each user their own (docs/rules.md). */
const notesTables = { notes: { primaryKey: 'id', columns: { id: 'text', owner_id: 'text', body: 'text' } } };
const notesRules = { streams: { mine: { table: 'notes', where: 'owner_id = auth.sub' } }, writes: { notes: { insert: 'owner_id = auth.sub' } } };
const SECRET = 'cli-spec-secret-long-enough-0123456789';

describe('rxsync serve', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rxsync-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes `text` (or JSON) to a file of the spec's directory; its path. */
  const file = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  it('prints the package version with --version', async () => {
    const written: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      expect(await main(['--version'])).toBe(0);
    } finally {
      write.mockRestore();
    }
    const { version } = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(written.join('')).toBe(`${version}\n`);
    expect(HELP).toContain('--version');
  });

  it('explains every flag in --help', () => {
    const flags = ['--port', '--host', '--db', '--postgres', '--slot', 'DATABASE_URL', '--schema', '--demo', '--retention', 'PORT', '/healthz'];
    const tokenFlags = [
      '--rules',
      '--jwt-secret',
      'RXSYNC_JWT_SECRET',
      '--jwt-public-key',
      '--jwks-url',
      '--jwt-audience',
      '--jwt-issuer',
      '/demo/token',
      '4401',
      '4403',
    ];
    for (const flag of [...flags, ...tokenFlags]) expect(HELP).toContain(flag);
  });

  it('serves Postgres with --postgres, or with DATABASE_URL alone when no --db is given', () => {
    const file = join(dir, 'schema-pg.json');
    writeFileSync(file, JSON.stringify({ tables: testSchema.tables }));
    const url = 'postgres://app:secret@db:5432/app';
    expect(parseServeArgs(['--schema', file, '--postgres', url, '--slot', 'rxsync_app'], {})).toMatchObject({ postgres: url, slot: 'rxsync_app' });
    expect(parseServeArgs(['--schema', file], { DATABASE_URL: url })).toMatchObject({ postgres: url });
    expect(parseServeArgs(['--schema', file, '--postgres', url], { DATABASE_URL: 'postgres://other/db' })).toMatchObject({ postgres: url });
    // --db (SQLite) wins over the environment, and the demo stays on its own file.
    expect(parseServeArgs(['--schema', file, '--db', ':memory:'], { DATABASE_URL: url }).postgres).toBeUndefined();
    expect(parseServeArgs(['--demo'], { DATABASE_URL: url }).postgres).toBeUndefined();
    expect(parseServeArgs(['--schema', file], {}).postgres).toBeUndefined();
  });

  it('reads a schema file and the flags', () => {
    const file = join(dir, 'schema.json');
    writeFileSync(file, JSON.stringify({ tables: testSchema.tables }));
    const options = parseServeArgs(['--port', '9001', '--db', join(dir, 'x.db'), '--schema', file, '--retention', '50'], {});
    expect(options).toMatchObject({ port: 9001, host: '127.0.0.1', database: join(dir, 'x.db'), demo: false, retention: 50 });
    expect(options.schema.hash).toBe(testSchema.hash);
  });

  it('honours PORT, and --port over PORT', () => {
    expect(parseServeArgs(['--demo'], { PORT: '4321' }).port).toBe(4321);
    expect(parseServeArgs(['--demo', '--port', '0'], { PORT: '4321' }).port).toBe(0);
    expect(parseServeArgs(['--demo'], {}).port).toBe(8787);
  });

  it.each([
    [['--port', 'abc', '--demo'], /--port/],
    [['--port', '70000', '--demo'], /--port/],
    [[], /--schema <file> is required/],
    [['--demo', '--schema', 'x.json'], /either --demo or --schema/],
    [['--schema', '/nonexistent/schema.json'], /cannot read schema/],
    [['--demo', '--retention', '-1'], /--retention/],
    [['--demo', '--bogus'], /Unknown option/],
    [['--demo', '--db', 'x.db', '--postgres', 'postgres://h/d'], /either --db \(SQLite\) or --postgres/],
    [['--demo', '--slot', 'x'], /--slot is for a Postgres source/],
    [['--demo', '--rules', 'rules.yaml'], /--demo brings its own rules and signs its own tokens: --rules is for/],
    [['--demo', '--jwt-secret', SECRET], /--demo brings its own rules and signs its own tokens: --jwt-secret is for/],
    [['--demo', '--jwks-url', 'https://id.example/jwks.json'], /--jwks-url is for a server of yours/],
  ])('refuses %j with a clear message', (argv, message) => {
    expect(() => parseServeArgs(argv as string[], {})).toThrow(message);
  });

  it('refuses a schema file with a hostile table name', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ tables: { 'x; DROP TABLE y': { primaryKey: 'id', columns: { id: 'text' } } } }));
    expect(() => parseServeArgs(['--schema', file], {})).toThrow(/not a plain identifier/);
  });

  describe('rules and tokens', () => {
    it('reads a rules file (YAML) and checks it against the schema', () => {
      const schema = file('notes.json', { tables: notesTables });
      const rules = file('rules.yaml', 'streams:\n  mine: { table: notes, where: "owner_id = auth.sub" }\n');
      const options = parseServeArgs(['--schema', schema, '--rules', rules, '--jwt-secret', SECRET], {});
      expect(options.rules?.streams.map((stream) => stream.name)).toEqual(['mine']);
      expect(options.jwt).toEqual({ secret: SECRET });
      expect(options.warnings).toEqual([]);
    });

    it('takes the rules a schema file carries next to its tables, unless --rules is given', () => {
      const schema = file('notes-with-rules.json', { tables: notesTables, rules: notesRules });
      const options = parseServeArgs(['--schema', schema, '--jwt-secret', SECRET], {});
      expect(options.schema.tableNames).toEqual(['notes']);
      expect(options.rules?.writes.has('notes')).toBe(true);
      // The rules key is not part of the schema: the hash is the one of the tables alone.
      expect(options.schema.hash).toBe(parseServeArgs(['--schema', file('notes-only.json', { tables: notesTables })], {}).schema.hash);

      const rules = file('other-rules.json', { streams: { all: { table: 'notes' } } });
      const replaced = parseServeArgs(['--schema', schema, '--rules', rules, '--jwt-secret', SECRET], {});
      expect(replaced.rules?.streams.map((stream) => stream.name)).toEqual(['all']);
      expect(replaced.warnings).toEqual([`--rules ${rules} replaces the rules in ${schema}`]);
    });

    it('reports a mistake in a rules file as a RulesError with the file and the line', () => {
      const schema = file('notes.json', { tables: notesTables });
      const rules = file('bad-rules.yaml', 'streams:\n  mine: { table: notes, where: "ownr = auth.sub" }\n');
      const parse = () => parseServeArgs(['--schema', schema, '--rules', rules, '--jwt-secret', SECRET], {});
      expect(parse).toThrow(RulesError);
      expect(parse).toThrow(`${rules}:2: streams.mine.where: unknown column 'ownr' in table notes (columns: body, id, owner_id)`);
      // In a schema file, under the key the rules sit at.
      const inSchema = file('bad-schema-rules.json', { tables: notesTables, rules: { streams: { mine: { table: 'notez' } } } });
      expect(() => parseServeArgs(['--schema', inSchema], {})).toThrow(new RegExp(`^${inSchema}: rules\\.streams\\.mine\\.table: unknown table 'notez'`));
      expect(() => parseServeArgs(['--schema', schema, '--rules', join(dir, 'missing.yaml')], {})).toThrow(/cannot read rules .*missing\.yaml/);
    });

    it('prints a rules mistake as it is and exits non-zero', async () => {
      const schema = file('notes.json', { tables: notesTables });
      const rules = file('bad-rules.yaml', 'streams:\n  mine: { table: notes, where: "ownr = auth.sub" }\n');
      const written: string[] = [];
      const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
      try {
        expect(await main(['serve', '--schema', schema, '--rules', rules, '--jwt-secret', SECRET])).toBe(1);
      } finally {
        stderr.mockRestore();
      }
      expect(written.join('')).toBe(`${rules}:2: streams.mine.where: unknown column 'ownr' in table notes (columns: body, id, owner_id)\n`);
    });

    it('takes the secret from RXSYNC_JWT_SECRET when no key flag is given', () => {
      const schema = file('notes-with-rules.json', { tables: notesTables, rules: notesRules });
      expect(parseServeArgs(['--schema', schema], { RXSYNC_JWT_SECRET: SECRET }).jwt).toEqual({ secret: SECRET });
      expect(parseServeArgs(['--schema', schema, '--jwt-secret', `${SECRET}-flag`], { RXSYNC_JWT_SECRET: SECRET }).jwt).toEqual({ secret: `${SECRET}-flag` });
      // Another key flag wins over the environment, which is then not a second source.
      const jwks = parseServeArgs(['--schema', schema, '--jwks-url', 'https://id.example/jwks.json'], { RXSYNC_JWT_SECRET: SECRET }).jwt;
      expect(jwks).toEqual({ jwksUrl: 'https://id.example/jwks.json' });
      expect(parseServeArgs(['--schema', schema], { RXSYNC_JWT_SECRET: '' }).jwt).toBeUndefined();
    });

    it('reads a PEM public key file, and the audience and issuer', () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const schema = file('notes-with-rules.json', { tables: notesTables, rules: notesRules });
      const options = parseServeArgs(
        ['--schema', schema, '--jwt-public-key', file('key.pem', pem), '--jwt-audience', 'sync', '--jwt-issuer', 'https://id.example/'],
        {},
      );
      expect(options.jwt).toEqual({ publicKey: pem, audience: 'sync', issuer: 'https://id.example/' });
    });

    it('allows rules without a token source, with a warning that every client is anonymous', () => {
      const schema = file('notes-with-rules.json', { tables: notesTables, rules: notesRules });
      const options = parseServeArgs(['--schema', schema], {});
      expect(options.rules).toBeDefined();
      expect(options.jwt).toBeUndefined();
      expect(options.warnings).toEqual([expect.stringContaining('every client is anonymous')]);
      // Tokens without rules are fine too: verified clients, every row to each.
      expect(parseServeArgs(['--schema', file('notes.json', { tables: notesTables }), '--jwt-secret', SECRET], {}).warnings).toEqual([]);
    });

    it('warns about a short secret without saying it', () => {
      const options = parseServeArgs(['--schema', file('notes.json', { tables: notesTables }), '--jwt-secret', 'hunter2'], {});
      expect(options.warnings).toEqual([expect.stringContaining('--jwt-secret secret is shorter than 32 characters')]);
      expect(options.warnings.join('\n')).not.toContain('hunter2');
    });

    it.each([
      [['--jwt-secret', SECRET, '--jwks-url', 'https://id.example/jwks.json'], /give one token key source, not --jwt-secret and --jwks-url/],
      [['--jwt-secret', SECRET, '--jwt-public-key', 'key.pem'], /give one token key source, not --jwt-secret and --jwt-public-key/],
      [['--jwt-audience', 'sync'], /--jwt-audience needs a token key source/],
      [['--jwt-issuer', 'https://id.example/'], /--jwt-issuer needs a token key source/],
      [['--jwks-url', 'ftp://id.example/jwks.json'], /^--jwks-url: jwksUrl must be an http\(s\) URL$/],
      [['--jwt-public-key', '/nonexistent/key.pem'], /cannot read --jwt-public-key \/nonexistent\/key\.pem/],
      [['--jwt-secret', ''], /^--jwt-secret: secret must be a non-empty string$/],
    ])('refuses the token flags %j, and never repeats the secret', (argv, message) => {
      let said = '';
      try {
        parseServeArgs(['--schema', file('notes.json', { tables: notesTables }), ...(argv as string[])], {});
      } catch (error) {
        said = (error as Error).message;
      }
      expect(said).toMatch(message);
      expect(said).not.toContain(SECRET);
    });

    it('refuses a key file that is not a PEM public key', () => {
      const schema = file('notes.json', { tables: notesTables });
      expect(() => parseServeArgs(['--schema', schema, '--jwt-public-key', file('not-a-key.pem', 'hello')], {})).toThrow(
        /^--jwt-public-key: publicKey is not a valid PEM public key$/,
      );
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const privatePem = file('private.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      expect(() => parseServeArgs(['--schema', schema, '--jwt-public-key', privatePem], {})).toThrow(/holds a private key/);
    });

    it('takes rules on Postgres too, but not the demo (it makes its own tables)', () => {
      const schema = file('notes-with-rules.json', { tables: notesTables, rules: notesRules });
      expect(parseServeArgs(['--schema', schema, '--postgres', 'postgres://h/d', '--jwt-secret', SECRET], {}).rules).toBeDefined();
      expect(parseServeArgs(['--schema', schema, '--jwt-secret', SECRET], { DATABASE_URL: 'postgres://h/d' }).rules).toBeDefined();
      expect(() => parseServeArgs(['--demo', '--postgres', 'postgres://h/d'], {})).toThrow(/--demo serves its own SQLite database/);
      // Dropping the slot serves nothing: the rules do not stand in the way.
      expect(parseServeArgs(['--schema', schema, '--postgres', 'postgres://h/d', '--drop-slot'], {}).dropSlot).toBe(true);
    });
  });

  it('--demo: its own schema and rules, and a new secret at every start', () => {
    const one = parseServeArgs(['--demo'], {});
    const two = parseServeArgs(['--demo'], { RXSYNC_JWT_SECRET: SECRET });
    expect(one.schema.hash).toBe(demoListsSchema.hash);
    expect(one.rules?.streams.map((stream) => stream.table).sort()).toEqual(['list_members', 'lists', 'todos']);
    expect(one.jwt?.secret).toMatch(/^[\w-]{43}$/);
    expect(two.jwt?.secret).not.toBe(one.jwt?.secret);
    expect(two.jwt?.secret).not.toBe(SECRET);
    expect(one).toMatchObject({ demo: true, database: './data/demo-lists.db', warnings: [] });
  });

  it('serves the demo: seeded lists, /healthz, the sync endpoint with per-user rules, and demo tokens', async () => {
    const options = parseServeArgs(['--demo', '--port', '0', '--db', join(dir, 'demo.db')], {});
    const server = await serve(options);
    try {
      const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      expect(await health.json()).toMatchObject({ ok: true });
      expect(await server.query('SELECT id FROM lists ORDER BY id')).toEqual([{ id: 'alice-groceries' }, { id: 'bob-garage' }, { id: 'shared-trip' }]);
      expect(await server.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 5 }]);

      // bob's snapshot: his list and the one alice shares with him, their todos, and his membership.
      const peer = await TestPeer.connect(server.url);
      peer.hello(demoListsSchema, { token: await demoToken(options.jwt!.secret!, 'bob') });
      expect((await peer.next('welcome')).mode).toBe('initial');
      const tables = (await peer.next('snapshot_begin')).tables.map(({ table, rows }) => ({ table, rows }));
      expect(tables).toEqual([
        { table: 'list_members', rows: 1 },
        { table: 'lists', rows: 2 },
        { table: 'todos', rows: 4 },
      ]);
      await peer.close();

      // No token, no session.
      const anonymous = await TestPeer.connect(server.url);
      anonymous.hello(demoListsSchema);
      expect(await anonymous.closed).toBe(4401);

      const token = await fetch(`http://127.0.0.1:${server.port}/demo/token?user=alice`, { method: 'POST' });
      expect(token.status).toBe(200);
      expect(await token.json()).toMatchObject({ user: 'alice', token: expect.stringMatching(/^ey/) });
    } finally {
      await server.close();
    }
    // A second start over the same file keeps the data and does not seed again.
    const again = await serve(parseServeArgs(['--demo', '--port', '0', '--db', join(dir, 'demo.db')], {}));
    expect(await again.query('SELECT count(*) AS n FROM todos')).toEqual([{ n: 5 }]);
    await again.close();
  });

  it('hands --retention to the embedded store', async () => {
    const server = await serve(parseServeArgs(['--demo', '--port', '0', '--db', ':memory:', '--retention', '2'], {}));
    try {
      // The demo seeds nine rows, one commit each; a log of two keeps the last two.
      expect(server.currentLsn()).toBe('0/9');
      expect(server.store.oldestResumableLsn()).toBe('0/7');
    } finally {
      await server.close();
    }
  });
});
