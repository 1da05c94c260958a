import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setBackend, type BackendChoice, getBackend } from '../backend/index.js';
import { loadMnist } from '../data/mnist.js';
import { WptReader } from '../checkpoint/format/reader.js';
import { latestCheckpoint } from '../checkpoint/manifest.js';
import { acquireLock } from '../checkpoint/lock.js';
import { fsStorage } from '../node/fs-storage.js';
import { osError } from '../storage/os-errors.js';
import { Callback } from '../model/callback.js';
import { BackupAndRestore } from '../callbacks/backup-and-restore.js';
import { CSVLogger } from '../callbacks/csv-logger.js';
import { ModelCheckpoint } from '../callbacks/model-checkpoint.js';
import { loadModel } from '../model/load.js';
import type { Model } from '../model/model.js';
import { TrainingInterruptedError, exitCodeFor, interruptOnSignals } from '../model/interrupt.js';
import { type Command, UsageError, intOption } from './args.js';
import { type MnistModelKind, mnistModel } from './models.js';

/** Tells the user where a resumed run picks up (placed after BackupAndRestore). */
class ResumeNotice extends Callback {
  constructor(
    private readonly backup: BackupAndRestore,
    private readonly say: (s: string) => void,
  ) {
    super();
  }
  override async onTrainBegin(): Promise<void> {
    const start = this.context!.start;
    if (this.backup.restoredFrom)
      this.say(`resuming from epoch ${start.epoch + 1}, batch ${start.batch} (backup ${this.backup.restoredFrom})`);
  }
}

export const train: Command = {
  name: 'train',
  title: 'train the built-in MNIST model with checkpoints; rerun to resume',
  summary:
    'Train the built-in MNIST model with checkpoints. Interrupt it (Ctrl-C, kill) and run the same command again: it resumes exactly where it stopped.',
  usage: 'train [--model mlp|cnn] [--epochs N] [--run DIR] [--backend cpu|gpu|auto] [--seed N] [--every-batches N]',
  options: {
    model: { type: 'string', default: 'cnn', help: 'mlp (784-128-10) or cnn (conv 8, pool, conv 16, pool, dense 10)' },
    epochs: { type: 'string', default: '4', help: 'total epochs; more than a finished run has continues it' },
    run: { type: 'string', help: 'run directory (default runs/<model>)' },
    backend: { type: 'string', default: 'auto', help: 'cpu, gpu or auto' },
    seed: { type: 'string', default: '42', help: 'seed of initialization, shuffling and dropout' },
    'every-batches': { type: 'string', help: 'back up every N batches (default: every epoch)' },
    'take-over-lock': {
      type: 'boolean',
      help: 'take over the backup lock even if its holder looks alive (make sure it is not)',
    },
  },
  async run(positionals, v) {
    if (positionals.length) throw new UsageError(`train: unexpected argument '${positionals[0]}'`);
    const kind = v.model as string;
    if (kind !== 'mlp' && kind !== 'cnn') throw new UsageError(`train: --model must be mlp or cnn, got '${kind}'`);
    const epochs = intOption('train', 'epochs', v.epochs);
    const seed = intOption('train', 'seed', v.seed, 0);
    const every = v['every-batches'] === undefined ? 'epoch' : intOption('train', 'every-batches', v['every-batches']);
    const backend = v.backend as BackendChoice;
    if (!['cpu', 'gpu', 'auto'].includes(backend))
      throw new UsageError(`train: --backend must be cpu, gpu or auto, got '${backend}'`);
    setBackend(backend);
    const dir = (v.run as string | undefined) ?? join('runs', kind);
    const paths = {
      backup: join(dir, 'backup'),
      best: join(dir, 'best.wpt'),
      last: join(dir, 'last.wpt'),
      csv: join(dir, 'log.csv'),
    };

    // The whole command holds the run's lock: what to resume is decided under it, so a run
    // started while another finishes waits for nothing and decides nothing from a half state.
    await fsStorage.mkdirp(dir).catch((cause) => {
      throw osError('cannot create the run directory', dir, cause);
    });
    const runLock = await acquireLock(fsStorage, dir, {
      name: RUN_LOCK,
      warn: (m) => console.error(`waypoint: ${m}`),
      takeOver: v['take-over-lock'] === true,
    });
    try {
      await trainRun(dir, paths, kind, { epochs, seed, every, takeOverLock: v['take-over-lock'] === true });
    } finally {
      await runLock.release();
    }
  },
};

/** The lock file of a run directory, held by `waypoint train` from start to end. */
const RUN_LOCK = 'run.lock';

interface RunPaths {
  backup: string;
  best: string;
  last: string;
  csv: string;
}

async function trainRun(
  dir: string,
  paths: RunPaths,
  kind: string,
  o: { epochs: number; seed: number; every: 'epoch' | number; takeOverLock: boolean },
): Promise<void> {
  const { epochs, seed, every } = o;
  const say = (s: string) => console.log(s);
  await refuseOtherModel(dir, paths, kind);
  // A finished run (final model saved, no backup pending) is continued from its last model.
  let model: Model = mnistModel(kind as MnistModelKind, seed);
  if (existsSync(paths.last) && !existsSync(paths.backup)) {
    model = await loadModel(paths.last);
    if (model.currentEpoch >= epochs) {
      say(`run ${dir} is complete: ${plural(model.currentEpoch, 'epoch')} trained.`);
      say(`best model: ${paths.best}${await bestNote(paths.best)}`);
      say(`last model: ${paths.last}`);
      return;
    }
    say(`continuing the finished run ${dir} from epoch ${model.currentEpoch + 1} to ${epochs}`);
  }
  const data = await loadMnist({ shape: kind === 'mlp' ? 'flat' : 'image' });
  say(`backend: ${getBackend().detail}`);
  const count = (n: number) => n.toLocaleString('en-US');
  say(
    `training ${kind} on MNIST (${count(data.xTrain.shape[0])} train / ${count(data.xTest.shape[0])} test) for ${plural(epochs, 'epoch')}; run directory ${dir}`,
  );
  const backup = new BackupAndRestore({ backupDir: paths.backup, saveFreq: every, takeOverLock: o.takeOverLock });
  // Ctrl-C, and kill or `docker stop` (SIGTERM): the batch in flight finishes, a backup of
  // that exact position is written and the lock released; a second signal exits at once.
  const stopSignals = interruptOnSignals(model, { exit: false });
  try {
    await model.fit(data.xTrain, data.yTrain, {
      epochs,
      batchSize: 32,
      validationData: [data.xTest, data.yTest],
      initialEpoch: model.currentEpoch,
      callbacks: [
        backup,
        new ResumeNotice(backup, say),
        new ModelCheckpoint({
          filepath: paths.best,
          monitor: 'val_accuracy',
          saveBestOnly: true,
          saveLast: paths.last,
        }),
        new CSVLogger(paths.csv, { append: true }),
      ],
    });
  } catch (e) {
    if (!(e instanceof TrainingInterruptedError)) throw e;
    console.error(
      `interrupted (${e.reason}) at epoch ${e.epoch + 1}, batch ${e.batch}: backed up to ${paths.backup}; run the same command again to resume`,
    );
    process.exitCode = exitCodeFor(e.reason as 'SIGINT' | 'SIGTERM');
    return;
  } finally {
    stopSignals();
  }
  say(
    `run complete: ${plural(model.currentEpoch, 'epoch')}; final test accuracy ${(model.history.history.val_accuracy.at(-1)! * 100).toFixed(2)}%`,
  );
  say(`best model: ${paths.best}${await bestNote(paths.best)}`);
  say(`last model: ${paths.last}`);
}

/** A run directory holding another model's run is refused at once, saying what it holds (not a shape error deep in fit). */
async function refuseOtherModel(dir: string, paths: { backup: string; last: string }, kind: string): Promise<void> {
  const file = (await latestCheckpoint(paths.backup)) ?? (existsSync(paths.last) ? paths.last : null);
  if (file === null || !existsSync(file)) return;
  const reader = await WptReader.open(file);
  let name: string;
  try {
    name = ((await reader.read('config')) as { model?: { name?: string } }).model?.name ?? '?';
  } finally {
    await reader.close();
  }
  if (name === `mnist_${kind}`) return;
  const held = /^mnist_(mlp|cnn)$/.exec(name)?.[1];
  throw new UsageError(
    `${dir} holds a ${held ? `'${held}' run` : `run of another model ('${name}')`}, not '${kind}': ` +
      `${held ? `continue it with --model ${held}, or ` : ''}start a new run with --run NEW_DIR`,
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function bestNote(path: string): Promise<string> {
  if (!existsSync(path)) return '';
  const reader = await WptReader.open(path);
  try {
    const history = (await reader.read('history')) as { history: Record<string, number[]> };
    const acc = history.history.val_accuracy ?? [];
    return acc.length ? ` (val_accuracy ${(Math.max(...acc.filter(Number.isFinite)) * 100).toFixed(2)}%)` : '';
  } finally {
    await reader.close();
  }
}
