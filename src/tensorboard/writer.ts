/**
 * An event file in a run directory, written through a Storage: named as TensorFlow names
 * them (`events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2`, sorting after any file already
 * there, since TensorBoard reads a directory's files in name order), opened with the
 * file_version event, each event appended as it comes. `flush` waits until the events are
 * in the file (as TensorFlow's flush: a killed process loses none of them); `close` also
 * makes the file durable (fsync).
 */
import { join } from '../paths.js';
import type { Storage, WriteHandle } from '../checkpoint/storage/storage.js';
import { osError } from '../checkpoint/storage/os-errors.js';
import { currentProcess } from '../checkpoint/process-identity.js';
import { type EventBody, encodeEvent } from './events.js';
import { frameRecord } from './records.js';

export const EVENT_FILE = /^events\.out\.tfevents\.(\d+)\./;

export class EventFileWriter {
  private pending: Promise<void> = Promise.resolve();
  private failed: Error | null = null;

  private constructor(readonly path: string, private readonly handle: WriteHandle, private readonly now: () => number) {}

  /** Creates a new event file in `dir` (made if missing) and writes its file_version event. */
  static async create(storage: Storage, dir: string, now: () => number = Date.now): Promise<EventFileWriter> {
    await storage.mkdirp(dir).catch((cause) => { throw osError('TensorBoard cannot create the log directory', dir, cause); });
    const existing = (await storage.list(dir)).filter((n) => EVENT_FILE.test(n)).sort();
    const last = existing.at(-1);
    const { host, pid } = currentProcess();
    let seconds = Math.floor(now() / 1000);
    const nameAt = (s: number, n: number) => `events.out.tfevents.${s}.${host.replace(/[^\w.-]/g, '_')}.${pid}.${n}.v2`;
    // A restart within the same second (or with a clock behind) must still sort after the files before it.
    if (last !== undefined && nameAt(seconds, 0) <= last) seconds = Number(EVENT_FILE.exec(last)![1]) + 1;
    for (let n = 0; ; n++) {
      const path = join(dir, nameAt(seconds, n));
      try {
        const writer = new EventFileWriter(path, await storage.createExclusive(path), now);
        writer.add(0, { kind: 'fileVersion', version: 'brain.Event:2' });
        return writer;
      } catch (e) {
        if ((e as { code?: string }).code !== 'EEXIST') throw osError('TensorBoard cannot create its event file', path, e);
      }
    }
  }

  /** Appends one event (written in order, in the background; `flush` waits and reports a failure). */
  add(step: number, body: EventBody): void {
    const record = frameRecord(encodeEvent({ wallTime: this.now() / 1000, step, body }));
    this.pending = this.pending.then(() => this.handle.write([record])).catch((e: Error) => { this.failed ??= e; });
  }

  /** Waits until every event added so far is written to the file; reports a failed write. */
  async flush(): Promise<void> {
    await this.pending;
    if (this.failed) throw osError('writing the TensorBoard event file failed', this.path, this.failed);
  }

  /** Flushes, makes the file durable, and closes it. */
  async close(): Promise<void> {
    try {
      await this.flush();
      await this.handle.sync().catch((e: Error) => { throw osError('syncing the TensorBoard event file failed', this.path, e); });
    } finally {
      await this.handle.close();
    }
  }
}
