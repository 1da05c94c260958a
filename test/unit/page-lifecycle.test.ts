/**
 * BackupAndRestore's page lifecycle (saveOnHidden, pauseWhenHidden) over a stand-in for a
 * page's visibility, in Node: a hiding backs up at the end of the batch in flight, whatever
 * saveFreq says, with its reason in the manifest; pauseWhenHidden holds training until the
 * page is visible again; saveOnHidden: false does neither. (Chromium: test/browser.)
 */
import { describe, it, expect, afterEach } from 'vitest';
import { type PageLifecycle, installPlatform, platform } from '../../src/platform.js';
import { BackupAndRestore, Callback, MemoryStorage } from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

/** A page whose visibility the test sets. */
function fakePage() {
  let hidden = false;
  const handlers = new Set<(why: 'hidden' | 'pagehide') => void>();
  const waiting: Array<() => void> = [];
  const page: PageLifecycle = {
    onHidden: (h) => (handlers.add(h), () => handlers.delete(h)),
    hidden: () => hidden,
    whenVisible: () => new Promise<void>((resolve) => (hidden ? waiting.push(resolve) : resolve())),
  };
  return {
    page,
    hide() {
      hidden = true;
      for (const h of handlers) h('hidden');
    },
    show() {
      hidden = false;
      waiting.splice(0).forEach((resolve) => resolve());
    },
    listeners: () => handlers.size,
  };
}

const original = platform();
afterEach(() => void installPlatform(original));

/** Hides the page after batch `at` of the first epoch and records when each batch ends. */
class HideAt extends Callback {
  ends: number[] = [];
  constructor(
    private readonly at: number,
    private readonly hide: () => void,
  ) {
    super();
  }
  override async onBatchEnd(batch: number) {
    this.ends.push(performance.now());
    if (batch === this.at && this.context!.epoch === 0) this.hide();
  }
}

describe('BackupAndRestore in a page', () => {
  it('backs up at the end of the batch in flight when the page is hidden, and with pauseWhenHidden waits until it is visible', async () => {
    const fake = fakePage();
    installPlatform({ ...original, page: fake.page });
    const storage = new MemoryStorage();
    const saved: string[] = [];
    const rename = storage.rename.bind(storage);
    storage.rename = async (from, to) => {
      if (to.endsWith('.wpt')) saved.push(to);
      return rename(from, to);
    };
    const [x, y] = dataFor('mlp');
    const backup = new BackupAndRestore({ backupDir: 'b', storage, deleteCheckpoint: false, pauseWhenHidden: true });
    const hider = new HideAt(2, () => {
      fake.hide();
      setTimeout(() => fake.show(), 150);
    });
    await makeModel('mlp', 1).fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [hider, backup] });
    // The hiding arrives as batch 2 ends (this callback runs before the backup's): backed up there, 3 steps done, not at the epoch's end only.
    expect(saved).toEqual(['b/backup-3.wpt', 'b/backup-8.wpt']);
    expect(backup.lastHiddenBackupMs).not.toBeNull();
    // Batch 3 waited for the page to be visible again (150 ms after the hiding).
    expect(hider.ends[3] - hider.ends[2]).toBeGreaterThanOrEqual(120);
    expect(fake.listeners()).toBe(0); // unsubscribed when training ended
  });

  it('with saveOnHidden: false, a hidden page changes nothing', async () => {
    const fake = fakePage();
    installPlatform({ ...original, page: fake.page });
    const storage = new MemoryStorage();
    const [x, y] = dataFor('mlp');
    const backup = new BackupAndRestore({ backupDir: 'b', storage, deleteCheckpoint: false, saveOnHidden: false });
    await makeModel('mlp', 1).fit(x, y, {
      epochs: 1,
      batchSize: 8,
      verbose: 0,
      callbacks: [new HideAt(2, () => fake.hide()), backup],
    });
    const manifest = JSON.parse(new TextDecoder().decode(storage.files.get('b/manifest.json')!));
    expect(manifest.checkpoints.map((c: { reason?: string }) => c.reason ?? 'scheduled')).toEqual(['scheduled']);
    expect(fake.listeners()).toBe(0);
  });
});
