// Vite settings for the wangge web app. `npm run build` writes web/dist, which the Rust
// server serves at `/`. `npm run dev` serves the app on :5173 and forwards /api and /tiles
// to a running `wangge serve` (WANGGE_DEV_API, default http://127.0.0.1:8080).
import { defineConfig, type Plugin } from 'vite';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const api = process.env.WANGGE_DEV_API ?? 'http://127.0.0.1:8080';

/** Dev only: answers GET /api/streets from the demo's streets file until the server has a
 * streets route (the production build never contains demo data). */
function demoStreets(): Plugin {
  const file = fileURLToPath(new URL('../data/demo/streets.geojson', import.meta.url));
  return {
    name: 'wangge-demo-streets',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use('/api/streets', (_req, res) => {
        readFile(file)
          .then((body) => {
            res.setHeader('content-type', 'application/geo+json');
            res.end(body);
          })
          .catch(() => {
            res.statusCode = 404;
            res.end('{"error":"not_found","message":"no demo streets file"}');
          });
      });
    },
  };
}

export default defineConfig({
  base: '/',
  plugins: [demoStreets()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // MapLibre alone is about 1 MB minified; our own code is kept in a separate chunk.
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      // The patrol phones' service worker is a second entry, served as /sw.js (its scope
      // is the folder it is served from).
      input: {
        index: fileURLToPath(new URL('./index.html', import.meta.url)),
        sw: fileURLToPath(new URL('./src/patrol/sw.ts', import.meta.url)),
      },
      output: {
        entryFileNames: (chunk: { name: string }) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
        manualChunks(id: string) {
          return id.includes('node_modules/maplibre-gl') ? 'maplibre' : undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/tiles': { target: api, changeOrigin: false },
    },
  },
});
