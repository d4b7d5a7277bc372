import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The dashboard builds into dist/web, which `rondo serve` serves at `/` (src/runtime/dashboard.ts). Relative asset
// paths so the files work under any prefix a proxy puts in front.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [preact()],
  logLevel: 'warn',
  // `npx vite --config web/vite.config.ts`: hot reload against a running `rondo serve`.
  server: { proxy: { '/api': process.env.RONDO_SERVER ?? 'http://127.0.0.1:8470' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // echarts is most of the bundle; one file is fine for a dashboard served from the local network.
    chunkSizeWarningLimit: 1500,
  },
});
