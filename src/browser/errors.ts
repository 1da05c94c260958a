/**
 * Browser storage failures as the errno codes the rest of the package knows (os-errors.ts
 * turns those into CheckpointErrors): a full quota is ENOSPC, a missing file ENOENT.
 */
export function errno(code: string, path: string, message = code): Error {
  return Object.assign(new Error(`${code}: ${message}, ${path}`), { code, path });
}

/** A DOMException from IndexedDB or the file system API, with the errno it means. */
export function fromDom(cause: unknown, path: string): Error {
  const name = (cause as { name?: string } | null)?.name;
  const message = (cause as Error | null)?.message ?? String(cause);
  const code =
    name === 'QuotaExceededError'
      ? 'ENOSPC'
      : name === 'NotFoundError'
        ? 'ENOENT'
        : name === 'TypeMismatchError'
          ? 'EISDIR'
          : name === 'NotAllowedError' || name === 'SecurityError'
            ? 'EACCES'
            : name === 'ConstraintError'
              ? 'EEXIST'
              : 'EIO';
  return errno(code, path, `${name ?? 'Error'}: ${message}`);
}
