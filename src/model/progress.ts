import { Callback } from './callback.js';
import type { Logs } from './history.js';

export interface ProgressBarOptions {
  /** 1: a live bar with ETA (one line per epoch when not a TTY); 2: one line per epoch. */
  verbose?: 1 | 2;
  epochs?: number;
  stepsPerEpoch?: number;
  write?: (text: string) => void;
  isTTY?: boolean;
  /** The terminal's width (default: stdout's, else 80): the live line never wraps. */
  columns?: number;
}

const metricParts = (logs: Logs | undefined) =>
  Object.entries(logs ?? {}).filter(([k]) => k !== 'batch' && k !== 'size').map(([k, v]) => `${k}: ${v.toFixed(4)}`);

function fmtSeconds(s: number): string {
  return s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60).toString().padStart(2, '0')}s` : `${s.toFixed(s < 10 ? 1 : 0)}s`;
}

/**
 * `head - bar - tail - metrics` in at most `width` characters: the bar goes first, then
 * metrics from the last, then the line is cut. A line that wraps would scroll on every redraw.
 */
export function fitLine(head: string, bar: string | null, tail: string, metrics: string[], width: number): string {
  const join = (withBar: boolean, m: string[]) => [withBar && bar ? `${head} ${bar}` : head, tail, ...m].filter(Boolean).join(' - ');
  let line = join(true, metrics);
  if (line.length > width && bar) line = join(false, metrics);
  for (let keep = metrics.length - 1; line.length > width && keep >= 0; keep--) line = join(false, metrics.slice(0, keep));
  return line.slice(0, width);
}

/** What `verbose: 1 | 2` shows, Keras-style. */
export class ProgressBar extends Callback {
  private readonly write: (text: string) => void;
  private readonly live: boolean;
  private epochStart = 0;
  private lastDraw = 0;
  /** Batches this process trained in this epoch: after a resume the restored ones took no time here. */
  private timed = 0;

  constructor(private readonly options: ProgressBarOptions = {}) {
    super();
    const stdout = (globalThis as { process?: { stdout?: { write(t: string): void; isTTY?: boolean; columns?: number } } }).process?.stdout;
    this.write = options.write ?? ((t) => stdout?.write(t));
    this.live = (options.verbose ?? 1) === 1 && (options.isTTY ?? Boolean(stdout?.isTTY));
  }

  private get width(): number {
    const stdout = (globalThis as { process?: { stdout?: { columns?: number } } }).process?.stdout;
    // One column short of the edge: a line exactly as wide as the terminal wraps on some.
    return (this.options.columns ?? stdout?.columns ?? 80) - 1;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epochStart = performance.now();
    this.timed = 0;
    if (this.live) this.write(`Epoch ${epoch + 1}/${this.options.epochs ?? '?'}\n`);
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    const now = performance.now();
    this.timed++;
    const steps = this.options.stepsPerEpoch ?? 0;
    if (!this.live || (now - this.lastDraw < 100 && batch + 1 < steps)) return;
    this.lastDraw = now;
    const done = batch + 1;
    const barWidth = 30;
    const filled = steps ? Math.round((done / steps) * barWidth) : barWidth;
    const elapsed = (now - this.epochStart) / 1000;
    const eta = steps ? (elapsed / this.timed) * (steps - done) : 0;
    const bar = `[${'='.repeat(Math.max(filled - 1, 0))}${filled ? '>' : ''}${'.'.repeat(barWidth - filled)}]`;
    this.write(`\r${fitLine(`${done}/${steps}`, bar, `ETA: ${fmtSeconds(eta)}`, metricParts(logs), this.width)}\x1b[K`);
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const seconds = fmtSeconds((performance.now() - this.epochStart) / 1000);
    if (this.live) this.write(`\r${fitLine(`${this.options.stepsPerEpoch}/${this.options.stepsPerEpoch}`, null, seconds, metricParts(logs), this.width)}\x1b[K\n`);
    else this.write(`${[`Epoch ${epoch + 1}/${this.options.epochs ?? '?'}`, seconds, ...metricParts(logs)].join(' - ')}\n`);
  }
}
