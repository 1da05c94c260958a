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
}

export function isTrackable(x: unknown): x is Trackable {
  return typeof x === 'object' && x !== null &&
    typeof (x as Trackable).stateDict === 'function' && typeof (x as Trackable).loadStateDict === 'function';
}

/** Copies `from` into `to`, unless they are one array (restored in place by Checkpoint.read). */
export function copyUnlessSame(from: Float32Array, to: Float32Array): void {
  if (from !== to) to.set(from);
}
