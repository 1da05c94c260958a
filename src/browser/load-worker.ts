/**
 * A load thread in a page: a module Web Worker (src/browser/platform.ts starts it) that
 * verifies and decodes the tensor entries it is sent, each with its stored bytes.
 */
import './install.js';
import { handleLoadMessage, handleOverPayload } from '../checkpoint/threads/load-job.js';
import type { LoadMessage } from '../checkpoint/threads/load-threads.js';

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<LoadMessage>) => void) | null;
  postMessage(m: unknown, transfer?: Transferable[]): void;
};
scope.onmessage = (e) =>
  void handleLoadMessage(
    e.data,
    (job) => handleOverPayload(new Uint8Array(job.payload!), job.entry.offset, job.size),
    (reply, transfer) => scope.postMessage(reply, transfer),
  );
scope.postMessage('ready');
