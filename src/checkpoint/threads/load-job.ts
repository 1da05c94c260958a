/**
 * What a load thread does with a message (load-threads.ts), whatever starts the thread: Node's
 * worker_threads (src/node/load-worker.ts, reading through the file's descriptor) or a Web
 * Worker (src/browser/load-worker.ts, handed the entry's stored bytes). Each decoded array
 * goes back without a copy (its buffer is transferred).
 */
import { Tensor } from '../../tensor/tensor.js';
import { CheckpointError } from '../../state/errors.js';
import { EntryReader } from '../codec/entry-reader.js';
import { recycle, takeScratch } from '../layout/recycler.js';
import { decodedByteLength, DTYPE_SIZE } from '../layout/format.js';
import type { ReadHandle } from '../../storage/storage.js';
import type { LoadJob, LoadMessage, LoadReply } from './load-threads.js';

/** Reads of an entry's stored bytes, which start at file offset `base`. */
export function handleOverPayload(bytes: Uint8Array, base: number, size: number): ReadHandle {
  return {
    size,
    async read(offset, length, into) {
      const part = bytes.subarray(offset - base, offset - base + length);
      if (!into) return part;
      into.set(part);
      return into.subarray(0, part.length);
    },
    close: async () => undefined,
  };
}

/** Handles one message; `post` sends a reply (with the buffers to transfer). */
export async function handleLoadMessage(
  message: LoadMessage,
  handleFor: (job: LoadJob) => ReadHandle,
  post: (reply: LoadReply, transfer: ArrayBuffer[]) => void,
): Promise<void> {
  if ('recycle' in message) {
    recycle([new Uint8Array(message.recycle)]);
    return;
  }
  const { id } = message;
  try {
    const data = await decode(message, handleFor(message));
    post({ id, data }, [data.buffer as ArrayBuffer]);
  } catch (err) {
    const error =
      err instanceof CheckpointError
        ? { code: err.code, detail: err.detail, file: err.file, entry: err.entry, offset: err.offset }
        : { message: (err as Error).message, errno: (err as { code?: string }).code };
    post({ id, error }, []);
  }
}

async function decode({ file, entry, reuse, verifyOnly }: LoadJob, handle: ReadHandle): Promise<Float32Array> {
  if (entry.dtype === 'json') throw new Error(`load threads decode tensors; entry '${entry.key}' is JSON`);
  const reader = new EntryReader(file, handle);
  if (verifyOnly) {
    await reader.verify(entry, undefined);
    return new Float32Array(0);
  }
  if (!reuse) return ((await reader.read(entry)) as Tensor).data;
  const values = decodedByteLength(entry) / DTYPE_SIZE[entry.dtype];
  const out = takeScratch(values * 4);
  try {
    await reader.readTensorInto(entry, new Float32Array(out.buffer, 0, values));
  } catch (err) {
    recycle([out]);
    throw err;
  }
  return new Float32Array(out.buffer, 0, values);
}
