import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as t from 'io-ts';
import {
  CLIENT_MESSAGE_CODECS,
  CloseCode,
  ColumnTypeCodec,
  ErrorCodeCodec,
  LimitsCodec,
  PROTOCOL_VERSION,
  RETRYABLE_CODES,
  ResetReasonCodec,
  SERVER_MESSAGE_CODECS,
  SchemaDefinitionCodec,
  SyncModeCodec,
  decodeClientMessage,
  decodeServerMessage,
  defineSchema,
  type ErrorCode,
} from '../../src/protocol/index.js';
import { DEFAULT_LIMITS } from '../../src/server/limits.js';

/**
 * Keeps docs/protocol.md and the codecs in agreement: every message has its section, every field
 * of its codec is in that section, every error code, close code and limit is documented as the
 * code defines it, and every example frame decodes. Conventions the document follows for this:
 * a message section starts with a heading "### `type`", and its example frames are ```json blocks
 * (the first one directly under the heading).
 */

const markdown = readFileSync(path.join(__dirname, '../../docs/protocol.md'), 'utf8');

interface Section {
  level: number;
  title: string;
  body: string;
}

/** The document split at its headings (lines in fenced code blocks are never headings). */
function sections(text: string): Section[] {
  const result: Section[] = [];
  let current: Section = { level: 0, title: '', body: '' };
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      result.push(current);
      current = { level: heading[1].length, title: heading[2].trim(), body: '' };
    } else {
      current.body += line + '\n';
    }
  }
  result.push(current);
  return result;
}

const allSections = sections(markdown);

/** A section with its subsections (everything up to the next heading of the same or a higher level). */
function sectionText(title: string): string {
  const start = allSections.findIndex((s) => s.title === title);
  if (start < 0) throw new Error(`docs/protocol.md has no heading "${title}"`);
  const { level } = allSections[start];
  let text = allSections[start].body;
  for (let i = start + 1; i < allSections.length && allSections[i].level > level; i++) {
    text += `${'#'.repeat(allSections[i].level)} ${allSections[i].title}\n${allSections[i].body}`;
  }
  return text;
}

const jsonBlocks = (text: string): string[] => [...text.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

/** Table rows of a text, as arrays of trimmed cells. */
const tableRows = (text: string): string[][] =>
  text
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );

/** The table row whose first cell is `name` in backticks. */
function rowFor(text: string, name: string): string[] | undefined {
  return tableRows(text).find((cells) => cells[0] === `\`${name}\``);
}

/**
 * Every field path a codec defines: `lsn`, `limits.maxMessageBytes`, `changes[].origin.clientId`.
 * Walks t.type and t.partial props, the members of intersections and unions, refinements and
 * arrays. It stops at the schema definition (documented in its own section) and at leaves.
 */
function fieldPaths(codec: t.Mixed | t.Decoder<unknown, unknown>, prefix = ''): string[] {
  if (codec === SchemaDefinitionCodec) return [];
  const node = codec as unknown as { _tag?: string; props?: Record<string, t.Mixed>; types?: t.Mixed[]; type?: t.Mixed };
  switch (node._tag) {
    case 'InterfaceType':
    case 'PartialType':
    case 'StrictType':
      return Object.entries(node.props!).flatMap(([name, field]) => [prefix + name, ...fieldPaths(field, `${prefix}${name}.`)]);
    case 'IntersectionType':
    case 'UnionType':
      return [...new Set(node.types!.flatMap((member) => fieldPaths(member, prefix)))];
    case 'RefinementType':
    case 'ReadonlyType':
    case 'ExactType':
      return fieldPaths(node.type!, prefix);
    case 'ArrayType':
    case 'ReadonlyArrayType':
      return fieldPaths(node.type!, `${prefix.slice(0, -1)}[].`);
    default:
      return [];
  }
}

const clientTypes = Object.keys(CLIENT_MESSAGE_CODECS);
const serverTypes = Object.keys(SERVER_MESSAGE_CODECS);
const messageTypes = [...new Set([...clientTypes, ...serverTypes])];
const codecOf = (type: string) =>
  (CLIENT_MESSAGE_CODECS as Record<string, t.Decoder<unknown, unknown>>)[type] ?? (SERVER_MESSAGE_CODECS as Record<string, t.Decoder<unknown, unknown>>)[type];
const messageSection = (type: string) => sectionText(`\`${type}\``);

describe('docs/protocol.md', () => {
  it('is the specification of the version the code speaks', () => {
    expect(markdown.split('\n')[0]).toBe(`# The rxsync sync protocol, version ${PROTOCOL_VERSION}`);
  });

  describe('the field walker', () => {
    it('finds nested fields through intersections, unions, refinements and arrays', () => {
      expect(fieldPaths(SERVER_MESSAGE_CODECS.welcome)).toEqual(expect.arrayContaining(['sessionId', 'limits.heartbeatTimeoutMs', 'reason', 'schema']));
      expect(fieldPaths(SERVER_MESSAGE_CODECS.welcome)).not.toContain('schema.tables');
      expect(fieldPaths(SERVER_MESSAGE_CODECS.changes)).toEqual(expect.arrayContaining(['lsn', 'changes[].row', 'changes[].origin.changeId']));
      expect(fieldPaths(SERVER_MESSAGE_CODECS.push_result)).toEqual(expect.arrayContaining(['results[].lsn', 'results[].reason', 'results[].serverRow']));
      expect(fieldPaths(CLIENT_MESSAGE_CODECS.ping)).toEqual(['type', 'id']);
    });
  });

  describe.each(messageTypes)('message `%s`', (type) => {
    it('has its own section', () => {
      expect(allSections.filter((s) => s.title === `\`${type}\``)).toHaveLength(1);
      expect(allSections.find((s) => s.title === `\`${type}\``)!.level).toBe(3);
    });

    it('documents every field of its codec in its field table', () => {
      const section = messageSection(type);
      const documented = new Set(tableRows(section).map((cells) => cells[0]));
      const missing = fieldPaths(codecOf(type)).filter((field) => !documented.has(`\`${field}\``));
      expect(missing).toEqual([]);
    });

    it('gives example frames, the first directly under the heading, that decode as that message', () => {
      const section = messageSection(type);
      expect(section.trimStart().startsWith('```json\n')).toBe(true);
      const examples = jsonBlocks(section);
      expect(examples.length).toBeGreaterThan(0);
      for (const example of examples) {
        const frame = JSON.parse(example);
        expect(frame.type).toBe(type);
        const decoders = [...(clientTypes.includes(type) ? [decodeClientMessage] : []), ...(serverTypes.includes(type) ? [decodeServerMessage] : [])];
        for (const decode of decoders) {
          const decoded = decode(example);
          if (!decoded.ok) throw new Error(`example ${type} frame does not decode: ${decoded.error.message}\n${example}`);
          // Examples are written in canonical form, so decoding changes nothing.
          expect(decoded.value).toEqual(frame);
        }
      }
    });
  });

  it('has only message sections for known message types', () => {
    const headed = allSections.map((s) => /^`([a-z_]+)`$/.exec(s.title)?.[1]).filter((type): type is string => type !== undefined);
    expect(headed.sort()).toEqual([...messageTypes].sort());
  });

  it('has only valid JSON in its json blocks', () => {
    for (const block of jsonBlocks(markdown)) expect(() => JSON.parse(block)).not.toThrow();
  });

  it('documents every error code, and which ones are retryable', () => {
    const errors = sectionText('Errors');
    for (const code of Object.keys(ErrorCodeCodec.keys) as ErrorCode[]) {
      const row = rowFor(errors, code);
      if (!row) throw new Error(`error code ${code} has no row in the Errors table`);
      expect([code, row[2]]).toEqual([code, RETRYABLE_CODES.has(code) ? 'yes' : 'no']);
    }
    expect(tableRows(errors).filter((cells) => /^`[a-z_]+`$/.test(cells[0]))).toHaveLength(Object.keys(ErrorCodeCodec.keys).length);
  });

  it('documents every close code under its name', () => {
    const closeCodes = sectionText('Close codes');
    for (const [name, code] of Object.entries(CloseCode)) {
      const row = rowFor(closeCodes, String(code));
      if (!row) throw new Error(`close code ${code} has no row in the Close codes table`);
      expect(row[1]).toBe(`\`${name}\``);
    }
  });

  it('documents every limit with its default, and which ones travel in welcome.limits', () => {
    const limits = sectionText('Limits');
    for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
      const row = rowFor(limits, name);
      if (!row) throw new Error(`limit ${name} has no row in the Limits table`);
      expect([name, row[1].split(' ')[0]]).toEqual([name, String(value)]);
      expect([name, row[2]]).toEqual([name, name in LimitsCodec.props ? 'yes' : 'no']);
    }
    expect(Object.keys(LimitsCodec.props).every((name) => name in DEFAULT_LIMITS)).toBe(true);
  });

  it('names every mode, reset reason and column type', () => {
    for (const word of [...Object.keys(SyncModeCodec.keys), ...Object.keys(ResetReasonCodec.keys), ...Object.keys(ColumnTypeCodec.keys)]) {
      expect(markdown).toContain(`\`${word}\``);
    }
    const types = sectionText('Column types');
    for (const type of Object.keys(ColumnTypeCodec.keys)) expect(rowFor(types, type)).toBeDefined();
  });

  it('gives the right hash for its worked schema example', () => {
    const section = sectionText('Schema hash');
    const [definition] = jsonBlocks(section);
    const { hash } = defineSchema(JSON.parse(definition));
    expect(section).toContain(`the hash is \`${hash}\``);
  });
});
