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
  const code = name === 'QuotaExceededError' ? 'ENOSPC'
    : name === 'NotFoundError' ? 'ENOENT'
      : name === 'TypeMismatchError' ? 'EISDIR'
        : name === 'NotAllowedError' || name === 'SecurityError' ? 'EACCES'
          : name === 'ConstraintError' ? 'EEXIST' : 'EIO';
  return errno(code, path, `${name ?? 'Error'}: ${message}`);
}

/** Reads of bytes held whole (an IndexedDB record, a File): slices, as a file descriptor would give them. */
export function readHandleOverBytes(size: number, slice: (offset: number, end: number) => Promise<Uint8Array>) {
  return {
    size,
    async read(offset: number, length: number, into?: Uint8Array) {
      const bytes = await slice(offset, Math.min(size, offset + length));
      if (!into) return bytes;
      into.set(bytes);
      return into.subarray(0, bytes.length);
    },
    close: async () => undefined,
  };
}
