/**
 * docs/browser-example.png: the browser example in Chromium, reloaded in the middle of its
 * first epoch and resumed from its IndexedDB backup. Run: npx tsx scripts/screenshot-example.ts
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS } from '../harness/browser.js';

const port = 8093;
const server = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../examples/browser/serve.ts')], {
  env: { ...process.env, PORT: String(port) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((resolve) => server.stdout!.once('data', resolve));
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'wpt-shot-')), {
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_FLAGS,
  viewport: { width: 800, height: 520 },
});
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.click('#start');
  await page.waitForFunction(
    () =>
      (/^(\d+)\//.exec(
        document.getElementById('progress')!.textContent!.split('\n').at(-1) ?? '',
      )?.[1] as unknown as number) > 120,
    undefined,
    { timeout: 120_000 },
  );
  await page.reload(); // the tab's SIGKILL: the example resumes from its backup on load
  await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('resumed'), undefined, {
    timeout: 60_000,
  });
  await page.waitForFunction(
    () =>
      (/Epoch 2\/3\n(\d+)\//.exec(document.getElementById('progress')!.textContent!)?.[1] as unknown as number) > 60,
    undefined,
    { timeout: 300_000 },
  );
  await page.screenshot({ path: join(import.meta.dirname, '../docs/browser-example.png') });
  console.log(await page.textContent('#status'), '\n', await page.textContent('#progress'));
} finally {
  await context.close();
  server.kill();
}
