/**
 * The browser example (examples/browser) in Debian's Chromium, as a user meets it: Train, then
 * switch away from the tab (the page backs up at the batch in flight and says so), then
 * Download the run (paused while hidden, as asked) — an archive that Node imports whole — and an
 * upload into a directory in use is refused with the reason shown.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { MemoryStorage, importRun } from '../../src/node/index.js';
import { CHROMIUM, CHROMIUM_FLAGS, haveChromium } from '../../harness/browser.js';
import { serveExample } from '../../examples/browser/serve.js';

const available = haveChromium();
if (!available) console.log('SKIPPED: the browser example (no /usr/bin/chromium)');

describe.skipIf(!available)('the browser example in Chromium', () => {
  let browser: Browser;
  let site: { url: string; close: () => Promise<void> };
  beforeAll(async () => {
    site = await serveExample(0);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it('trains, backs up when the tab is hidden, downloads a run Node imports, and refuses an upload over a run in use', async () => {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(site.url);
    await page.check('#pause'); // hidden, the page backs up and then waits: the run is there to download
    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'training', null, {
      timeout: 60_000,
    });
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForFunction(() =>
      /backed up at batch \d+, durable \d+ ms after/.test(document.getElementById('hidden')?.textContent ?? ''),
    );
    const [download] = await Promise.all([
      page.waitForEvent('download').catch(async (e: Error) => {
        throw new Error(`${e.message}; the page says: ${await page.textContent('#status')}`);
      }),
      page.click('#download'),
    ]);
    const bytes = new Uint8Array(readFileSync((await download.path())!));
    const memory = new MemoryStorage();
    const index = await importRun(bytes, memory, 'from-page');
    expect(index.files.map((f) => f.path)).toEqual(expect.arrayContaining(['backup/manifest.json']));
    expect(index.files.some((f) => /^backup\/backup-\d+\.wpt$/.test(f.path))).toBe(true);
    await page.setInputFiles('#upload', {
      name: 'mnist-cnn.run.tar',
      mimeType: 'application/x-tar',
      buffer: Buffer.from(bytes),
    });
    await page.waitForFunction(() => (document.getElementById('status')?.textContent ?? '').startsWith('not imported'));
    expect(await page.textContent('#status')).toMatch(/ALREADY_EXISTS: mnist-cnn already holds files/);
    await context.close();
  }, 240_000);
});
