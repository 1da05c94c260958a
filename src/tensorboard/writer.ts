/**
 * An event file in a run directory, written through a Storage: named as TensorFlow names
 * them (`events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2`, sorting after any file already
 * there, since TensorBoard reads a directory's files in name order), opened with the
 * file_version event, each event appended as it comes. `flush` waits until the events are
 * in the file (as TensorFlow's flush: a killed process loses none of them); `close` also
 * makes the file durable (fsync). Where the storage can (the file system), each event is appended synchronously:
 * a process killed right after a hook returns has then lost none of the events it added
 * (a resume relies on the dead run's batch points up to its last backup).
 */
import { join } from '../paths.js';
import type { Storage, WriteHandle } from '../storage/storage.js';
import { osError } from '../storage/os-errors.js';
import { platform } from '../platform.js';
import { type EventBody, encodeEvent } from './events.js';
import { frameRecord } from './records.js';

export const EVENT_FILE = /^events\.out\.tfevents\.(\d+)\./;

export class EventFileWriter {
  private pending: Promise<void> = Promise.resolve();
  private failed: Error | null = null;

  private constructor(
    readonly path: string,
    private readonly handle: WriteHandle,
    private readonly now: () => number,
    private readonly synchronous = false,
  ) {}

  /** Creates a new event file in `dir` (made if missing) and writes its file_version event. */
  static async create(storage: Storage, dir: string, now: () => number = Date.now): Promise<EventFileWriter> {
    await storage.mkdirp(dir).catch((cause) => {
      throw osError('TensorBoard cannot create the log directory', dir, cause);
    });
    const existing = (await storage.list(dir)).filter((n) => EVENT_FILE.test(n)).sort();
    const last = existing.at(-1);
    const { host, pid } = platform().identity();
    let seconds = Math.floor(now() / 1000);
    const nameAt = (s: number, n: number) => `events.out.tfevents.${s}.${host.replace(/[^\w.-]/g, '_')}.${pid}.${n}.v2`;
    // A restart within the same second (or with a clock behind) must still sort after the files before it.
    if (last !== undefined && nameAt(seconds, 0) <= last) seconds = Number(EVENT_FILE.exec(last)![1]) + 1;
    for (let n = 0; ; n++) {
      const path = join(dir, nameAt(seconds, n));
      try {
        const sync = storage.createSynchronous !== undefined;
        const writer = new EventFileWriter(
          path,
          sync ? storage.createSynchronous!(path) : await storage.createExclusive(path),
          now,
          sync,
        );
        writer.add(0, { kind: 'fileVersion', version: 'brain.Event:2' });
        return writer;
      } catch (e) {
        if ((e as { code?: string }).code !== 'EEXIST')
          throw osError('TensorBoard cannot create its event file', path, e);
      }
    }
  }

  /** Appends one event (written in order, in the background; `flush` waits and reports a failure). */
  add(step: number, body: EventBody): void {
    const record = frameRecord(encodeEvent({ wallTime: this.now() / 1000, step, body }));
    if (this.synchronous) {
      // The handle's write is synchronous underneath: call it now, not after the chain's next turn.
      if (this.failed === null)
        this.handle.write([record]).catch((e: Error) => {
          this.failed ??= e;
        });
      return;
    }
    this.pending = this.pending
      .then(() => this.handle.write([record]))
      .catch((e: Error) => {
        this.failed ??= e;
      });
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
      await this.handle.sync().catch((e: Error) => {
        throw osError('syncing the TensorBoard event file failed', this.path, e);
      });
    } finally {
      await this.handle.close();
    }
  }
}
