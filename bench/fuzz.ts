/**
 * The decoder fuzzer for long runs: `npm run bench -- fuzz --runs 1000000`. Mutates a valid
 * checkpoint (byte damage and checksummed header edits) and decodes each mutant: reports how
 * many were rejected (CheckpointError), loaded, or failed any other way, the slowest decode,
 * and peak memory.
 */
import { parseArgs } from 'node:util';
import { CheckpointError, MemoryStorage, Random, Tensor, readWpt, writeWpt } from '../src/node/index.js';
import { mutate } from '../harness/fuzz.js';

export async function run(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(3),
    options: {
      runs: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '1' },
      quick: { type: 'boolean' },
    },
  });
  const runs = values.quick ? 10_000 : Number(values.runs);
  const storage = new MemoryStorage();
  const rng = new Random(Number(values.seed));
  await writeWpt(
    '/f/seed.wpt',
    [
      { key: 'w', kind: 'tensor', value: new Tensor(rng.fillNormal(new Float32Array(96), 0, 0.1), [8, 12]) },
      { key: 'b', kind: 'tensor', value: new Tensor(new Float32Array(8), [8]) },
      { key: 'h', kind: 'json', value: { loss: [1, 0.5], note: 'x'.repeat(300) } },
    ],
    { kind: 'checkpoint', storage },
  );
  const seed = storage.files.get('/f/seed.wpt')!;
  const counts = { rejected: 0, loaded: 0, loadedAfterByteDamage: 0, otherErrors: 0 };
  const codes = new Map<string, number>();
  let slowest = 0,
    peakRss = process.memoryUsage().rss;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const m = mutate(seed, rng);
    storage.files.set('/f/m.wpt', m.bytes);
    const t = performance.now();
    try {
      await readWpt('/f/m.wpt', storage);
      counts.loaded++;
      if (!m.structural) counts.loadedAfterByteDamage++;
    } catch (e) {
      if (e instanceof CheckpointError) {
        counts.rejected++;
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      } else {
        counts.otherErrors++;
        if (counts.otherErrors <= 5) console.log(`not a CheckpointError after ${m.what}: ${String(e)}`);
      }
    }
    slowest = Math.max(slowest, performance.now() - t);
    if (i % 10_000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `${runs.toLocaleString('en-US')} mutants in ${seconds.toFixed(0)} s (${Math.round(runs / seconds).toLocaleString('en-US')}/s): ${counts.rejected} rejected, ${counts.loaded} loaded (all from checksummed header edits: ${counts.loadedAfterByteDamage === 0 ? 'yes' : 'NO'}), ${counts.otherErrors} other errors`,
  );
  console.log(
    `rejections by code: ${[...codes]
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`)
      .join(', ')}`,
  );
  console.log(`slowest decode ${slowest.toFixed(1)} ms; peak RSS ${(peakRss / 1048576).toFixed(0)} MiB`);
  if (counts.otherErrors || counts.loadedAfterByteDamage) process.exitCode = 1;
}
