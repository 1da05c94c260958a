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
import { Checkpoint, Random, configureLoadThreads, readWpt } from '../src/index.js';
import { fromCollectedHeap, rawBytesOf, startThreadsForBench, syntheticState } from '../src/cli/bench.js';
import { median, table } from './common.js';

const SAMPLES = process.argv.includes('--quick') ? 7 : 21;

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'waypoint-load-fresh-'));
  try {
    const state = syntheticState(10e6, new Random(1));
    const refPath = join(dir, 'reference.bin');
    const wptPath = join(dir, 'raw.wpt');
    writeFileSync(refPath, rawBytesOf(state));
    await new Checkpoint({ model: { stateDict: () => state, loadStateDict: () => undefined } }).write(wptPath, { codec: 'raw' });
    await startThreadsForBench();
    const ops: Array<[string, () => unknown]> = [
      ['readFileSync (reference)', () => readFileSync(refPath)],
      ['raw load, load threads', () => readWpt(wptPath)],
      ['readFileSync (reference) ', () => readFileSync(refPath)],
      ['raw load, calling thread only', async () => {
        const before = configureLoadThreads({ minBytes: Infinity });
        await readWpt(wptPath);
        configureLoadThreads(before);
      }],
    ];
    const samples = ops.map(() => ({ ms: [] as number[], faults: [] as number[] }));
    for (let i = -1; i < SAMPLES; i++) {
      for (const [k, [, op]] of ops.entries()) {
        await fromCollectedHeap();
        const faults = process.resourceUsage().minorPageFault;
        const t = performance.now();
        await op();
        if (i < 0) continue;
        samples[k].ms.push(performance.now() - t);
        samples[k].faults.push(process.resourceUsage().minorPageFault - faults);
      }
    }
    const reference = median([...samples[0].ms, ...samples[2].ms]);
    console.log(`\n10M float32 parameters (40 MB), fresh memory, median of ${SAMPLES} (page faults: whole process, load threads included)`);
    console.log(table(['operation', 'ms', 'page faults', '× reference'], [1, 3].map((k) => [
      ops[k][0], median(samples[k].ms).toFixed(1), median(samples[k].faults).toFixed(0), (reference / median(samples[k].ms)).toFixed(2),
    ]).concat([['readFileSync (reference)', reference.toFixed(1), median(samples[0].faults).toFixed(0), '1.00']])));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
