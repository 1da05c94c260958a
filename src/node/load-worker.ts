/**
 * A load thread (load-threads.ts): reads, verifies and decodes the tensor entries it is
 * sent, through the descriptor of a file the main thread holds open, and hands each array
 * back without a copy (its buffer is transferred).
 */
import { parentPort } from 'node:worker_threads';
import './install.js';
import { Tensor } from '../tensor/tensor.js';
import { CheckpointError } from '../state/errors.js';
import { EntryReader } from '../checkpoint/format/entry-reader.js';
import { readHandleOver } from './fs-storage.js';
import { recycle, takeScratch } from '../checkpoint/format/recycler.js';
import { decodedByteLength, DTYPE_SIZE } from '../checkpoint/format/format.js';
import type { LoadJob, LoadMessage, LoadReply } from '../checkpoint/threads/load-threads.js';

const port = parentPort;
if (port === null) throw new Error('load-worker.ts runs as a worker thread (checkpoint/threads/load-threads.ts starts it)');

port.on('message', async (message: LoadMessage) => {
  if ('recycle' in message) {
    recycle([new Uint8Array(message.recycle)]);
    return;
  }
  const { id } = message;
  try {
    const data = await decode(message);
    port.postMessage({ id, data } satisfies LoadReply, [data.buffer as ArrayBuffer]);
  } catch (err) {
    const error = err instanceof CheckpointError
      ? { code: err.code, detail: err.detail, file: err.file, entry: err.entry, offset: err.offset }
      : { message: (err as Error).message, errno: (err as NodeJS.ErrnoException).code };
    port.postMessage({ id, error } satisfies LoadReply);
  }
});
port.postMessage('ready');

async function decode({ file, fd, size, entry, reuse }: LoadJob): Promise<Float32Array> {
  if (entry.dtype === 'json') throw new Error(`load threads decode tensors; entry '${entry.key}' is JSON`);
  const reader = new EntryReader(file, readHandleOver(fd, size));
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
