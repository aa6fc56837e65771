import { decodeClientMessage, decodeServerMessage, PROTOCOL_VERSION } from '../../src/protocol/index.js';

const hello = { type: 'hello', protocol: PROTOCOL_VERSION, clientId: 'c1', lsn: '0/0', schemaHash: 'abc' };

describe('decoding frames', () => {
  it('decodes every valid client message', () => {
    const frames = [
      hello,
      { ...hello, token: 't' },
      { type: 'ack', lsn: '0/1F' },
      { type: 'snapshot_ack', seq: 3 },
      {
        type: 'push',
        changes: [
          { id: 'x', table: 'todos', op: 'insert', key: 'a', row: { id: 'a' } },
          { id: 'y', table: 'todos', op: 'delete', key: 'a' },
        ],
      },
      { type: 'ping' },
      { type: 'pong', id: 4 },
    ];
    for (const frame of frames) {
      const decoded = decodeClientMessage(JSON.stringify(frame));
      expect(decoded).toEqual({ ok: true, value: frame });
    }
  });

  it('normalises LSNs while decoding', () => {
    expect(decodeClientMessage('{"type":"ack","lsn":"0/1f"}')).toEqual({ ok: true, value: { type: 'ack', lsn: '0/1F' } });
  });

  it.each([
    ['not json{', 'malformed_frame'],
    ['[1,2]', 'malformed_frame'],
    ['"hello"', 'malformed_frame'],
    ['null', 'malformed_frame'],
    ['{"no":"type"}', 'invalid_message'],
    ['{"type":42}', 'invalid_message'],
    ['{"type":"drop_tables"}', 'unknown_message'],
    ['{"type":"welcome"}', 'unknown_message'], // a server message sent by a client
    ['{"type":"__proto__"}', 'unknown_message'],
    ['{"type":"push","changes":"x"}', 'invalid_message'],
    ['{"type":"push","changes":[{"id":"x","table":"todos","op":"drop","key":"a"}]}', 'invalid_message'],
    ['{"type":"push","changes":[{"id":"","table":"todos","op":"delete","key":"a"}]}', 'invalid_message'],
    ['{"type":"ack","lsn":"zz/1"}', 'invalid_lsn'],
    ['{"type":"ack"}', 'invalid_lsn'],
    [JSON.stringify({ ...hello, lsn: '1' }), 'invalid_lsn'],
    [JSON.stringify({ ...hello, clientId: 'x'.repeat(129) }), 'invalid_message'],
    ['{"type":"snapshot_ack","seq":-1}', 'invalid_message'],
    ['{"type":"snapshot_ack","seq":1.5}', 'invalid_message'],
  ])('refuses %s with %s', (frame, code) => {
    const decoded = decodeClientMessage(frame);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.error.code).toBe(code);
      expect(decoded.error.message.length).toBeLessThan(1000);
    }
  });

  it('says which field was wrong', () => {
    const decoded = decodeClientMessage('{"type":"push","changes":[{"id":"x","table":"todos","op":"drop","key":"a"}]}');
    expect(!decoded.ok && decoded.error.message).toMatch(/changes\.0\.op/);
  });

  it('decodes server messages with the server union', () => {
    const changes = {
      type: 'changes',
      lsn: '0/2',
      changes: [{ lsn: '0/2', table: 'todos', op: 'update', key: 'a', row: { id: 'a' }, origin: { clientId: 'c', changeId: 'x' } }],
    };
    expect(decodeServerMessage(JSON.stringify(changes))).toEqual({ ok: true, value: changes });
    const rejected = { type: 'push_result', results: [{ id: 'x', status: 'rejected', reason: 'not_found', serverRow: null }] };
    expect(decodeServerMessage(rejected)).toEqual({ ok: true, value: rejected });
    expect(decodeServerMessage('{"type":"hello"}').ok).toBe(false);
    expect(decodeServerMessage('{"type":"error","code":"made_up","message":"m","retryable":false}').ok).toBe(false);
  });
});
