import type { JsonValue, StateDict } from './tree.js';
import type { Trackable } from './trackable.js';

/** A JSON value (a step counter, a best score, …) that a Checkpoint saves and restores in place. */
export class Variable<T extends JsonValue = number> implements Trackable {
  constructor(public value: T) {}

  assign(value: T): this {
    this.value = value;
    return this;
  }

  stateDict(): StateDict {
    return { value: this.value };
  }

  loadStateDict(state: StateDict): void {
    this.value = state.value as T;
  }
}
