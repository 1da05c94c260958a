import type { StateDict } from './tree.js';

export interface LoadOptions {
  /** Fail on missing or unexpected keys (default true). */
  strict?: boolean;
}

/**
 * Anything whose state can be saved and restored: layers, models, optimizers, the RNG,
 * History, counters. State is keyed by path, never by position or object identity, so a
 * fresh process can restore it.
 */
export interface Trackable {
  stateDict(): StateDict;
  loadStateDict(state: StateDict, options?: LoadOptions): void;
  /**
   * Called by `Checkpoint.read` with the file's entries under this object (keys relative to it;
   * shape null for JSON values) before it compares keys: lets an object create state that
   * otherwise exists only after a first step (an optimizer's slots), so that a fresh object
   * restores as a trained one.
   */
  prepareRestore?(entries: ReadonlyArray<{ key: string; shape: readonly number[] | null }>): void;
}

export function isTrackable(x: unknown): x is Trackable {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as Trackable).stateDict === 'function' &&
    typeof (x as Trackable).loadStateDict === 'function'
  );
}

/** Copies `from` into `to`, unless they are one array (restored in place by Checkpoint.read). */
export function copyUnlessSame(from: Float32Array, to: Float32Array): void {
  if (from !== to) to.set(from);
}
