/**
 * A load thread in Node (checkpoint/threads): reads, verifies and decodes the tensor entries
 * it is sent, through the descriptor of a file the main thread holds open.
 */
import './install.js';
import { parentPort } from 'node:worker_threads';
import { readHandleOver } from './fs-storage.js';
import { handleLoadMessage, handleOverPayload } from '../checkpoint/threads/load-job.js';
import type { LoadMessage } from '../checkpoint/threads/load-threads.js';

const port = parentPort;
if (port === null)
  throw new Error('load-worker.ts runs as a worker thread (checkpoint/threads/load-threads.ts starts it)');

port.on('message', (message: LoadMessage) =>
  handleLoadMessage(
    message,
    (job) =>
      job.fd !== undefined
        ? readHandleOver(job.fd, job.size)
        : handleOverPayload(new Uint8Array(job.payload!), job.entry.offset, job.size),
    (reply, transfer) => port.postMessage(reply, transfer),
  ),
);
port.postMessage('ready');
