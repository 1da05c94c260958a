export { CheckpointError } from './errors.js';
export type { CheckpointErrorCode } from './errors.js';
export { Variable } from './variable.js';
export { copyUnlessSame, isTrackable } from './trackable.js';
export type { Trackable, LoadOptions } from './trackable.js';
export type { StateDict, StateLeaf, JsonValue } from './tree.js';
export { resolveMode } from './mode.js';
export type { Mode } from './mode.js';
