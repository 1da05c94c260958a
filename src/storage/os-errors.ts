/**
 * Operating-system failures as CheckpointErrors: each errno a storage can raise gets its own
 * code and a message that names the path and what to do about it, so neither a user nor the
 * CLI ever sees a bare "EROFS" or an "unexpected error".
 */
import { CheckpointError, type CheckpointErrorCode } from '../state/errors.js';

const OS_CODES: Record<string, { code: CheckpointErrorCode; advice: string }> = {
  ENOSPC: { code: 'NO_SPACE', advice: 'the volume is full: free space or choose another directory' },
  EDQUOT: { code: 'NO_SPACE', advice: 'the disk quota is exhausted: free space or choose another directory' },
  EROFS: { code: 'READ_ONLY', advice: 'the file system is mounted read-only: choose a writable directory' },
  EACCES: {
    code: 'PERMISSION_DENIED',
    advice: 'permission denied: check the owner and mode of the path, or choose another directory',
  },
  EPERM: {
    code: 'PERMISSION_DENIED',
    advice: 'operation not permitted: check the owner and mode of the path, or choose another directory',
  },
  EISDIR: { code: 'IS_A_DIRECTORY', advice: 'the path is a directory, not a file: give a file path' },
  ENOTDIR: { code: 'NOT_A_DIRECTORY', advice: 'a component of the path is a file, not a directory' },
  EEXIST: { code: 'ALREADY_EXISTS', advice: 'something already exists at the path: remove it or choose another path' },
  ENOENT: { code: 'NOT_FOUND', advice: 'no such file or directory' },
  ENAMETOOLONG: {
    code: 'NAME_TOO_LONG',
    advice: 'a file name is longer than the file system allows (255 bytes on most): choose a shorter name',
  },
};

/** The errno code of a failure (`ENOSPC`), if it has one. */
export const errnoOf = (cause: unknown): string | undefined =>
  (cause as { code?: unknown } | null)?.code as string | undefined;

/**
 * `what` failed because of `cause`; `file` is the path the user gave (the message also names
 * the path the system call was on, when that is another one, such as a temporary file).
 */
export function osError(what: string, file: string, cause: unknown): CheckpointError {
  if (cause instanceof CheckpointError) return cause;
  const errno = errnoOf(cause);
  const known = errno !== undefined ? OS_CODES[errno] : undefined;
  const syscallPath = (cause as { path?: string } | null)?.path;
  const on = syscallPath && syscallPath !== file ? ` at ${syscallPath}` : '';
  // A storage may know better what to advise (a browser's quota, with its sizes).
  const advice = (cause as { advice?: unknown } | null)?.advice;
  if (known)
    return new CheckpointError(
      known.code,
      `${what}: ${typeof advice === 'string' ? advice : known.advice} (${errno}${on})`,
      { file, cause },
    );
  const message = (cause as Error | null)?.message ?? String(cause);
  // Node's messages already start with the errno ("EIO: i/o error, write"): not twice.
  const prefix = errno && !message.startsWith(errno) ? `${errno} ` : '';
  return new CheckpointError('IO', `${what}: ${prefix}${message}`, { file, cause });
}
