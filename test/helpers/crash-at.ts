import { Callback } from '../../src/node/index.js';

/** What CrashAt throws: the in-process stand-in for a kill. */
export class Crash extends Error {}

/** Throws a Crash after `at` batches: nothing after it runs, as after a kill. */
export class CrashAt extends Callback {
  private n = 0;
  constructor(private readonly at: number) {
    super();
  }
  override async onBatchEnd() {
    if (++this.n === this.at) throw new Crash(`crash after batch ${this.at}`);
  }
}
