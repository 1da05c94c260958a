import { Callback } from './callback.js';
import type { Logs } from './history.js';
import { type TextSink, platform } from '../platform.js';

/** An element of a page (a `<pre>`) the bar renders into, as a terminal would show it. */
export interface TextElement {
  textContent: string | null;
}

/**
 * Where the bar goes: 'console' (a line per epoch through console.log), a page element (a
 * live bar, redrawn in place), or a function given every piece of text a terminal would get.
 * Default: the platform's stdout (Node), else the console.
 */
export type ProgressSink = 'console' | TextElement | ((text: string) => void);

export interface ProgressBarOptions {
  /** 1: a live bar with ETA (one line per epoch where the sink cannot redraw); 2: one line per epoch. */
  verbose?: 1 | 2;
  epochs?: number;
  stepsPerEpoch?: number;
  sink?: ProgressSink;
  /** The same as a function `sink`. */
  write?: (text: string) => void;
  /** Whether the sink redraws a line in place (default: true for an element, stdout's isTTY for stdout, else false). */
  isTTY?: boolean;
  /** The line's width (default: stdout's, else 80): the live line never wraps. */
  columns?: number;
}

/** Lines for console.log: text is collected until its newline; redraws ('\r') replace the line. */
function consoleSink(): TextSink {
  let line = '';
  return {
    isTTY: false,
    write(text) {
      for (const part of text.split(/(\n)/)) {
        if (part === '\n') {
          console.log(line);
          line = '';
        } else line = part.slice(part.lastIndexOf('\r') + 1);
      }
    },
  };
}

/** Renders what a terminal would show into an element: '\r' returns to the line's start, '\x1b[K' is dropped. */
function elementSink(element: TextElement): TextSink {
  const lines = [''];
  return {
    isTTY: true,
    write(text) {
      for (const part of text.replace(/\x1b\[K/g, '').split(/(\n)/)) {
        if (part === '\n') lines.push('');
        else if (part.includes('\r')) lines[lines.length - 1] = part.slice(part.lastIndexOf('\r') + 1);
        else lines[lines.length - 1] += part;
      }
      element.textContent = lines.join('\n');
    },
  };
}

function sinkFor(options: ProgressBarOptions): TextSink {
  const sink = options.sink ?? options.write;
  if (sink === undefined) return platform().stdout ?? consoleSink();
  if (sink === 'console') return consoleSink();
  if (typeof sink === 'function') return { write: sink, isTTY: false };
  return elementSink(sink);
}

const metricParts = (logs: Logs | undefined) =>
  Object.entries(logs ?? {})
    .filter(([k]) => k !== 'batch' && k !== 'size')
    .map(([k, v]) => `${k}: ${v.toFixed(4)}`);

function fmtSeconds(s: number): string {
  return s >= 60
    ? `${Math.floor(s / 60)}m${Math.round(s % 60)
        .toString()
        .padStart(2, '0')}s`
    : `${s.toFixed(s < 10 ? 1 : 0)}s`;
}

/**
 * `head - bar - tail - metrics` in at most `width` characters: the bar goes first, then
 * metrics from the last, then the line is cut. A line that wraps would scroll on every redraw.
 */
export function fitLine(head: string, bar: string | null, tail: string, metrics: string[], width: number): string {
  const join = (withBar: boolean, m: string[]) =>
    [withBar && bar ? `${head} ${bar}` : head, tail, ...m].filter(Boolean).join(' - ');
  let line = join(true, metrics);
  if (line.length > width && bar) line = join(false, metrics);
  for (let keep = metrics.length - 1; line.length > width && keep >= 0; keep--)
    line = join(false, metrics.slice(0, keep));
  return line.slice(0, width);
}

/** What `verbose: 1 | 2` shows, Keras-style. */
export class ProgressBar extends Callback {
  private readonly sink: TextSink;
  private readonly live: boolean;
  private epochStart = 0;
  private lastDraw = 0;
  /** Batches this process trained in this epoch: after a resume the restored ones took no time here. */
  private timed = 0;
  /** The batches of this epoch so far (its last batch index + 1). */
  private done = 0;

  constructor(private readonly options: ProgressBarOptions = {}) {
    super();
    this.sink = sinkFor(options);
    this.live = (options.verbose ?? 1) === 1 && (options.isTTY ?? this.sink.isTTY);
  }

  /** The fit's epochs and batches per epoch, unless the options say otherwise (a bar added to `callbacks` learns them from the fit). */
  private get epochs(): number | string {
    return this.options.epochs ?? this.params?.epochs ?? '?';
  }

  /** null while an epoch lasts until its dataset ends (fitDataset): shown as Keras shows it, `12/Unknown`. */
  private get steps(): number | null {
    return this.options.stepsPerEpoch ?? this.params?.steps ?? null;
  }

  private get width(): number {
    // One column short of the edge: a line exactly as wide as the terminal wraps on some.
    return (this.options.columns ?? this.sink.columns ?? 80) - 1;
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epochStart = performance.now();
    this.timed = 0;
    this.done = 0;
    if (this.live) this.sink.write(`Epoch ${epoch + 1}/${this.epochs}\n`);
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    const now = performance.now();
    this.timed++;
    const steps = this.steps;
    const done = (this.done = batch + 1);
    if (!this.live || (now - this.lastDraw < 100 && (steps === null || done < steps))) return;
    this.lastDraw = now;
    const elapsed = (now - this.epochStart) / 1000;
    if (steps === null) {
      this.sink.write(
        `\r${fitLine(`${done}/Unknown`, null, fmtSeconds(elapsed), metricParts(logs), this.width)}\x1b[K`,
      );
      return;
    }
    const barWidth = 30;
    const filled = steps ? Math.round((done / steps) * barWidth) : barWidth;
    const eta = steps ? (elapsed / this.timed) * (steps - done) : 0;
    const bar = `[${'='.repeat(Math.max(filled - 1, 0))}${filled ? '>' : ''}${'.'.repeat(barWidth - filled)}]`;
    this.sink.write(
      `\r${fitLine(`${done}/${steps}`, bar, `ETA: ${fmtSeconds(eta)}`, metricParts(logs), this.width)}\x1b[K`,
    );
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const seconds = fmtSeconds((performance.now() - this.epochStart) / 1000);
    const total = this.steps ?? this.done;
    if (this.live)
      this.sink.write(`\r${fitLine(`${total}/${total}`, null, seconds, metricParts(logs), this.width)}\x1b[K\n`);
    else this.sink.write(`${[`Epoch ${epoch + 1}/${this.epochs}`, seconds, ...metricParts(logs)].join(' - ')}\n`);
  }
}
