/**
 * A raw load against readFileSync where both get fresh memory, with the page faults of each
 * counted. checkpoint-io times loads inside a process that has saved and loaded a lot
 * before: there the allocator hands the loads' 4 MB arrays memory it recycled (no faults),
 * while readFileSync's one 40 MB buffer, above glibc's mmap threshold, is always mapped
 * fresh. Here nothing was loaded before, so this gives the other end: the raw codec's load
 * when it pays the same faults as the reference, plus its CRC-32.
 * `npm run bench -- load-fresh [--quick]`
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, Random, configureLoadThreads, readWpt } from '../src/node/index.js';
import { fromCollectedHeap, rawBytesOf, startThreadsForBench, syntheticState } from '../src/cli/io-measure.js';
import { median, table } from './common.js';

const SAMPLES = process.argv.includes('--quick') ? 7 : 21;

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'waypoint-load-fresh-'));
  try {
    const state = syntheticState(10e6, new Random(1));
    const refPath = join(dir, 'reference.bin');
    const wptPath = join(dir, 'raw.wpt');
    writeFileSync(refPath, rawBytesOf(state));
    await new Checkpoint({ model: { stateDict: () => state, loadStateDict: () => undefined } }).write(wptPath, {
      codec: 'raw',
    });
    await startThreadsForBench();
    // Each load alternates with a readFileSync, so both see the same moments of the machine.
    const reference = () => readFileSync(refPath);
    const loads: Array<[string, () => unknown]> = [
      ['raw load, load threads', () => readWpt(wptPath)],
      [
        'raw load, calling thread only',
        async () => {
          const before = configureLoadThreads({ minBytes: Infinity });
          await readWpt(wptPath);
          configureLoadThreads(before);
        },
      ],
    ];
    const sampled = (fn: () => unknown) => ({ fn, ms: [] as number[], faults: [] as number[] });
    const ref = sampled(reference);
    const own = loads.map(([, fn]) => sampled(fn));
    for (let i = -1; i < SAMPLES; i++) {
      for (const s of own.flatMap((o) => [ref, o])) {
        await fromCollectedHeap();
        const faults = process.resourceUsage().minorPageFault;
        const t = performance.now();
        await s.fn();
        if (i < 0) continue;
        s.ms.push(performance.now() - t);
        s.faults.push(process.resourceUsage().minorPageFault - faults);
      }
    }
    const refMs = median(ref.ms);
    console.log(
      `\n10M float32 parameters (40 MB), fresh memory, median of ${SAMPLES} (page faults: whole process, load threads included)`,
    );
    console.log(
      table(
        ['operation', 'ms', 'page faults', '× reference'],
        [
          ...own.map((o, k) => [
            loads[k][0],
            median(o.ms).toFixed(1),
            median(o.faults).toFixed(0),
            (refMs / median(o.ms)).toFixed(2),
          ]),
          ['readFileSync (reference)', refMs.toFixed(1), median(ref.faults).toFixed(0), '1.00'],
        ],
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
