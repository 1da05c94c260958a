/**
 * A load thread (load-threads.ts): reads, verifies and decodes the tensor entries it is
 * sent, through the descriptor of a file the main thread holds open, and hands each array
 * back without a copy (its buffer is transferred).
 */
import { parentPort } from 'node:worker_threads';
import { Tensor } from '../tensor/tensor.js';
import { CheckpointError } from './errors.js';
import { EntryReader } from './entry-reader.js';
import { readHandleOver } from './storage.js';
import type { LoadJob, LoadReply } from './load-threads.js';

const port = parentPort;
if (port === null) throw new Error('load-worker.ts runs as a worker thread (load-threads.ts starts it)');

port.on('message', async ({ id, file, fd, size, entry }: LoadJob) => {
  try {
    const value = await new EntryReader(file, readHandleOver(fd, size)).read(entry);
    if (!(value instanceof Tensor)) throw new Error(`load threads decode tensors; entry '${entry.key}' is ${entry.dtype}`);
    port.postMessage({ id, data: value.data } satisfies LoadReply, [value.data.buffer as ArrayBuffer]);
  } catch (err) {
    const error = err instanceof CheckpointError
      ? { code: err.code, detail: err.detail, file: err.file, entry: err.entry, offset: err.offset }
      : { message: (err as Error).message, errno: (err as NodeJS.ErrnoException).code };
    port.postMessage({ id, error } satisfies LoadReply);
  }
});
port.postMessage('ready');
