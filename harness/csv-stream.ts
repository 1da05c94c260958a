/**
 * What the streaming tests and `bench -- data` share: a generated CSV of any size (5 numeric
 * features and a label, written in blocks so that a gigabyte takes little memory), and the
 * pipeline a user would write over it.
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import { Dense, Dropout, Random, Sequential, data, type Dataset, type SourceOptions } from '../src/node/index.js';

export const CSV_HEADER = 'f0,f1,f2,f3,f4,label';

/** Writes `rows` rows to `path`; each row's numbers depend only on (seed, row). Returns the file's size. */
export function writeCsv(path: string, rows: number, seed = 1): number {
  const fd = openSync(path, 'w');
  const rng = new Random(seed);
  let size = 0;
  const put = (s: string) => (size += writeSync(fd, s));
  put(`${CSV_HEADER}\n`);
  const BLOCK = 20_000;
  for (let start = 0; start < rows; start += BLOCK) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(rows, start + BLOCK); i++) {
      const f = Array.from({ length: 5 }, () => Math.round(rng.normal() * 1e4) / 1e4);
      lines.push(`${f.join(',')},${f[0] + f[1] - f[4] > 0 ? 1 : 0}`);
    }
    put(lines.join('\n') + '\n');
  }
  closeSync(fd);
  return size;
}

/** The pipeline: features and label from each row, a shuffle buffer, batches of `batchSize`. */
export function csvPipeline(source: string, options: SourceOptions & { batchSize?: number } = {}): Dataset<unknown> {
  return data
    .csv(source, { ...options, columnConfigs: { label: { isLabel: true } } })
    .map((row) => {
      const { xs, ys } = row as { xs: Record<string, number>; ys: Record<string, number> };
      return { xs: Object.values(xs), ys: ys.label };
    })
    .shuffle(256, 11)
    .batch(options.batchSize ?? 256)
    .prefetch(2);
}

export function csvModel(): Sequential {
  const model = new Sequential(
    [
      new Dense({ units: 16, activation: 'relu', inputShape: [5] }),
      new Dropout({ rate: 0.1 }),
      new Dense({ units: 2, activation: 'softmax' }),
    ],
    { seed: 21 },
  );
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
