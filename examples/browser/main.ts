/**
 * The browser example (`npm run example:browser`, then open the printed address): trains the
 * MNIST CNN in the page with a live loss curve and a progress bar, backs up to IndexedDB
 * every 50 batches and whenever the page is hidden, and after a reload or a closed tab resumes
 * where it stopped. The run downloads as one file and uploads again (here, in another browser,
 * or into `waypoint run import` to resume in Node).
 */
import {
  Sequential,
  Conv2D,
  MaxPool2D,
  Flatten,
  Dense,
  Adam,
  BackupAndRestore,
  IndexedDBStorage,
  ProgressBar,
  exportRun,
  importRun,
  loadMnist,
  getBackend,
} from '../../src/browser/index.js';

const EPOCHS = 3;
const BATCH = 32;
const STORAGE = new IndexedDBStorage('waypoint-example');
const RUN_DIR = 'mnist-cnn';
const BACKUP_DIR = `${RUN_DIR}/backup`;
const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string) => {
  el('status').textContent = text;
};

/** The loss logged at each batch this page trained (a resumed page starts its curve at the backup). */
const losses: Array<{ step: number; loss: number }> = [];

function drawCurve(totalSteps: number): void {
  const canvas = el<HTMLCanvasElement>('curve');
  const g = canvas.getContext('2d')!;
  const { width, height } = canvas;
  g.clearRect(0, 0, width, height);
  g.strokeStyle = '#ddd';
  g.fillStyle = '#888';
  g.font = '11px system-ui';
  for (let loss = 0; loss <= 2.5; loss += 0.5) {
    const y = height - 20 - (loss / 2.5) * (height - 30);
    g.beginPath();
    g.moveTo(30, y);
    g.lineTo(width, y);
    g.stroke();
    g.fillText(loss.toFixed(1), 4, y + 4);
  }
  g.fillText("loss (the epoch's running mean, Keras's batch logs)", 36, 12);
  g.strokeStyle = '#1a73e8';
  g.beginPath();
  losses.forEach(({ step, loss }, i) => {
    const x = 30 + (step / totalSteps) * (width - 34);
    const y = height - 20 - (Math.min(loss, 2.5) / 2.5) * (height - 30);
    if (i === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  });
  g.stroke();
}

async function hasBackup(): Promise<boolean> {
  return (await STORAGE.list(BACKUP_DIR).catch(() => [])).some((name) => name.endsWith('.wpt'));
}

async function train(): Promise<void> {
  el<HTMLButtonElement>('start').disabled = true;
  status('loading MNIST…');
  const { xTrain, yTrain, xTest, yTest } = await loadMnist({
    shape: 'image',
    url: new URL('./digits.idx.gz', location.href),
  });
  const model = new Sequential(
    [
      new Conv2D({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      new MaxPool2D({ poolSize: 2 }),
      new Conv2D({ filters: 16, kernelSize: 3, activation: 'relu' }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
    { seed: 42 },
  );
  model.compile({
    optimizer: new Adam({ learningRate: 1e-3 }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const steps = Math.ceil(xTrain.shape[0] / BATCH);
  let epoch = 0;
  let resumedAt: number | null = null;
  const backup = new BackupAndRestore({
    backupDir: BACKUP_DIR,
    saveFreq: 50,
    storage: STORAGE,
    pauseWhenHidden: el<HTMLInputElement>('pause').checked,
  });
  let lastStep = 0;
  // The backup a hidden tab triggers, told as soon as it is durable (training may be paused behind it).
  const watchHidden = setInterval(() => {
    if (backup.lastHiddenBackupMs === null) return;
    el('hidden').textContent =
      `the page was hidden: backed up at batch ${lastStep + 1}, durable ${backup.lastHiddenBackupMs.toFixed(0)} ms after`;
    backup.lastHiddenBackupMs = null;
  }, 100);
  const curve = {
    onEpochBegin: async (e: number) => {
      epoch = e;
    },
    onBatchEnd: async (batch: number, logs?: Record<string, number>) => {
      const step = epoch * steps + batch + 1;
      if (resumedAt === null) {
        resumedAt = step - 1;
        status(resumedAt > 0 ? `resumed from the backup at batch ${resumedAt}` : 'training');
      }
      lastStep = step;
      losses.push({ step, loss: logs?.loss ?? NaN });
      if (batch % 10 === 0) drawCurve(EPOCHS * steps);
    },
  };
  const history = await model.fit(xTrain, yTrain, {
    epochs: EPOCHS,
    batchSize: BATCH,
    verbose: 0,
    validationData: [xTest, yTest],
    callbacks: [backup, curve, new ProgressBar({ sink: el('progress'), epochs: EPOCHS, stepsPerEpoch: steps })],
  });
  clearInterval(watchHidden);
  drawCurve(EPOCHS * steps);
  const accuracy = history.history.val_accuracy?.at(-1) ?? NaN;
  status(`done: test accuracy ${(accuracy * 100).toFixed(1)} % (${getBackend().name})`);
  el<HTMLButtonElement>('start').disabled = false;
}

el('start').onclick = () => {
  void train().catch((e: Error) => status(`failed: ${e.message}`));
};
el('reset').onclick = async () => {
  for (const name of await STORAGE.list(BACKUP_DIR).catch(() => [])) await STORAGE.remove(`${BACKUP_DIR}/${name}`);
  status('backup forgotten');
};
// The run (its backup) as one file: a tar whose index holds every file's SHA-256.
el('download').onclick = async () => {
  try {
    const bytes = await exportRun(STORAGE, RUN_DIR);
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([bytes], { type: 'application/x-tar' }));
    link.download = 'mnist-cnn.run.tar';
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000); // revoked at once, the download may not start
    status(`downloaded the run (${(bytes.length / 1e6).toFixed(2)} MB)`);
  } catch (e) {
    status(`nothing to download: ${(e as Error).message}`);
  }
};
// A run file picked by the user, verified whole before a byte is written, then resumed.
el<HTMLInputElement>('upload').onchange = async () => {
  const file = el<HTMLInputElement>('upload').files?.[0];
  if (!file) return;
  try {
    await importRun(file, STORAGE, RUN_DIR);
    status(`imported ${file.name}: press Train to resume it`);
  } catch (e) {
    status(`not imported: ${(e as Error).message}`);
  }
};
// A backup from a reloaded or closed tab: carry on at once.
if (await hasBackup()) el('start').click();
