import { join } from 'node:path';
import { setBackend, type BackendChoice, getBackend } from '../backend/index.js';
import { loadMnist } from '../data/mnist.js';
import { WptReader } from '../checkpoint/format/reader.js';
import { latestCheckpoint } from '../checkpoint/manifest.js';
import { acquireLock } from '../checkpoint/lock.js';
import { fsStorage } from '../node/fs-storage.js';
import { osError } from '../storage/os-errors.js';
import type { Storage } from '../storage/storage.js';
import { TieredStorage } from '../storage/tiered.js';
import { rootedAt } from '../storage/rooted.js';
import { isS3Url, s3StorageFromEnv } from '../s3/index.js';
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
  usage:
    'train [--model mlp|cnn] [--epochs N] [--run DIR|s3://BUCKET/PREFIX [--local DIR]] [--backend cpu|gpu|auto] [--seed N] [--every-batches N]',
  options: {
    model: { type: 'string', default: 'cnn', help: 'mlp (784-128-10) or cnn (conv 8, pool, conv 16, pool, dense 10)' },
    epochs: { type: 'string', default: '4', help: 'total epochs; more than a finished run has continues it' },
    run: {
      type: 'string',
      help: 'run directory (default runs/<model>), or s3://bucket/prefix: saved locally first, then uploaded (credentials and endpoint from AWS_* variables)',
    },
    local: {
      type: 'string',
      help: 'with an s3:// run: the local tier (default runs/s3/<bucket>/<prefix>); a new machine starts with an empty one and resumes from the bucket',
    },
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
    const { storage, dir, shown } = runLocation(
      (v.run as string | undefined) ?? join('runs', kind),
      v.local as string | undefined,
    );
    const paths = {
      backup: join(dir, 'backup'),
      best: join(dir, 'best.wpt'),
      last: join(dir, 'last.wpt'),
      csv: join(dir, 'log.csv'),
    };

    // The whole command holds the run's lock: what to resume is decided under it, so a run
    // started while another finishes waits for nothing and decides nothing from a half state.
    await storage.mkdirp(dir).catch((cause) => {
      throw osError('cannot create the run directory', shown(dir), cause);
    });
    const runLock = await acquireLock(storage, dir, {
      name: RUN_LOCK,
      warn: (m) => console.error(`waypoint: ${m}`),
      takeOver: v['take-over-lock'] === true,
    });
    try {
      await trainRun({ storage, dir, shown }, paths, kind, {
        epochs,
        seed,
        every,
        takeOverLock: v['take-over-lock'] === true,
      });
      await storage.flush?.(); // an s3:// run: every upload done before the command ends
    } finally {
      await runLock.release();
    }
  },
};

interface RunLocation {
  storage: Storage;
  /** The run's directory in `storage`. */
  dir: string;
  /** A path as the user knows it (an s3:// URL for a remote run's files). */
  shown: (path: string) => string;
}

/** A local run directory, or an s3:// prefix with its local tier. */
function runLocation(run: string, local: string | undefined): RunLocation {
  if (!isS3Url(run)) {
    if (local !== undefined) throw new UsageError('train: --local applies to an s3:// --run only');
    return { storage: fsStorage, dir: run, shown: (p) => p };
  }
  const { storage: remote, key } = s3StorageFromEnv(run, process.env, { warn: (m) => console.error(`waypoint: ${m}`) });
  const bucket = run.slice('s3://'.length).split('/')[0];
  const tier = local ?? join('runs', 's3', bucket, key);
  const storage = new TieredStorage({
    local: rootedAt(fsStorage, tier),
    remote,
    warn: (m) => console.error(`waypoint: ${m}`),
  });
  return { storage, dir: key || '.', shown: (p) => `s3://${bucket}/${p}` };
}

/** The lock file of a run directory, held by `waypoint train` from start to end. */
const RUN_LOCK = 'run.lock';

interface RunPaths {
  backup: string;
  best: string;
  last: string;
  csv: string;
}

async function trainRun(
  where: RunLocation,
  paths: RunPaths,
  kind: string,
  o: { epochs: number; seed: number; every: 'epoch' | number; takeOverLock: boolean },
): Promise<void> {
  const { epochs, seed, every } = o;
  const { storage, dir, shown } = where;
  const say = (s: string) => console.log(s);
  await refuseOtherModel(where, paths, kind);
  // A finished run (final model saved, no backup pending) is continued from its last model.
  let model: Model = mnistModel(kind as MnistModelKind, seed);
  if ((await exists(storage, paths.last)) && !(await latestCheckpoint(paths.backup, storage))) {
    model = await loadModel(paths.last, { storage });
    if (model.currentEpoch >= epochs) {
      say(`run ${shown(dir)} is complete: ${plural(model.currentEpoch, 'epoch')} trained.`);
      say(`best model: ${shown(paths.best)}${await bestNote(storage, paths.best)}`);
      say(`last model: ${shown(paths.last)}`);
      return;
    }
    say(`continuing the finished run ${shown(dir)} from epoch ${model.currentEpoch + 1} to ${epochs}`);
  }
  const data = await loadMnist({ shape: kind === 'mlp' ? 'flat' : 'image' });
  say(`backend: ${getBackend().detail}`);
  const count = (n: number) => n.toLocaleString('en-US');
  say(
    `training ${kind} on MNIST (${count(data.xTrain.shape[0])} train / ${count(data.xTest.shape[0])} test) for ${plural(epochs, 'epoch')}; run directory ${shown(dir)}`,
  );
  const backup = new BackupAndRestore({
    backupDir: paths.backup,
    saveFreq: every,
    takeOverLock: o.takeOverLock,
    storage,
  });
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
          storage,
        }),
        new CSVLogger(paths.csv, { append: true, storage }),
      ],
    });
  } catch (e) {
    if (!(e instanceof TrainingInterruptedError)) throw e;
    console.error(
      `interrupted (${e.reason}) at epoch ${e.epoch + 1}, batch ${e.batch}: backed up to ${shown(paths.backup)}; run the same command again to resume`,
    );
    process.exitCode = exitCodeFor(e.reason as 'SIGINT' | 'SIGTERM');
    return;
  } finally {
    stopSignals();
  }
  say(
    `run complete: ${plural(model.currentEpoch, 'epoch')}; final test accuracy ${(model.history.history.val_accuracy.at(-1)! * 100).toFixed(2)}%`,
  );
  say(`best model: ${shown(paths.best)}${await bestNote(storage, paths.best)}`);
  say(`last model: ${shown(paths.last)}`);
}

/** Whether `path` exists in `storage`. */
async function exists(storage: Storage, path: string): Promise<boolean> {
  try {
    await (await storage.openRead(path)).close();
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return false;
    throw e;
  }
}

/** A run directory holding another model's run is refused at once, saying what it holds (not a shape error deep in fit). */
async function refuseOtherModel(
  where: RunLocation,
  paths: { backup: string; last: string },
  kind: string,
): Promise<void> {
  const { storage, dir, shown } = where;
  const file =
    (await latestCheckpoint(paths.backup, storage)) ?? ((await exists(storage, paths.last)) ? paths.last : null);
  if (file === null || !(await exists(storage, file))) return;
  const reader = await WptReader.open(file, storage);
  let name: string;
  try {
    name = ((await reader.read('config')) as { model?: { name?: string } }).model?.name ?? '?';
  } finally {
    await reader.close();
  }
  if (name === `mnist_${kind}`) return;
  const held = /^mnist_(mlp|cnn)$/.exec(name)?.[1];
  throw new UsageError(
    `${shown(dir)} holds a ${held ? `'${held}' run` : `run of another model ('${name}')`}, not '${kind}': ` +
      `${held ? `continue it with --model ${held}, or ` : ''}start a new run with --run NEW_DIR`,
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function bestNote(storage: Storage, path: string): Promise<string> {
  if (!(await exists(storage, path))) return '';
  const reader = await WptReader.open(path, storage);
  try {
    const history = (await reader.read('history')) as { history: Record<string, number[]> };
    const acc = history.history.val_accuracy ?? [];
    return acc.length ? ` (val_accuracy ${(Math.max(...acc.filter(Number.isFinite)) * 100).toFixed(2)}%)` : '';
  } finally {
    await reader.close();
  }
}
