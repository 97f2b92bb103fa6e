/**
 * Builds the browser workspace into one self-contained web/dist/index.html: the script and the
 * styles are inlined. The daemon serves that one page at `/`, and its Content-Security-Policy allows
 * exactly the inlined script by hash. Beside it, copied from web/public: the web app manifest and
 * its icons, which the page itself never needs.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

function inlineIntoHtml(): Plugin {
  return {
    name: 'tower-inline-into-html',
    enforce: 'post',
    apply: 'build',
    generateBundle(_options, bundle) {
      const html = Object.values(bundle).find((file) => file.fileName === 'index.html');
      if (html?.type !== 'asset') return;
      let text = String(html.source);
      for (const [name, file] of Object.entries(bundle)) {
        if (file.type === 'chunk' && file.isEntry) {
          const code = file.code.replace(/<\/(script)/gi, '<\\/$1');
          const tag = new RegExp(`<script type="module"[^>]*src="/${escapeRegExp(name)}"[^>]*></script>`);
          text = text.replace(tag, () => `<script type="module">${code}</script>`);
          delete bundle[name];
        } else if (file.type === 'asset' && name.endsWith('.css')) {
          const tag = new RegExp(`<link rel="stylesheet"[^>]*href="/${escapeRegExp(name)}"[^>]*>`);
          text = text.replace(tag, () => `<style>${String(file.source)}</style>`);
          delete bundle[name];
        }
      }
      html.source = text;
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: 'public',
  plugins: [inlineIntoHtml()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: Number.MAX_SAFE_INTEGER,
    cssCodeSplit: false,
    modulePreload: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2048,
  },
  server: {
    // `npm run dev:web` against `tower serve --allow-origin http://localhost:5173` on the default port;
    // log in at http://localhost:5173/#token=… (the cookie is per host, so it works across ports).
    proxy: {
      '/api': 'http://127.0.0.1:7613',
      '/ws': { target: 'ws://127.0.0.1:7613', ws: true },
    },
  },
});
