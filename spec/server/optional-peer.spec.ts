import { loadOptionalPeer, MissingPeerError } from '../../src/server/optional-peer.js';

describe('optional peer dependencies of rxsync/server', () => {
  it('loads one that is installed', () => {
    const ws = loadOptionalPeer<{ WebSocketServer: unknown }>('ws', 'the sync server');
    expect(typeof ws.WebSocketServer).toBe('function');
  });

  it('says what to install, and what for, when one is missing', () => {
    expect(() => loadOptionalPeer('rxsync-no-such-package', 'the embedded SQLite store')).toThrow(MissingPeerError);
    expect(() => loadOptionalPeer('rxsync-no-such-package', 'the embedded SQLite store')).toThrow(
      'rxsync: the embedded SQLite store needs the package rxsync-no-such-package, an optional peer dependency of rxsync: npm install rxsync-no-such-package',
    );
  });
});
