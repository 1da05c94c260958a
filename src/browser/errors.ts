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

/**
 * As fromDom, and a full quota says how full, with what to do: the origin's usage and quota
 * (navigator.storage.estimate) as the advice of the NO_SPACE error it becomes.
 */
export async function fromDomWithQuota(cause: unknown, path: string): Promise<Error> {
  const error = fromDom(cause, path);
  if ((error as { code?: string }).code !== 'ENOSPC') return error;
  const estimate = await globalThis.navigator?.storage?.estimate?.().catch(() => undefined);
  const sizes =
    estimate?.quota !== undefined ? ` (${mib(estimate.usage ?? 0)} of its ${mib(estimate.quota)} in use)` : '';
  return Object.assign(error, {
    advice:
      `the origin's storage quota is exhausted${sizes}: delete runs it no longer needs, keep a run within ` +
      `CheckpointManager's maxBytes, or ask the browser to persist this origin's storage (requestPersistentStorage)`,
  });
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
