import { WaypointError } from '../errors.js';

/** Why a checkpoint could not be read or written; one code per failure (docs/FORMAT.md §8). */
export type CheckpointErrorCode =
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'TRUNCATED'
  | 'HEADER_TOO_LARGE'
  | 'MALFORMED_HEADER'
  | 'OFFSET_OUT_OF_RANGE'
  | 'OVERLAPPING_ENTRIES'
  | 'CHECKSUM_MISMATCH'
  | 'HASH_MISMATCH'
  | 'DECOMPRESSED_SIZE_MISMATCH'
  | 'UNKNOWN_CODEC'
  | 'UNKNOWN_DTYPE'
  | 'ENTRY_TOO_LARGE'
  | 'MISSING_KEYS'
  | 'UNEXPECTED_KEYS'
  | 'SHAPE_MISMATCH'
  | 'INVALID_STATE'
  | 'NO_SPACE'
  | 'READ_ONLY'
  | 'PERMISSION_DENIED'
  | 'IS_A_DIRECTORY'
  | 'NOT_A_DIRECTORY'
  | 'ALREADY_EXISTS'
  | 'NOT_FOUND'
  | 'NAME_TOO_LONG'
  | 'NON_FINITE'
  | 'LOCKED'
  | 'UNSAFE_PATH'
  | 'ABORTED'
  | 'IO';

export interface CheckpointErrorContext {
  file?: string;
  entry?: string;
  offset?: number;
  cause?: unknown;
}

/**
 * Every failure to read or write a checkpoint. The message names the file, the entry and
 * the byte offset where they are known, so a damaged file can be located with a hex editor.
 */
export class CheckpointError extends WaypointError {
  readonly file?: string;
  readonly entry?: string;
  readonly offset?: number;

  /** `detail` is what went wrong, without the code and the location (which the message adds). */
  constructor(
    readonly code: CheckpointErrorCode,
    readonly detail: string,
    context: CheckpointErrorContext = {},
  ) {
    const where = [
      context.file !== undefined ? `file ${context.file}` : null,
      context.entry !== undefined ? `entry '${context.entry}'` : null,
      context.offset !== undefined ? `offset ${context.offset}` : null,
    ]
      .filter(Boolean)
      .join(', ');
    super(`${code}: ${detail}${where ? ` (${where})` : ''}`);
    this.file = context.file;
    this.entry = context.entry;
    this.offset = context.offset;
    if (context.cause !== undefined) this.cause = context.cause;
  }
}
