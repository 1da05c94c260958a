/**
 * The browser example (`npm run example:browser`, then open the printed address): trains the
 * MNIST CNN in the page with a live loss curve and a progress bar, backs up to IndexedDB
 * every 50 batches, and after a reload or a closed tab resumes where it stopped.
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
  loadMnist,
  getBackend,
} from '../../src/browser/index.js';

const EPOCHS = 3;
const BATCH = 32;
const STORAGE = new IndexedDBStorage('waypoint-example');
const BACKUP_DIR = 'mnist-cnn/backup';
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
      losses.push({ step, loss: logs?.loss ?? NaN });
      if (batch % 10 === 0) drawCurve(EPOCHS * steps);
    },
  };
  const backup = new BackupAndRestore({ backupDir: BACKUP_DIR, saveFreq: 50, storage: STORAGE });
  const history = await model.fit(xTrain, yTrain, {
    epochs: EPOCHS,
    batchSize: BATCH,
    verbose: 0,
    validationData: [xTest, yTest],
    callbacks: [backup, curve, new ProgressBar({ sink: el('progress'), epochs: EPOCHS, stepsPerEpoch: steps })],
  });
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
// A backup from a reloaded or closed tab: carry on at once.
if (await hasBackup()) el('start').click();
