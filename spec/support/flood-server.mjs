// A fake sync server in a process of its own, for specs that measure the client's process: its
// own sending must not block the event loop being measured. The parent sends, over IPC,
// { welcome, count }; the server answers { port } when listening, then welcomes the first client
// and sends it `count` changes messages of one counters row each, at LSNs 0/1 .. 0/count, as fast
// as the socket takes them. The parent stops it by PID.
import { WebSocketServer } from 'ws';

process.once('message', ({ welcome, count }) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('listening', () => process.send({ port: wss.address().port }));
  wss.on('connection', (ws) => {
    ws.once('message', () => {
      ws.send(JSON.stringify(welcome));
      for (let i = 1; i <= count; i++) {
        const lsn = `0/${i.toString(16).toUpperCase()}`;
        ws.send(
          JSON.stringify({ type: 'changes', lsn, changes: [{ lsn, table: 'counters', op: 'insert', key: i % 100, row: { n: i % 100, label: `flood ${i}` } }] }),
        );
      }
    });
  });
});
