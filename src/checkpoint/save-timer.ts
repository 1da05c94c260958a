/**
 * Saves by wall-clock time (`{ minutes }` or `{ seconds }`, as Lightning's train_time_interval
 * and Orbax's continuous checkpointing): due once the interval has passed since the last save
 * ended. With an `overheadBudget` (a share, e.g. 0.01) the interval stretches after each save so
 * that the time training was blocked by it stays within that share of the time between saves.
 */
import { ArgumentError } from '../errors.js';

export interface TimeInterval {
  minutes?: number;
  seconds?: number;
}

/** `{ minutes }` / `{ seconds }` in milliseconds, checked. */
export function intervalMs(owner: string, what: string, interval: TimeInterval): number {
  const ok = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v > 0);
  const given = typeof interval === 'object' && interval !== null;
  if (!given || !ok(interval.minutes) || !ok(interval.seconds) || (interval.minutes ?? interval.seconds) === undefined)
    throw new ArgumentError(
      `${owner}: ${what} must be { minutes } or { seconds } of positive numbers, got ${JSON.stringify(interval)}`,
    );
  return ((interval.minutes ?? 0) * 60 + (interval.seconds ?? 0)) * 1000;
}

export function checkOverheadBudget(owner: string, budget: number | undefined): number | undefined {
  if (budget === undefined) return undefined;
  if (!(typeof budget === 'number' && budget > 0 && budget < 1))
    throw new ArgumentError(`${owner}: overheadBudget must be a share in (0, 1), like 0.01, got ${budget}`);
  return budget;
}

/**
 * A saving callback's `saveFreq` and `overheadBudget`, checked together: 'epoch', a positive
 * number of batches, or a time interval (returned in milliseconds; null for the others).
 */
export function checkSaveFreq(
  owner: string,
  saveFreq: 'epoch' | number | TimeInterval,
  overheadBudget: number | undefined,
): number | null {
  const timed = typeof saveFreq === 'object' && saveFreq !== null;
  if (!timed && saveFreq !== 'epoch' && !(Number.isInteger(saveFreq) && (saveFreq as number) > 0))
    throw new ArgumentError(
      `${owner}: saveFreq must be 'epoch', a positive integer of batches or { minutes } / { seconds }, got ${JSON.stringify(saveFreq)}`,
    );
  checkOverheadBudget(owner, overheadBudget);
  if (overheadBudget !== undefined && !timed)
    throw new ArgumentError(`${owner}: overheadBudget stretches a time saveFreq ({ minutes } or { seconds })`);
  return timed ? intervalMs(owner, 'saveFreq', saveFreq as TimeInterval) : null;
}

export class SaveTimer {
  private last: number;
  private interval: number;

  constructor(
    private readonly base: number,
    private readonly budget: number | undefined,
    /** Milliseconds, monotonic (tests pass a fake clock). */
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.last = clock();
    this.interval = base;
  }

  /** The interval now in force (the base, or longer under the overhead budget), in milliseconds. */
  get currentMs(): number {
    return this.interval;
  }

  /** Whether the interval has passed since the last save ended (or since the timer started). */
  due(): boolean {
    return this.clock() - this.last >= this.interval;
  }

  /** Runs a save, timing what it blocks; the next interval counts from its end. */
  async time<T>(save: () => Promise<T>): Promise<T> {
    const start = this.clock();
    try {
      return await save();
    } finally {
      const end = this.clock();
      this.last = end;
      // blocked / (interval + blocked) ≤ budget  ⇔  interval ≥ blocked · (1/budget − 1)
      if (this.budget !== undefined) this.interval = Math.max(this.base, (end - start) * (1 / this.budget - 1));
    }
  }
}
