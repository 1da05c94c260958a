/**
 * How fast a run stops, and what prompt stopping costs. `npm run bench -- interrupt [--quick]`
 *
 * 1. Event-loop turns: MNIST epochs with the fit loop's yields (every 50 ms) beside epochs
 *    that never yield (`yieldEveryMs: Infinity`), alternating, medians.
 * 2. Signals: `waypoint train --model cnn` (per-epoch backups) gets SIGTERM or SIGINT at a
 *    random moment of its first epoch; timed from the signal to the handler's first line and
 *    to the exit, beside one batch plus one backup save measured in this run (the target).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Callback, Random, loadMnist } from '../src/node/index.js';
import { mnistModel } from '../src/cli/models.js';
import { median, table } from './common.js';

const quick = process.argv.includes('--quick');
const BIN = join(import.meta.dirname, '..', 'bin', 'waypoint.js');

/** Seconds of one epoch of training (validation not included), with or without event-loop turns. */
async function epochSeconds(
  arch: 'mlp' | 'cnn',
  yieldEveryMs: number,
  data: Awaited<ReturnType<typeof loadMnist>>,
): Promise<{ seconds: number; batchMs: number }> {
  const model = mnistModel(arch, 1);
  let start = 0,
    seconds = 0;
  class Timer extends Callback {
    override async onEpochBegin() {
      start = performance.now();
    }
    override async onEpochEnd() {
      seconds = (performance.now() - start) / 1000;
    }
  }
  await model.fit(data.xTrain, data.yTrain, {
    epochs: 1,
    batchSize: 32,
    verbose: 0,
    yieldEveryMs,
    callbacks: [new Timer()],
  });
  return { seconds, batchMs: (seconds * 1000) / Math.ceil(data.xTrain.shape[0] / 32) };
}

async function yieldCost(): Promise<{ cnnBatchMs: number }> {
  const rows: Array<Array<string | number>> = [];
  let cnnBatchMs = 0;
  for (const arch of ['mlp', 'cnn'] as const) {
    const data = await loadMnist({ shape: arch === 'mlp' ? 'flat' : 'image' });
    const pairs = quick ? 2 : arch === 'mlp' ? 7 : 5;
    await epochSeconds(arch, Infinity, data); // warm-up: kernels compiled, memory touched
    const yielding: number[] = [],
      never: number[] = [];
    for (let i = 0; i < pairs; i++) {
      // Alternate which goes first: the machine is shared and drifts.
      const order = i % 2 === 0 ? [50, Infinity] : [Infinity, 50];
      for (const every of order) {
        const { seconds, batchMs } = await epochSeconds(arch, every, data);
        (every === 50 ? yielding : never).push(seconds);
        if (arch === 'cnn' && every === 50) cnnBatchMs = batchMs;
      }
    }
    const [y, n] = [median(yielding), median(never)];
    rows.push([arch, String(pairs), n, y, y / n, `${(((y - n) / n) * 100).toFixed(2)} %`]);
  }
  console.log('event-loop turns every 50 ms (medians of alternating epochs)');
  console.log(table(['model', 'pairs', 'never yields s', 'yields s', 'ratio', 'cost'], rows));
  return { cnnBatchMs };
}

/** One backup-sized save of the CNN, median ms. */
async function saveMs(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wpt-bench-save-'));
  const model = mnistModel('cnn', 1);
  model.build([28, 28, 1]);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    await model.save(join(dir, 'backup.wpt'));
    times.push(performance.now() - t);
  }
  rmSync(dir, { recursive: true, force: true });
  return median(times.slice(2));
}

interface Stop {
  handledMs: number;
  exitMs: number;
  code: number | null;
  backupStep: number;
}

function signalOnce(signal: 'SIGTERM' | 'SIGINT', delayMs: number): Promise<Stop> {
  const run = mkdtempSync(join(tmpdir(), 'wpt-bench-interrupt-'));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, 'train', '--model', 'cnn', '--epochs', '2', '--run', run, '--backend', 'cpu'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let sentAt = 0,
      handledAt = 0,
      err = '';
    child.stdout.on('data', (d: Buffer) => {
      if (sentAt === 0 && d.toString().includes('training cnn'))
        setTimeout(() => {
          sentAt = performance.now();
          child.kill(signal);
        }, delayMs);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      if (handledAt === 0 && err.includes('finishing the current batch')) handledAt = performance.now();
    });
    child.on('exit', (code) => {
      const exitAt = performance.now();
      try {
        const manifest = JSON.parse(readFileSync(join(run, 'backup', 'manifest.json'), 'utf8')) as {
          checkpoints: Array<{ step: number }>;
        };
        resolve({
          handledMs: handledAt - sentAt,
          exitMs: exitAt - sentAt,
          code,
          backupStep: manifest.checkpoints.at(-1)?.step ?? -1,
        });
      } catch (e) {
        reject(new Error(`no backup after ${signal} (exit ${code}): ${err.trim()} ${(e as Error).message}`));
      } finally {
        rmSync(run, { recursive: true, force: true });
      }
    });
  });
}

export async function run(): Promise<void> {
  const { cnnBatchMs } = await yieldCost();
  const save = await saveMs();
  const budget = cnnBatchMs + save;
  const rng = new Random(7);
  const rows: Array<Array<string | number>> = [];
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const stops: Stop[] = [];
    for (let i = 0; i < (quick ? 2 : 5); i++)
      stops.push(await signalOnce(signal, 400 + Math.floor(rng.uniform() * 2000)));
    const handled = stops.map((s) => s.handledMs),
      exits = stops.map((s) => s.exitMs);
    rows.push([
      signal,
      String(stops.length),
      stops.map((s) => s.code).join(','),
      median(handled),
      Math.max(...handled),
      median(exits),
      Math.max(...exits),
      median(exits) / budget,
      stops.map((s) => `${Math.floor(s.backupStep / 250) + 1}:${s.backupStep % 250}`).join(' '),
    ]);
  }
  console.log(
    '\nsignals 0.4-2.4 s into the MNIST CNN run (250 batches an epoch; per-epoch backups, so no backup existed before the signal)',
  );
  console.log(
    `one batch: ${cnnBatchMs.toFixed(1)} ms, one backup save: ${save.toFixed(1)} ms; their sum, ${budget.toFixed(1)} ms, is the target`,
  );
  console.log(
    table(
      [
        'signal',
        'runs',
        'exit codes',
        'handled ms (median)',
        'max',
        'exited ms (median)',
        'max',
        'exit / (batch + save)',
        'backup at epoch:batch',
      ],
      rows,
    ),
  );
}
