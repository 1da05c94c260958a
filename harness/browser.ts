/**
 * A real browser for tests and benchmarks: harness/page.ts bundled by esbuild for the
 * browser (gpu.js split into a chunk of its own, the load worker beside it), served with the MNIST file on 127.0.0.1,
 * and Debian's Chromium driven by playwright-core with a fresh profile.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** The flags of a headless Chromium on a machine without a network or a GPU. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const root = join(import.meta.dirname, '..');

export interface TestBrowser {
  context: BrowserContext;
  origin: string;
  /** A new tab on the test page, its script loaded. */
  open(): Promise<Page>;
  close(): Promise<void>;
  /** Bytes of the page's bundle (without the gpu.js chunk). */
  bundleBytes: number;
}

/** Whether the optional gpu.js is installed (`npm run setup:gpu`): without it the page's gpu chunk is left out. */
export function haveGpuJs(): boolean {
  try {
    createRequire(import.meta.url).resolve('gpu.js');
    return true;
  } catch {
    return false;
  }
}

async function bundle(outdir: string): Promise<number> {
  // The load worker beside the page, where the platform's `new URL('./load-worker.js', import.meta.url)` finds it.
  const result = await build({
    entryPoints: { page: join(root, 'harness/page.ts'), 'load-worker': join(root, 'src/browser/load-worker.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    outdir,
    minify: true,
    sourcemap: false,
    logLevel: 'silent',
    metafile: true,
    entryNames: '[name]',
    external: haveGpuJs() ? [] : ['gpu.js'],
  });
  return result.metafile.outputs[Object.keys(result.metafile.outputs).find((o) => o.endsWith('page.js'))!].bytes;
}

function serve(dir: string): Promise<{ server: Server; origin: string }> {
  const types: Record<string, string> = {
    '.js': 'text/javascript',
    '.html': 'text/html',
    '.gz': 'application/octet-stream',
  };
  const files: Record<string, string> = { '/digits.idx.gz': join(root, 'data/mnist/digits.idx.gz') };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        '<!doctype html><meta charset="utf-8"><title>waypoint test page</title><pre id="out"></pre><input type="file" id="csv"><script type="module" src="/page.js"></script>',
      );
      return;
    }
    const path = files[url.pathname] ?? join(dir, url.pathname.replace(/^\/+/, ''));
    if (!path.startsWith(dir) && !Object.values(files).includes(path)) {
      res.writeHead(403).end();
      return;
    }
    if (!existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
    res.end(readFileSync(path));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      resolve({ server, origin: `http://127.0.0.1:${address.port}` });
    }),
  );
}

/** Whether this machine has Debian's Chromium (the browser tests need it). */
export const haveChromium = () => existsSync(CHROMIUM);

export async function launchTestBrowser(extraFlags: string[] = []): Promise<TestBrowser> {
  const work = mkdtempSync(join(tmpdir(), 'wpt-browser-'));
  const out = join(work, 'site');
  const bundleBytes = await bundle(out);
  const { server, origin } = await serve(out);
  // A persistent context is the one that takes a profile directory: a fresh one per launch.
  const context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraFlags],
  });
  return {
    context,
    origin,
    bundleBytes,
    async open() {
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => 'waypointPage' in globalThis);
      return page;
    },
    async close() {
      await context.close();
      await new Promise((resolve) => server.close(resolve));
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * One page, run once: `handler` serves it on 127.0.0.1, a fresh headless Chromium opens
 * `path` and waits until the page sets `globalThis[flag]`; returns that value, the page's
 * uncaught errors and the text of its first `<pre>`.
 */
export async function runPage(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  path: string,
  flag: string,
): Promise<{ value: unknown; errors: string[]; pre: string | null }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/${path}`);
    await page.waitForFunction((f) => f in globalThis, flag, { timeout: 60_000 });
    const value = await page.evaluate((f) => (globalThis as Record<string, unknown>)[f], flag);
    const pre = await page.evaluate(() => document.querySelector('pre')?.textContent ?? null);
    return { value, errors, pre };
  } finally {
    await browser.close();
    server.close();
  }
}
