/**
 * Reads TensorBoard logs back the way TensorBoard's loader sees them: a run directory's
 * event files in name order, every record's CRC-32C verified, each SessionLog START after
 * the run's first (a restart) dropping every earlier point at step ≥ its step, and a torn
 * last record (a writer killed mid-write) reported rather than fatal. For tests and `waypoint inspect-logs`.
 */
import { join } from '../paths.js';
import { type Storage, readFileIfExists } from '../storage/storage.js';
import { type Histogram, decodeEvent } from './events.js';
import { parseRecords, type RecordProblem } from './records.js';
import { EVENT_FILE } from './writer.js';

export interface Point<V> {
  step: number;
  wallTime: number;
  value: V;
}

export interface RunLogs {
  /** The run directory, relative to the log directory ('.' for the log directory itself). */
  run: string;
  files: string[];
  scalars: Map<string, Array<Point<number>>>;
  histograms: Map<string, Array<Point<Histogram>>>;
  texts: Map<string, Array<Point<string>>>;
  /** Keras model JSON (TensorBoard's conceptual graph), by tag. */
  graphs: Map<string, Array<Point<string>>>;
  /** The steps of the SessionLog STARTs, in order: the first session's, then one per restart. */
  starts: number[];
  problems: Array<RecordProblem & { file: string }>;
}

function add<V>(series: Map<string, Array<Point<V>>>, tag: string, point: Point<V>): void {
  const list = series.get(tag) ?? [];
  list.push(point);
  series.set(tag, list);
}

/** One run directory as TensorBoard would show it. */
export async function readRun(storage: Storage, logDir: string, run = '.'): Promise<RunLogs> {
  const dir = run === '.' ? logDir : join(logDir, run);
  const files = (await storage.list(dir).catch(() => [] as string[])).filter((n) => EVENT_FILE.test(n)).sort();
  const logs: RunLogs = {
    run,
    files,
    scalars: new Map(),
    histograms: new Map(),
    texts: new Map(),
    graphs: new Map(),
    starts: [],
    problems: [],
  };
  for (const file of files) {
    const bytes = await readFileIfExists(storage, join(dir, file));
    if (bytes === null) continue;
    const { records, problem } = parseRecords(bytes);
    if (problem) logs.problems.push({ ...problem, file });
    for (const record of records) {
      const e = decodeEvent(record);
      if (e.body.kind === 'sessionLog' && e.body.status === 'START') {
        logs.starts.push(e.step);
        if (logs.starts.length === 1) continue; // as TensorBoard: the first START is the run's start, not a restart
        for (const series of [logs.scalars, logs.histograms, logs.texts, logs.graphs] as Array<
          Map<string, Array<Point<unknown>>>
        >) {
          for (const [tag, points] of series)
            series.set(
              tag,
              points.filter((p) => p.step < e.step),
            );
        }
      } else if (e.body.kind === 'summary') {
        for (const v of e.body.values) {
          const at = { step: e.step, wallTime: e.wallTime };
          if (v.kind === 'scalar') add(logs.scalars, v.tag, { ...at, value: v.value });
          else if (v.kind === 'histogram') add(logs.histograms, v.tag, { ...at, value: v.histogram });
          else if (v.kind === 'text') add(logs.texts, v.tag, { ...at, value: v.text });
          else add(logs.graphs, v.tag, { ...at, value: v.json });
        }
      }
    }
  }
  return logs;
}

/** Every run under a log directory: the directory itself and each sub-directory that holds event files. */
export async function readLogs(storage: Storage, logDir: string): Promise<RunLogs[]> {
  const runs: RunLogs[] = [];
  const visit = async (run: string, depth: number): Promise<void> => {
    const logs = await readRun(storage, logDir, run);
    if (logs.files.length) runs.push(logs);
    if (depth === 0) return;
    const dir = run === '.' ? logDir : join(logDir, run);
    for (const name of (await storage.list(dir).catch(() => [] as string[])).sort()) {
      if (EVENT_FILE.test(name)) continue; // listing anything else that is a file finds nothing
      await visit(run === '.' ? name : join(run, name), depth - 1);
    }
  };
  await visit('.', 2);
  return runs;
}
