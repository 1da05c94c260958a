/**
 * `npm run example:browser`: bundles main.ts with esbuild and serves the page, with the
 * MNIST file, on http://127.0.0.1:8080 (PORT to change it).
 */
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const here = import.meta.dirname;
const result = await build({
  entryPoints: [join(here, 'main.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  minify: true,
  write: false,
  logLevel: 'warning',
});
const files: Record<string, [string, Uint8Array | string]> = {
  '/': ['text/html', readFileSync(join(here, 'index.html'))],
  '/main.js': ['text/javascript', result.outputFiles[0].contents],
  '/digits.idx.gz': ['application/octet-stream', readFileSync(join(here, '../../data/mnist/digits.idx.gz'))],
};
/** Serves the page on 127.0.0.1:`port` (0: any free port); resolves with its address and a close. */
export function serveExample(port: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://127.0.0.1').pathname];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    ),
  );
}

if (process.argv[1] === import.meta.filename) {
  const { url } = await serveExample(Number(process.env.PORT ?? 8080));
  console.log(`the browser example: ${url}`);
}
