/**
 * Worker threads that share large loads with the calling thread. Each tensor entry is read,
 * checksummed, inflated and interleaved on one thread, into memory that thread allocates and
 * then transfers (no copy), so entries decode in parallel: the page faults of the new
 * arrays, the checksums and the decoding all spread over the cores. Threads start after the
 * first large load (or with startLoadThreads) and stay, unreferenced, for the next ones.
 * The calling thread takes entries as well, from the same queue.
 */
import { ArgumentError } from '../../errors.js';
import { CheckpointError, type CheckpointErrorCode } from '../../state/errors.js';
import type { EntryHeader } from '../layout/format.js';
import { type WorkerThread, platform } from '../../platform.js';

/** One tensor entry of an open file, for a load thread to decode. */
export interface LoadJob {
  id: number;
  /** Names the file in errors. */
  file: string;
  /** The open file's descriptor (Node), or else `payload`: the entry's stored bytes (a page's storage has no descriptors). */
  fd?: number;
  payload?: ArrayBuffer;
  size: number;
  entry: EntryHeader;
  /** Decode into the thread's scratch memory, which comes back through `LoadThread.recycle` (a restore copies out of it). */
  reuse: boolean;
  /** Only verify the entry (checksum, inflated sizes), keeping nothing: the reply's array is empty. */
  verifyOnly?: boolean;
}

type SerializedError =
  | { code: CheckpointErrorCode; detail: string; file?: string; entry?: string; offset?: number }
  | { message: string; errno?: string };

/** What a load thread is sent: a job, or a buffer to recycle. */
export type LoadMessage = LoadJob | { recycle: ArrayBuffer };

export type LoadReply = { id: number; data: Float32Array } | { id: number; error: SerializedError };

export interface LoadThreadOptions {
  /** Worker threads besides the calling one; 0 keeps every load on the calling thread. Default: the cores but one, at most 7. */
  threads: number;
  /**
   * Loads of fewer stored bytes of tensors stay on the calling thread. Default 1.5 MiB: the
   * crossover on a 2-core VM, below which handing entries to a thread costs more than it saves.
   */
  minBytes: number;
  /**
   * Whether the calling thread decodes entries too (the fastest load), or leaves them all to
   * the load threads and stays free for its event loop (a UI thread). Where no thread
   * starts, the calling thread decodes anyway.
   */
  useCallingThread: boolean;
}

const settings: LoadThreadOptions = {
  threads: Math.min(7, Math.max(0, platform().cores() - 1)),
  minBytes: 3 << 19,
  useCallingThread: true,
};

/** Whether loads that use threads also decode on the calling thread (see LoadThreadOptions). */
export const useCallingThread = () => settings.useCallingThread;

/** Changes how many load threads there are and which loads use them (threads beyond the new count stop); returns the settings it replaced. */
export function configureLoadThreads(options: Partial<LoadThreadOptions>): LoadThreadOptions {
  const { threads, minBytes } = options;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0))
    throw new ArgumentError(`configureLoadThreads: threads must be a whole number >= 0, got ${threads}`);
  if (minBytes !== undefined && !(minBytes >= 0))
    throw new ArgumentError(
      `configureLoadThreads: minBytes must be >= 0 (Infinity turns load threads off), got ${minBytes}`,
    );
  const before = { ...settings };
  Object.assign(settings, options);
  for (const t of running.splice(settings.threads)) t.stop();
  return before;
}

/**
 * The load threads to share a load of `payloadBytes` with: none for small loads, outside
 * Node, or where threads cannot start. Only threads already started take part. One starting
 * competes for the cores with the very load it would help: the first load of 10M parameters
 * in a fresh process (what resuming does) was slower with a thread starting beside it than
 * without. A large load starts them after it is done (`loadDone`), for the next. Loads of
 * SHARE_WHILE_STARTING bytes and more take them as they come: there a start is small beside the
 * load (`onlyReady`: never, only threads already started).
 */
export function loadThreadsFor(payloadBytes: number, { onlyReady = false } = {}): LoadThread[] {
  if (payloadBytes < settings.minBytes) return [];
  if (payloadBytes >= SHARE_WHILE_STARTING && !onlyReady) return threads();
  return running.filter((t) => t.isReady);
}

const SHARE_WHILE_STARTING = 128 << 20;

/** Starts the load threads, in the background, after a load of `payloadBytes` that could have used them (see loadThreadsFor). */
export function loadDone(payloadBytes: number): void {
  if (payloadBytes >= settings.minBytes) threads();
}

/** Starts the load threads now, so the next large load can use them; resolves to how many are ready. */
export async function startLoadThreads(): Promise<number> {
  const all = threads();
  all.forEach((t) => t.keepProcessUntilReady());
  return (await Promise.all(all.map((t) => t.ready))).filter(Boolean).length;
}

function threads(): LoadThread[] {
  const start = platform().startLoadWorker;
  if (!start || startFailed) return [];
  while (running.length < settings.threads) running.push(new LoadThread(start()));
  return [...running];
}

const running: LoadThread[] = [];
/** A thread that failed to start would fail again: loads stay on the calling thread from then on. */
let startFailed = false;
let nextId = 0;

export class LoadThread {
  /** Resolves true once the thread can take work, false if it failed to start. */
  readonly ready: Promise<boolean>;
  private markReady: (ok: boolean) => void = () => undefined;
  private readonly pending = new Map<number, { resolve(data: Float32Array): void; reject(cause: unknown): void }>();
  private started = false;
  private stopped = false;

  constructor(private readonly worker: WorkerThread) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    worker.on('message', (message) => {
      const reply = message as LoadReply | 'ready';
      if (reply === 'ready') this.start();
      else this.settle(reply);
    });
    worker.on('error', (cause) => this.fail(cause));
    worker.on('exit', (code) => this.fail(new Error(`load thread exited (code ${code})`)));
    // A thread keeps the process alive while it decodes (see decode), and while it starts
    // only for startLoadThreads; an idle one never. After the listeners: attaching a
    // 'message' listener refs the thread again.
    worker.unref();
  }

  /** Whether it has started and takes work. */
  get isReady(): boolean {
    return this.started && !this.stopped;
  }

  keepProcessUntilReady(): void {
    if (!this.started && !this.stopped) this.worker.ref();
  }

  /** Reads, verifies and decodes one tensor entry of an open file on this thread: its values as float32. */
  decode(job: Omit<LoadJob, 'id'>): Promise<Float32Array> {
    if (this.stopped) return Promise.reject(new Error('load thread has stopped'));
    const id = nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...job, id } satisfies LoadJob, job.payload ? [job.payload] : []);
    });
  }

  /** Hands back the buffer of an array this thread decoded with `reuse`, for its next ones. */
  recycle(buffer: ArrayBuffer): void {
    if (!this.stopped) this.worker.postMessage({ recycle: buffer }, [buffer]);
  }

  stop(): void {
    this.fail(new Error('load thread was stopped'), true);
    void this.worker.terminate();
  }

  private start(): void {
    this.started = true;
    if (this.pending.size === 0) this.worker.unref();
    this.markReady(true);
  }

  private settle(reply: LoadReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if ('data' in reply) waiting.resolve(reply.data);
    else waiting.reject(rebuild(reply.error));
  }

  private fail(cause: unknown, deliberate = false): void {
    if (this.stopped) return;
    this.stopped = true;
    // A thread that failed before it was ready would fail again.
    if (!this.started && !deliberate) startFailed = true;
    this.markReady(false);
    const index = running.indexOf(this);
    if (index >= 0) running.splice(index, 1);
    for (const { reject } of this.pending.values()) reject(cause);
    this.pending.clear();
  }
}

function rebuild(error: SerializedError): Error {
  if ('code' in error)
    return new CheckpointError(error.code, error.detail, {
      file: error.file,
      entry: error.entry,
      offset: error.offset,
    });
  return Object.assign(new Error(error.message), error.errno === undefined ? {} : { code: error.errno });
}

/** Takes items in order; `run` them; `ready` (if given) must resolve true before the lane takes any. */
export interface Lane<T> {
  slots: number;
  ready?: Promise<boolean>;
  run(item: T): Promise<void>;
}

/** How much of a load may be in flight at once (see shareOut). */
export interface InFlightBudget<T> {
  weight(item: T): number;
  /** An item starts while the weights in flight plus its own stay within this, or when nothing is in flight. */
  budget: number;
}

/**
 * Runs every item on whichever lane has a free slot, in order: a slow or late lane takes
 * fewer. With a `limit`, an item waits while the items in flight weigh too much, so a load
 * of large entries holds a bounded number of them. After a failure no new item starts;
 * everything started settles before this throws the first failure (reads of the file must
 * end before the caller closes it).
 */
export async function shareOut<T>(items: T[], lanes: Array<Lane<T>>, limit?: InFlightBudget<T>): Promise<void> {
  let next = 0;
  let failure: { reason: unknown } | undefined;
  // A lane still starting stops waiting once every item is taken.
  let allTaken = () => {};
  const taken = new Promise<boolean>((resolve) => (allTaken = () => resolve(false)));
  let held = 0;
  let inFlight = 0;
  let wake: Array<() => void> = [];
  const fits = (item: T) => inFlight === 0 || held + limit!.weight(item) <= limit!.budget;
  const work = async (lane: Lane<T>) => {
    if (lane.ready && !(await Promise.race([lane.ready, taken]))) return;
    while (failure === undefined && next < items.length) {
      if (limit && !fits(items[next])) {
        await new Promise<void>((resolve) => wake.push(resolve));
        continue;
      }
      const item = items[next++];
      if (next === items.length) allTaken();
      const weight = limit ? limit.weight(item) : 0;
      held += weight;
      inFlight++;
      try {
        await lane.run(item);
      } catch (reason) {
        failure ??= { reason };
        allTaken();
      } finally {
        held -= weight;
        inFlight--;
        const waiting = wake;
        wake = [];
        waiting.forEach((resolve) => resolve());
      }
    }
  };
  await Promise.all(lanes.flatMap((lane) => Array.from({ length: lane.slots }, () => work(lane))));
  allTaken();
  if (failure) throw failure.reason;
}
