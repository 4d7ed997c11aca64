/**
 * Builds the console into dist/console (served by src/http/console.routes.ts). Hashed file names
 * under assets/ are what lets the server cache them forever; index.html is never cached.
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: '../../dist/console',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Nothing inline: the server's Content-Security-Policy allows only 'self' scripts and styles.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    // `npm run console:dev` proxies the API and Socket.IO to a server on :8080.
    proxy: { '/api': 'http://127.0.0.1:8080', '/socket.io': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
