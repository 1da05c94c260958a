import type { Logs } from './history.js';
import type { Sequential } from './sequential.js';

/**
 * Base class of callbacks: every hook is an async no-op, awaited by the fit loop. Set
 * `model.stopTraining = true` to stop after the current epoch.
 */
export class Callback {
  model!: Sequential;
  /** Every callback of the running fit (BackupAndRestore saves and restores their state). */
  peers: readonly Callback[] = [];

  setModel(model: Sequential): void {
    this.model = model;
  }

  async onTrainBegin(_logs?: Logs): Promise<void> {}
  async onTrainEnd(_logs?: Logs): Promise<void> {}
  /** Not in Keras: training failed with `error` (a callback threw, a save failed); release resources. */
  async onTrainAbort(_error: unknown): Promise<void> {}
  async onEpochBegin(_epoch: number, _logs?: Logs): Promise<void> {}
  async onEpochEnd(_epoch: number, _logs?: Logs): Promise<void> {}
  async onBatchBegin(_batch: number, _logs?: Logs): Promise<void> {}
  async onBatchEnd(_batch: number, _logs?: Logs): Promise<void> {}
}

/** Calls each callback's hook in order, awaiting each. */
export class CallbackList {
  constructor(readonly callbacks: Callback[]) {}

  setModel(model: Sequential): void {
    for (const c of this.callbacks) {
      c.setModel(model);
      c.peers = this.callbacks;
    }
  }

  async trainBegin(logs?: Logs) { for (const c of this.callbacks) await c.onTrainBegin(logs); }
  async trainEnd(logs?: Logs) { for (const c of this.callbacks) await c.onTrainEnd(logs); }
  async trainAbort(error: unknown) { for (const c of this.callbacks) await c.onTrainAbort(error).catch(() => undefined); }
  async epochBegin(epoch: number, logs?: Logs) { for (const c of this.callbacks) await c.onEpochBegin(epoch, logs); }
  async epochEnd(epoch: number, logs?: Logs) { for (const c of this.callbacks) await c.onEpochEnd(epoch, logs); }
  async batchBegin(batch: number, logs?: Logs) { for (const c of this.callbacks) await c.onBatchBegin(batch, logs); }
  async batchEnd(batch: number, logs?: Logs) { for (const c of this.callbacks) await c.onBatchEnd(batch, logs); }
}
