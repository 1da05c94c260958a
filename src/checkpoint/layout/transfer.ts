/**
 * What a save or a restore reports as it goes, and how it stops when asked: `onProgress` and
 * an AbortSignal, as fetch and the file system APIs take them.
 */
import { CheckpointError } from '../../state/errors.js';

export interface TransferProgress {
  /** Entries done (written, or read and verified). */
  entries: number;
  totalEntries: number;
  /**
   * Tensor bytes done, as held in memory (float32). A restore larger than 64 MiB reads the
   * file twice (verified first, then read into the arrays: docs/FORMAT.md §5.1) and counts both.
   */
  bytes: number;
  totalBytes: number;
}

export interface TransferOptions {
  /** Called as entries are done (their bytes handed to the storage, or read and verified); the last call counts them all. */
  onProgress?: (progress: TransferProgress) => void;
  /**
   * Stops the save or restore with an `ABORTED` CheckpointError: a save leaves nothing behind
   * (the file it replaces stays as it was); a restore leaves every array as it was, until its
   * verification is done: from there it completes, since stopping would leave arrays half restored.
   */
  signal?: AbortSignal;
}

/** Throws ABORTED if `signal` has fired; `what` is the save or restore it stops ("the save of a.wpt"). */
export function throwIfAborted(signal: AbortSignal | undefined, what: string, file: string): void {
  if (!signal?.aborted) return;
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  throw new CheckpointError('ABORTED', `${what} was aborted${reason}`, { file, cause: signal.reason });
}

/** Counts entries and bytes done and reports each step to `onProgress`. */
export class ProgressCounter {
  private entries = 0;
  private bytes = 0;

  constructor(
    private readonly totalEntries: number,
    private readonly totalBytes: number,
    private readonly onProgress: ((p: TransferProgress) => void) | undefined,
  ) {}

  add(entries: number, bytes: number): void {
    this.entries += entries;
    this.bytes += bytes;
    this.onProgress?.({
      entries: this.entries,
      totalEntries: this.totalEntries,
      bytes: this.bytes,
      totalBytes: this.totalBytes,
    });
  }
}
