import type { StateDict } from '../state/tree.js';
import type { Trackable } from '../state/trackable.js';

export type Logs = Record<string, number>;

/**
 * Per-epoch logs, as Keras's History: `epoch` lists epoch indices, `history.loss[i]` is the
 * loss of epoch `epoch[i]`. It lives on the model and continues across fits and restores.
 */
export class History implements Trackable {
  epoch: number[] = [];
  history: Record<string, number[]> = {};

  /** Epochs trained so far: one past the last recorded epoch. */
  get nextEpoch(): number {
    return this.epoch.length === 0 ? 0 : this.epoch[this.epoch.length - 1] + 1;
  }

  record(epoch: number, logs: Logs): void {
    const at = this.epoch.length;
    this.epoch.push(epoch);
    for (const [key, value] of Object.entries(logs)) {
      const series = (this.history[key] ??= []);
      // A key first seen now (a metric added on resume) gets NaN for the epochs before.
      while (series.length < at) series.push(NaN);
      series.push(value);
    }
    for (const series of Object.values(this.history)) while (series.length < at + 1) series.push(NaN);
  }

  /** Drops every entry for epochs ≥ `epoch` (a fit restarting at initialEpoch overwrites them). */
  truncate(epoch: number): void {
    const keep = this.epoch.findIndex((e) => e >= epoch);
    if (keep === -1) return;
    this.epoch.length = keep;
    for (const series of Object.values(this.history)) series.length = keep;
  }

  stateDict(): StateDict {
    return {
      epoch: [...this.epoch],
      history: Object.fromEntries(Object.entries(this.history).map(([k, v]) => [k, [...v]])),
    };
  }

  loadStateDict(state: StateDict): void {
    this.epoch = [...(state.epoch as number[])];
    this.history = Object.fromEntries(
      Object.entries(state.history as Record<string, number[]>).map(([k, v]) => [k, [...v]]),
    );
  }
}
