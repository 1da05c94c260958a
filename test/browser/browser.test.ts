/**
 * Waypoint in a real browser: Debian's Chromium driven by playwright-core, the browser build
 * bundled by esbuild and served on 127.0.0.1 (harness/browser.ts). A page reload in the
 * middle of training is the browser's SIGKILL: BackupAndRestore over IndexedDB and over
 * OPFS must then resume and finish bit-identical to the same run in Node (weights, Adam's
 * slots, history, the random generator). Also: the Web Locks directory lock across tabs and
 * after a reload, every callback in a page, and the gpu backend on WebGL2 against the cpu.
 * Without /usr/bin/chromium the tests print SKIPPED (and fail where CI expects a browser).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import type { Page } from 'playwright-core';
import { MemoryStorage } from '../../src/node/index.js';
import * as node from '../../src/node/index.js';
import {
  pageRun,
  pageCsvRun,
  csvText,
  EPOCHS,
  STEPS_PER_EPOCH,
  CSV_BATCHES_PER_EPOCH,
  CSV_EPOCHS,
  type PageRunResult,
} from '../../harness/page-run.js';
import { haveChromium, haveGpuJs, launchTestBrowser, type TestBrowser } from '../../harness/browser.js';
import type { WaypointPage } from '../../harness/page.js';
import { startS3rver } from '../../harness/s3-servers.js';
import { measurePageHeap } from '../../harness/page-heap.js';
import { startFileServer } from '../helpers/http-file-server.js';

const expectBrowser = process.env.WAYPOINT_EXPECT_CHROMIUM === '1';
const available = haveChromium();
if (!available)
  console.log(
    `SKIPPED: the browser tests: no Chromium at /usr/bin/chromium (apt-get install chromium)${expectBrowser ? ', which CI requires' : ''}`,
  );

const TOTAL = EPOCHS * STEPS_PER_EPOCH;
type Kind = 'idb' | 'opfs';
const call = <T>(page: Page, fn: (p: WaypointPage) => Promise<T>) =>
  page.evaluate(`(${fn.toString()})(globalThis.waypointPage)`) as Promise<T>;

let browser: TestBrowser;
let reference: PageRunResult;

describe.skipIf(!available)('in Chromium', () => {
  beforeAll(async () => {
    browser = await launchTestBrowser();
    reference = await pageRun(node, { storage: new MemoryStorage(), backupDir: 'reference' });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** The run's end state (weights, Adam's slots, history, the random generator) equals the uninterrupted run's in Node. */
  const expectAsNode = (run: PageRunResult) =>
    expect([run.weights, run.optimizer, run.history, run.rng]).toEqual([
      reference.weights,
      reference.optimizer,
      reference.history,
      reference.rng,
    ]);

  /** Evaluates `run` (a run logging `batch N`), reloads the page once a batch at or past `at` has ended, and waits for it to be back. */
  async function runUntilReloaded(page: Page, run: string, at: number): Promise<void> {
    let reloading: Promise<unknown> | null = null;
    const onConsole = (m: { text(): string }) => {
      const n = /^batch (\d+)$/.exec(m.text());
      if (n && Number(n[1]) >= at && reloading === null) reloading = page.reload();
    };
    page.on('console', onConsole);
    const first = page.evaluate(run).then(
      () => 'finished',
      () => 'killed',
    );
    expect(await first).toBe('killed');
    page.off('console', onConsole);
    await reloading;
    await page.waitForFunction(() => 'waypointPage' in globalThis);
  }

  async function killAndResume(page: Page, kind: Kind, killAt: number): Promise<PageRunResult> {
    const dir = `run-${kind}-${killAt}`;
    await runUntilReloaded(
      page,
      `globalThis.waypointPage.run(${JSON.stringify(kind)}, ${JSON.stringify(dir)}, 3)`,
      killAt,
    );
    return page.evaluate(
      `globalThis.waypointPage.run(${JSON.stringify(kind)}, ${JSON.stringify(dir)}, 0)`,
    ) as Promise<PageRunResult>;
  }

  for (const kind of ['idb', 'opfs'] as const) {
    it(`BackupAndRestore over ${kind === 'idb' ? 'IndexedDB' : 'OPFS'}: a reload mid-training resumes and ends bit-identical to the run in Node`, async () => {
      const page = await browser.open();
      await call(page, (p) => p.clear());
      // Kill points anywhere in the run: before the first backup (batch 4), on a backup's batch, in the last epoch.
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: TOTAL - 8 }), async (killAt) => {
          const resumed = await killAndResume(page, kind, killAt);
          // It resumes at a backup (every 5 batches), at or after the one written before the batch the reload was asked at.
          expect(resumed.firstBatch % 5).toBe(0);
          expect(resumed.firstBatch).toBeGreaterThanOrEqual(Math.floor((killAt + 1) / 5) * 5);
          expect(resumed.firstBatch).toBeLessThan(TOTAL);
          expect(resumed.weights).toEqual(reference.weights);
          expect(resumed.optimizer).toEqual(reference.optimizer);
          expect(resumed.history).toBe(reference.history);
          expect(resumed.rng).toEqual(reference.rng);
        }),
        { numRuns: 4, examples: [[3], [30], [TOTAL - 9]] },
      );
      await page.close();
    }, 240_000);
  }

  it('fitDataset on a CSV File the user picked: a reload mid-epoch resumes at the next sample and ends bit-identical to Node', async () => {
    const csv = Buffer.from(csvText(node));
    const nodeRun = await pageCsvRun(node, new Uint8Array(csv), { storage: new MemoryStorage(), backupDir: 'csv' });
    const page = await browser.open();
    await call(page, (p) => p.clear());
    const pick = () => page.setInputFiles('#csv', { name: 'rows.csv', mimeType: 'text/csv', buffer: csv });
    const total = CSV_EPOCHS * CSV_BATCHES_PER_EPOCH;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 8, max: total - 4 }), async (killAt) => {
        const dir = `csv-${killAt}`;
        await pick();
        let reloading: Promise<unknown> | null = null;
        const onConsole = (m: { text(): string }) => {
          const n = /^batch (\d+)$/.exec(m.text());
          if (n && Number(n[1]) >= killAt && reloading === null) reloading = page.reload();
        };
        page.on('console', onConsole);
        const first = await page.evaluate(`globalThis.waypointPage.runCsv('idb', ${JSON.stringify(dir)}, 3)`).then(
          () => 'finished',
          () => 'killed',
        );
        expect(first).toBe('killed');
        page.off('console', onConsole);
        await reloading;
        await page.waitForFunction(() => 'waypointPage' in globalThis);
        await pick(); // after a reload the page's user picks the file again
        const resumed = (await page.evaluate(
          `globalThis.waypointPage.runCsv('idb', ${JSON.stringify(dir)}, 0)`,
        )) as PageRunResult;
        expect(resumed.firstBatch % 7).toBe(0);
        expect(resumed.firstBatch).toBeGreaterThan(0);
        expect(resumed.weights).toEqual(nodeRun.weights);
        expect(resumed.history).toBe(nodeRun.history);
        expect(resumed.rng).toEqual(nodeRun.rng);
      }),
      { numRuns: 3, examples: [[40]] },
    );
    await page.close();
  }, 240_000);

  it('IndexedDBStorage and OPFSStorage keep the Storage contract (every rule the file system and memory keep, test/contract/storage-contract.test.ts)', async () => {
    const page = await browser.open();
    await call(page, (p) => p.clear());
    for (const kind of ['idb', 'opfs'] as const) {
      expect(await page.evaluate(`globalThis.waypointPage.storageContract('${kind}')`), kind).toEqual([]);
    }
    await page.close();
  }, 120_000);

  it("IndexedDBStorage's chunk records: writes and reads across chunks, syncs overlapping writes, a file replaced or removed under a handle, a version-1 file", async () => {
    const page = await browser.open();
    expect(await call(page, (p) => p.indexedDbChunks())).toEqual([]);
    await page.close();
  });

  // 1.5 GB in 64 MB entries: tfjs ran out of memory putting 2 GB in one IndexedDB record (tfjs#7702).
  const BIG_MB = 1536;
  const BIG_ENTRY_MB = 64;
  for (const kind of ['idb', 'opfs'] as const) {
    it(`a ${BIG_MB / 1024} GB checkpoint through ${kind === 'idb' ? 'IndexedDB' : 'OPFS'}: saved with at most its largest entry + 8 MiB of extra page memory, an aborted save over it leaves it whole, restored bit for bit`, async () => {
      const page = await browser.open();
      await call(page, (p) => p.clear());
      const entries = await page.evaluate(`globalThis.waypointPage.bigState(${BIG_MB}, ${BIG_ENTRY_MB})`);
      const saved = await measurePageHeap(
        page,
        () =>
          page.evaluate(`globalThis.waypointPage.bigSave('${kind}', 'shuffle-deflate')`) as Promise<{
            ms: number;
            reports: number;
            progressOk: boolean;
          }>,
      );
      expect(saved.result.progressOk).toBe(true);
      expect(saved.result.reports).toBeGreaterThanOrEqual(Number(entries) / 2);
      expect(saved.peak - saved.baseline).toBeLessThanOrEqual((BIG_ENTRY_MB + 8) << 20);
      const aborted = (await page.evaluate(`globalThis.waypointPage.bigSave('${kind}', 'shuffle-deflate', 0.5)`)) as {
        aborted: string;
        files: string[];
      };
      expect(aborted).toMatchObject({ aborted: 'ABORTED', files: ['state.wpt'] });
      const loaded = await measurePageHeap(
        page,
        () =>
          page.evaluate(`globalThis.waypointPage.bigLoad('${kind}')`) as Promise<{
            ms: number;
            intact: boolean;
            reports: number;
          }>,
      );
      expect(loaded.result).toMatchObject({ intact: true });
      expect(loaded.result.reports).toBe(2 * Number(entries)); // verified, then read into the arrays
      const mib = (h: { peak: number; baseline: number }) => ((h.peak - h.baseline) / 2 ** 20).toFixed(0);
      console.log(
        `${kind}: ${BIG_MB} MB saved in ${(saved.result.ms / 1000).toFixed(1)} s (+${mib(saved)} MiB page memory at the peak), restored in ${(loaded.result.ms / 1000).toFixed(1)} s (+${mib(loaded)} MiB, garbage not yet collected included)`,
      );
      await call(page, (p) => p.clear());
      await page.close();
    }, 300_000);
  }

  it('a large load decodes on load threads that are Web Workers, bit-exactly', async () => {
    const page = await browser.open();
    await call(page, (p) => p.clear());
    const r = await call(page, (p) => p.loadThreads());
    expect(r.started).toBe(Math.min(7, Math.max(0, r.cores - 1)));
    expect(r.started).toBeGreaterThan(0);
    expect(r.equal).toBe(true);
    await page.close();
  }, 120_000);

  it('a page loads a checkpoint published on another origin over HTTP (range requests, CORS) and predicts as Node', async () => {
    const server = await startFileServer();
    try {
      const model = new node.Sequential(
        [new node.Dense({ units: 16, activation: 'relu', inputShape: [8] }), new node.Dense({ units: 3 })],
        { seed: 4 },
      );
      const storage = new MemoryStorage();
      await model.save('/published.wpt', { storage });
      server.files.set('/models/published.wpt', storage.files.get('/published.wpt')!);
      const x = Array.from({ length: 4 * 8 }, (_, i) => Math.sin(i));
      const expected = Array.from((model.predict(new node.Tensor(Float32Array.from(x), [4, 8])) as node.Tensor).data);
      const page = await browser.open();
      const url = `${server.url}/models/published.wpt`;
      const got = await page.evaluate(
        ({ url, x }) =>
          (globalThis as unknown as { waypointPage: WaypointPage }).waypointPage.predictPublished(url, x, 8),
        { url, x },
      );
      await page.close();
      expect(got).toEqual(expected);
      expect(server.log.every((r) => r.range.startsWith('bytes=') && r.status === 206)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('a page backs up through IndexedDB to an S3 server of another origin (CORS); reloaded, and then on a new machine, it resumes and ends bit-identical to Node', async () => {
    const server = await startS3rver({ corsBuckets: ['page-runs'] });
    try {
      const page = await browser.open();
      await call(page, (p) => p.clear());
      const run = (delay: number) =>
        `globalThis.waypointPage.runTiered(${JSON.stringify(server.endpoint)}, 'page-runs', 'tiered', ${delay})`;
      await runUntilReloaded(page, run(5), 40); // the page resumes from its IndexedDB
      await runUntilReloaded(page, run(5), 70);
      // A new machine: the page's IndexedDB is gone; the bucket is all there is.
      await call(page, (p) => p.clear());
      const resumed = (await page.evaluate(run(0))) as PageRunResult;
      await page.close();
      expect(resumed.firstBatch).toBeGreaterThanOrEqual(35); // from the bucket (past the first reload), not from the start
      expect(resumed.weights).toEqual(reference.weights);
      expect(resumed.optimizer).toEqual(reference.optimizer);
      expect(resumed.history).toBe(reference.history);
      expect(resumed.rng).toEqual(reference.rng);
    } finally {
      await server.close();
    }
  }, 180_000);

  it('a page hidden mid-epoch backs up at the end of the batch in flight: killed after, it resumes there, bit-identical to Node', async () => {
    const page = await browser.open();
    await call(page, (p) => p.clear());
    // Backups every 5 batches: 30 and 35. Hidden at batch 31, killed as soon as the backup that answers the hiding is
    // durable (before the scheduled one at 35): without it, the resume would start at 30.
    let reloading: Promise<unknown> | null = null;
    let hidingAt: number | null = null;
    const hiddenBackups: number[] = [];
    const onConsole = (m: { text(): string }) => {
      const ms = /^hidden backup ([\d.]+)$/.exec(m.text());
      if (ms && reloading === null) {
        hiddenBackups.push(Number(ms[1]));
        reloading = page.reload();
      }
      const n = /^batch (\d+)$/.exec(m.text());
      if (n && Number(n[1]) >= 31 && hidingAt === null) {
        hidingAt = Number(n[1]);
        void page.evaluate(() => (globalThis as unknown as { waypointPage: WaypointPage }).waypointPage.hide());
      }
    };
    page.on('console', onConsole);
    expect(
      await page.evaluate(`globalThis.waypointPage.run('idb', 'hidden', 50)`).then(
        () => 'finished',
        () => 'killed',
      ),
    ).toBe('killed');
    page.off('console', onConsole);
    await reloading;
    await page.waitForFunction(() => 'waypointPage' in globalThis);
    const resumed = (await page.evaluate(`globalThis.waypointPage.run('idb', 'hidden', 0)`)) as PageRunResult;
    await page.close();
    // The batch in flight when it was hidden (or the next, if the hiding arrived as one ended).
    expect(resumed.firstBatch).toBeGreaterThanOrEqual(hidingAt! + 2);
    expect(resumed.firstBatch).toBeLessThanOrEqual(hidingAt! + 3);
    expect(hiddenBackups.length).toBe(1);
    console.log(
      `hidden -> durable backup in IndexedDB: ${hiddenBackups[0]} ms (a 50 ms batch in flight, then the save)`,
    );
    expectAsNode(resumed);
  }, 120_000);

  it('a tab closed mid-epoch: the backup pagehide asks for never lands; a new tab resumes from the last scheduled backup, bit-identical to Node', async () => {
    // Backups every 5 batches (30, 35, ...); the tab is closed as batch 31 ends, a 50 ms batch in flight. The
    // backup that pagehide asks for needs the page's event loop for several more turns (write, rename, manifest).
    const page = await browser.open();
    await call(page, (p) => p.clear());
    let closing: Promise<unknown> | null = null;
    let closedAt = -1;
    page.on('console', (m) => {
      const n = /^batch (\d+)$/.exec(m.text());
      if (n && Number(n[1]) >= 31 && closing === null) {
        closedAt = Number(n[1]);
        closing = page.close();
      }
    });
    await page.evaluate(`globalThis.waypointPage.run('idb', 'closed', 50)`).catch(() => 'closed');
    await closing;
    const next = await browser.open();
    const resumed = (await next.evaluate(`globalThis.waypointPage.run('idb', 'closed', 0)`)) as PageRunResult;
    await next.close();
    // Chromium runs pagehide when a tab closes, then tears the page down before the backup it asked for can end the
    // batch in flight and write: a new tab finds the scheduled backup before the close (the one resuming at 30), where a
    // hidden page's backup lands (the test above: it resumes at the batch in flight).
    console.log(`tab closed after batch ${closedAt}: a new tab resumed at batch ${resumed.firstBatch}`);
    expect(resumed.firstBatch).toBe(30);
    expectAsNode(resumed);
  }, 120_000);

  it('a page reads its usage and quota around a run, and asks for persistent storage', async () => {
    const page = await browser.open();
    await call(page, (p) => p.clear());
    const quota = () =>
      page.evaluate(() => (globalThis as unknown as { waypointPage: WaypointPage }).waypointPage.quota());
    const before = await quota();
    await page.evaluate(`globalThis.waypointPage.run('idb', 'usage', 0)`);
    const after = await quota();
    await page.close();
    // Usage moves with the storage's own compaction (the run deletes its backup at its end): read, not compared.
    expect(before!.quota).toBeGreaterThan(0);
    expect(Number.isFinite(after!.usage) && after!.usage >= 0 && after!.usage < after!.quota).toBe(true);
    expect(typeof after!.persisted).toBe('boolean'); // headless Chromium decides by site engagement
  });

  for (const kind of ['idb', 'opfs'] as const) {
    it(`a quota exhausted mid-run (${kind === 'idb' ? 'IndexedDB' : 'OPFS'}): the save fails with NO_SPACE naming the quota, the earlier backups stay whole and restore; maxBytes keeps a run within its budget`, async () => {
      // A browser of its own: the shared one's usage still counts files other tests deleted (storages compact lazily).
      const own = await launchTestBrowser();
      try {
        const page = await own.open();
        // The quota Chromium enforces for this origin (estimate() keeps reporting the real one): room for two
        // backups of the 8 MB state (6.8 MB each, compressed), with 4 MB to spare, not for three.
        const cdp = await page.context().newCDPSession(page);
        const { usage } = (await page.evaluate(() => navigator.storage.estimate())) as { usage: number };
        await cdp.send('Storage.overrideQuotaForOrigin', { origin: own.origin, quotaSize: usage + 17.6 * 2 ** 20 });
        try {
          const full = (await page.evaluate(
            `globalThis.waypointPage.quotaExhausted(${JSON.stringify(kind)})`,
          )) as Awaited<ReturnType<WaypointPage['quotaExhausted']>>;
          expect(full.code).toBe('NO_SPACE');
          expect(full.message).toMatch(/storage quota is exhausted \([\d.]+ MiB of its [\d.]+ MiB in use\)/);
          expect(full.latest).toBe('quota/ckpt-2.wpt');
          expect(full.files).toEqual(['ckpt-1.wpt', 'ckpt-2.wpt', 'manager.lock', 'manifest.json']); // no temporary file left
          expect(full.restored).toBe(true);
        } finally {
          await cdp.send('Storage.overrideQuotaForOrigin', { origin: own.origin });
        }
        const maxBytes = 2.5 * 2 ** 20;
        const budget = (await page.evaluate(
          `globalThis.waypointPage.withinBytes(${JSON.stringify(kind)}, ${maxBytes})`,
        )) as { files: string[]; bytes: number };
        expect(budget.files).toEqual(['ckpt-5.wpt', 'ckpt-6.wpt']);
        expect(budget.bytes).toBeLessThanOrEqual(maxBytes);
      } finally {
        await own.close();
      }
    });
  }

  it('runs move between a page and Node as archives: exported from IndexedDB, resumed in Node, and the other way round, bit-identical', async () => {
    const page = await browser.open();
    await call(page, (p) => p.clear());
    // Page to Node: the page's run, stopped by a reload at batch 33, exported and resumed in Node.
    await runUntilReloaded(page, `globalThis.waypointPage.run('idb', 'out', 3)`, 33);
    const archive = Buffer.from(
      (await page.evaluate(`globalThis.waypointPage.exportRunOf('idb', 'out')`)) as string,
      'base64',
    );
    const memory = new MemoryStorage();
    await node.importRun(new Uint8Array(archive), memory, 'from-page');
    const inNode = await pageRun(node, { storage: memory, backupDir: 'from-page' });
    expect(inNode.firstBatch).toBeGreaterThan(0);
    expectAsNode(inNode);

    // Node to page: a Node run stopped at batch 47, exported, imported by the page (as a picked File) and resumed there.
    const nodeRun = new MemoryStorage();
    class Stop extends Error {}
    await expect(
      pageRun(node, {
        storage: nodeRun,
        backupDir: 'run',
        onBatch: (n) => {
          if (n === 47) throw new Stop();
        },
      }),
    ).rejects.toBeInstanceOf(Stop);
    const fromNode = Buffer.from(await node.exportRun(nodeRun, 'run')).toString('base64');
    expect(
      await page.evaluate(
        ({ b }) =>
          (globalThis as unknown as { waypointPage: WaypointPage }).waypointPage.importRunInto('idb', 'from-node', b),
        { b: fromNode },
      ),
    ).toBe('imported');
    const inPage = (await page.evaluate(`globalThis.waypointPage.run('idb', 'from-node', 0)`)) as PageRunResult;
    expect(inPage.firstBatch).toBeGreaterThanOrEqual(45);
    expectAsNode(inPage);

    // A damaged archive is refused in the page before anything is written.
    const damaged = Buffer.from(fromNode, 'base64');
    damaged[700] ^= 0xff;
    expect(
      await page.evaluate(
        ({ b }) =>
          (globalThis as unknown as { waypointPage: WaypointPage }).waypointPage.importRunInto('idb', 'damaged', b),
        { b: damaged.toString('base64') },
      ),
    ).toMatch(/does not match its SHA-256|header checksum/);
    expect(await page.evaluate(`globalThis.waypointPage.files('idb', 'damaged')`)).toEqual([]);
    await page.close();
  }, 180_000);

  it('the directory lock holds across tabs (Web Locks), and a reloaded holder leaves no lock behind that blocks', async () => {
    for (const kind of ['idb', 'opfs'] as const) {
      const holder = await browser.open();
      const other = await browser.open();
      expect(await holder.evaluate(`globalThis.waypointPage.holdLock('${kind}', 'locked')`)).toBe('held');
      expect(await other.evaluate(`globalThis.waypointPage.tryLock('${kind}', 'locked')`)).toMatch(
        /^LOCKED: .*locked is being written by another page or worker of this origin/,
      );
      await holder.evaluate('globalThis.waypointPage.releaseLock()');
      expect(await other.evaluate(`globalThis.waypointPage.tryLock('${kind}', 'locked')`)).toBe('acquired');
      // A holder that goes away without releasing (a reload) leaves its lock file; the Web Lock went with the page.
      expect(await holder.evaluate(`globalThis.waypointPage.holdLock('${kind}', 'locked')`)).toBe('held');
      await holder.reload();
      await holder.waitForFunction(() => 'waypointPage' in globalThis);
      expect(await other.evaluate(`globalThis.waypointPage.files('${kind}', 'locked')`)).toContain('manager.lock');
      expect(await other.evaluate(`globalThis.waypointPage.tryLock('${kind}', 'locked')`)).toBe('acquired');
      await holder.close();
      await other.close();
    }
  }, 120_000);

  it('runs every callback in a page on the default storage (IndexedDB), renders the progress bar into an element, and keeps the page responsive', async () => {
    const page = await browser.open();
    await call(page, (p) => p.clear());
    const r = await call(page, (p) => p.allCallbacks());
    expect(r.epochs).toBe(2); // EarlyStopping: no improvement of 10 in the loss
    expect(r.progress).toMatch(
      /^Epoch 1\/30\n24\/24 - [\d.]+s - loss: [\d.]+ - accuracy: [\d.]+ - val_loss: [\d.]+\nEpoch 2\/30\n24\/24/,
    );
    expect(r.csv.split('\n')[0]).toBe('epoch,accuracy,loss,val_accuracy,val_loss');
    expect(r.csv.trim().split('\n')).toHaveLength(3);
    expect(r.checkpoints).toContain('01.wpt');
    expect(r.reloadedLayers).toBe(2);
    expect(r.threads).toBe(1); // a page's main thread cannot wait on compute threads
    expect(r.moreThreads).toMatch(/configureThreads: this platform cannot run compute threads/);
    // The exporters run in a page too: a 32-256-4 MLP's weights, TensorFlow.js, torch-layout safetensors and ONNX.
    expect(r.exports.tfjsFormat).toBe('layers-model');
    expect(r.exports.tfjsBytes).toBe(4 * (32 * 256 + 256 + 256 * 4 + 4));
    expect(r.exports.safetensors).toEqual(['0.bias', '0.weight', '2.bias', '2.weight']); // nn.Sequential(Linear, ReLU, Linear, Softmax)
    expect(r.exports.onnxBytes).toBeGreaterThan(4 * (32 * 256 + 256 * 4));
    expect(r.eventFiles).toBe(1);
    expect(r.tags).toEqual([
      ['train', ['epoch_accuracy', 'epoch_learning_rate', 'epoch_loss']],
      ['validation', ['epoch_accuracy', 'epoch_loss']],
    ]);
    expect(r.nanStops).toMatchObject({ epochs: 1, lastLoss: 'NaN' });
    expect(r.ticks, 'a 5 ms timer ran while fit trained').toBeGreaterThan(2);
    await page.close();
  }, 120_000);

  it.skipIf(!haveGpuJs() && process.env.WAYPOINT_EXPECT_HEADLESSGL !== '1')(
    "the gpu backend runs on WebGL2 and agrees with the cpu; 'auto' stays on the cpu on a software renderer and says why",
    async () => {
      const page = await browser.open();
      const r = (await call(page, (p) => p.gpuCheck())) as Awaited<ReturnType<WaypointPage['gpuCheck']>>;
      expect(r.auto.name).toBe('cpu');
      expect(r.auto.detail).toMatch(
        /auto: gpu.js found no GPU hardware \(its best mode here is 'webgl2' on .*SwiftShader/,
      );
      if (r.error !== undefined || r.gpu === undefined || r.maxValue === undefined)
        throw new Error(`the gpu backend did not start: ${r.error}`);
      expect(r.gpu.gpujsMode).toBe('webgl2');
      expect(r.values).toBe(64 * 48 + 2 * 12 * 12 * 8);
      expect(r.maxDiff).toBeLessThanOrEqual(1e-5 * r.maxValue);
      await page.close();
    },
    120_000,
  );
});

if (!available && expectBrowser) {
  describe('in Chromium', () => {
    it('is required here (WAYPOINT_EXPECT_CHROMIUM=1)', () => {
      expect.fail('no Chromium at /usr/bin/chromium');
    });
  });
}
