import { Callback } from './callback.js';
import type { Logs } from './history.js';

export interface ProgressBarOptions {
  /** 1: a live bar with ETA (one line per epoch when not a TTY); 2: one line per epoch. */
  verbose?: 1 | 2;
  epochs?: number;
  stepsPerEpoch?: number;
  write?: (text: string) => void;
  isTTY?: boolean;
}

const fmtLogs = (logs: Logs | undefined) =>
  Object.entries(logs ?? {}).filter(([k]) => k !== 'batch' && k !== 'size').map(([k, v]) => `${k}: ${v.toFixed(4)}`).join(' - ');

function fmtSeconds(s: number): string {
  return s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60).toString().padStart(2, '0')}s` : `${s.toFixed(s < 10 ? 1 : 0)}s`;
}

/** What `verbose: 1 | 2` shows, Keras-style. */
export class ProgressBar extends Callback {
  private readonly write: (text: string) => void;
  private readonly live: boolean;
  private epochStart = 0;
  private lastDraw = 0;

  constructor(private readonly options: ProgressBarOptions = {}) {
    super();
    this.write = options.write ?? ((t) => process.stdout.write(t));
    this.live = (options.verbose ?? 1) === 1 && (options.isTTY ?? Boolean(process.stdout.isTTY));
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epochStart = performance.now();
    if (this.live) this.write(`Epoch ${epoch + 1}/${this.options.epochs ?? '?'}\n`);
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    const now = performance.now();
    const steps = this.options.stepsPerEpoch ?? 0;
    if (!this.live || (now - this.lastDraw < 100 && batch + 1 < steps)) return;
    this.lastDraw = now;
    const done = batch + 1;
    const width = 30;
    const filled = steps ? Math.round((done / steps) * width) : width;
    const elapsed = (now - this.epochStart) / 1000;
    const eta = steps ? (elapsed / done) * (steps - done) : 0;
    this.write(`\r${done}/${steps} [${'='.repeat(Math.max(filled - 1, 0))}${filled ? '>' : ''}${'.'.repeat(width - filled)}] - ETA: ${fmtSeconds(eta)} - ${fmtLogs(logs)}\x1b[K`);
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const seconds = (performance.now() - this.epochStart) / 1000;
    if (this.live) this.write(`\r${this.options.stepsPerEpoch}/${this.options.stepsPerEpoch} - ${fmtSeconds(seconds)} - ${fmtLogs(logs)}\x1b[K\n`);
    else this.write(`Epoch ${epoch + 1}/${this.options.epochs ?? '?'} - ${fmtSeconds(seconds)} - ${fmtLogs(logs)}\n`);
  }
}
