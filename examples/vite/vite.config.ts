// Nothing here is for rxsync: Vite bundles its worker and wa-sqlite's .wasm by itself. The proxy
// is for `npx vite` only: the page connects to /api/sync on its own origin, and the dev server
// passes that WebSocket on to the sync server (`rxsync serve`, port 8787 by default).
import { defineConfig } from 'vite';

export default defineConfig({
  server: {
    proxy: {
      '/api/sync': { target: 'ws://127.0.0.1:8787', ws: true },
    },
  },
});
