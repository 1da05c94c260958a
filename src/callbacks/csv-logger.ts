import { dirname } from '../paths.js';
import { ArgumentError } from '../errors.js';
import { type Storage, getDefaultStorage, readFileIfExists, writeFileAtomic } from '../storage/storage.js';
import { tempPathFor } from '../storage/temp-names.js';
import { osError } from '../storage/os-errors.js';
import { Callback } from '../model/callback.js';
import type { Logs } from '../model/history.js';

export interface CSVLoggerOptions {
  separator?: string;
  /** Continue an existing file instead of starting a new one. */
  append?: boolean;
  /** Where the file goes (default: the default storage). */
  storage?: Storage;
}

/**
 * Writes one row per epoch (epoch, then the fit's log keys sorted; `NA` where an epoch has no
 * value, as for validation keys with validationFreq), as Keras's CSVLogger. With `append` an
 * existing file is continued. A resumed fit (a restored backup, or initialEpoch > 0) first
 * drops the trailing rows of the epochs it is about to train again, so the file matches the
 * model's history; a new fit from epoch 0 with `append` keeps every earlier row, as Keras does. Each
 * write replaces the file atomically.
 */
export class CSVLogger extends Callback {
  private readonly separator: string;
  private readonly append: boolean;
  private header: string[] | null = null;
  private rows: string[][] = [];

  constructor(
    readonly path: string,
    private readonly options: CSVLoggerOptions = {},
  ) {
    super();
    if (typeof path !== 'string' || path === '')
      throw new ArgumentError(`CSVLogger: path must be a non-empty file path, got ${JSON.stringify(path)}`);
    this.separator = options.separator ?? ',';
    this.append = options.append ?? false;
  }

  private get storage(): Storage {
    return this.options.storage ?? getDefaultStorage();
  }

  override async onTrainBegin(): Promise<void> {
    this.header = null;
    this.rows = [];
  }

  /** Reads what to keep from an earlier run once the starting epoch is final (after restores). */
  private async loadPrevious(): Promise<void> {
    const start = this.context?.start.epoch ?? 0;
    const resumed = (this.context?.resumed ?? false) || (this.params?.initialEpoch ?? 0) > 0;
    if (!this.append && !resumed) return;
    let bytes: Uint8Array | null;
    try {
      bytes = await readFileIfExists(this.storage, this.path);
    } catch (cause) {
      throw osError('CSVLogger cannot read the log', this.path, cause);
    }
    if (bytes === null) return;
    const lines = new TextDecoder()
      .decode(bytes)
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => l.split(this.separator));
    if (lines.length === 0) return;
    this.header = lines[0];
    this.rows = lines.slice(1);
    // Only the last run's rows are this run's: drop its trailing rows of epochs being trained again.
    if (resumed) while (this.rows.length > 0 && Number(this.rows[this.rows.length - 1][0]) >= start) this.rows.pop();
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    if (this.header === null) {
      await this.loadPrevious();
      // The fit's keys, not this epoch's: validation keys exist before the first validation.
      this.header ??= ['epoch', ...(this.params?.metrics ?? withValidationKeys(Object.keys(logs))).slice().sort()];
    }
    this.rows.push(
      this.header.map((k) => (k === 'epoch' ? String(epoch) : logs[k] === undefined ? 'NA' : String(logs[k]))),
    );
    const text = [this.header, ...this.rows].map((r) => r.join(this.separator)).join('\n') + '\n';
    try {
      await this.storage.mkdirp(dirname(this.path));
      await writeFileAtomic(this.storage, this.path, new TextEncoder().encode(text), tempPathFor(this.path));
    } catch (cause) {
      throw osError('CSVLogger cannot write the log', this.path, cause);
    }
  }
}

/**
 * Keras's rule where the fit's keys are unknown (hooks called by hand): first logs without any
 * `val_` key get a `val_` column for each key, since validation may run less often than every
 * epoch; epochs without it write NA there.
 */
function withValidationKeys(keys: string[]): string[] {
  return keys.some((k) => k.startsWith('val_')) ? keys : [...keys, ...keys.map((k) => `val_${k}`)];
}
