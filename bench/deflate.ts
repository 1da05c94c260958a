/**
 * The byte-plane codecs on their own, one thread each, same inputs, same run: this
 * package's literal encoder (huffman-deflate.ts) and decoder (inflate.ts) beside zlib (the
 * native library, synchronous here) and fflate (the browser fallback), on the planes a
 * checkpoint of trained-like weights holds. `npm run bench -- deflate [--quick]`
 */
import zlib from 'node:zlib';
import { deflateSync as fflateDeflate, inflateSync as fflateInflate } from 'fflate';
import { Random } from '../src/node/index.js';
import { shuffleInto } from '../src/checkpoint/codec/byte-planes.js';
import { deflateLiterals } from '../src/checkpoint/codec/huffman-deflate.js';
import { inflateLiterals } from '../src/checkpoint/codec/inflate.js';
import { inflateHere } from '../src/checkpoint/codec/deflate.js';
import { table, timeMedian } from './common.js';

const quick = process.argv.includes('--quick');
const N = quick ? 250_000 : 1_000_000;
const RUNS = quick ? 5 : 11;
const Z = zlib.constants;

function planesOf(weights: Float32Array): Uint8Array[] {
  const planes = new Uint8Array(weights.byteLength);
  shuffleInto(new Uint8Array(weights.buffer), 4, planes);
  return [0, 1, 2, 3].map((k) => planes.subarray(k * weights.length, (k + 1) * weights.length));
}

export async function run(): Promise<void> {
  const normal = planesOf(new Random(1).fillNormal(new Float32Array(N), 0, Math.sqrt(2 / 1000)));
  const inputs: Array<[string, Uint8Array]> = [
    ['exponent plane (sign + exponent: 2.7 bits/byte)', normal[3]],
    ['high mantissa plane (7.9 bits/byte)', normal[2]],
  ];
  const mb = N / 1e6;
  for (const [name, plane] of inputs) {
    const ours = deflateLiterals(plane);
    if (!ours) throw new Error('this benchmark needs WebAssembly (the literal encoder declined)');
    const huffman = zlib.deflateRawSync(plane, {
      level: 1,
      strategy: Z.Z_HUFFMAN_ONLY,
      windowBits: 9,
      chunkSize: N + 1024,
    });
    const fflate = fflateDeflate(plane, { level: 1 });
    const out = new Uint8Array(N);
    // What a load does on its calling thread: this package's decoder where it takes the stream, zlib where it declines.
    const decodeOurs = (stream: Uint8Array) => timeMedian(() => inflateHere(stream, out), { runs: RUNS });
    const decodeZlib = (stream: Uint8Array) =>
      timeMedian(() => zlib.inflateRawSync(stream, { chunkSize: N + 64 }), { runs: RUNS });
    const rows: Array<Array<string | number>> = [];
    const encoders: Array<[string, Uint8Array, () => unknown]> = [
      ['this package (literals, 256 KiB blocks, codes ≤ 10 bits)', ours, () => deflateLiterals(plane)],
      [
        'zlib Z_HUFFMAN_ONLY',
        huffman,
        () => zlib.deflateRawSync(plane, { level: 1, strategy: Z.Z_HUFFMAN_ONLY, windowBits: 9, chunkSize: N + 1024 }),
      ],
      ['fflate level 1', fflate, () => fflateDeflate(plane, { level: 1 })],
    ];
    for (const [encoder, stream, encode] of encoders) {
      const encodeMs = await timeMedian(encode, { runs: RUNS });
      const [oursMs, zlibMs] = [await decodeOurs(stream), await decodeZlib(stream)];
      const fflateMs = await timeMedian(() => fflateInflate(stream, { out }), { runs: RUNS });
      rows.push([
        encoder,
        inflateLiterals(stream, out) === null ? 'zlib' : 'this package',
        (stream.length / N).toFixed(4),
        mb / (encodeMs / 1e3),
        mb / (oursMs / 1e3),
        mb / (zlibMs / 1e3),
        mb / (fflateMs / 1e3),
        zlibMs / oursMs,
      ]);
    }
    console.log(`\n${name}, ${mb} MB, one thread, median of ${RUNS}`);
    console.log(
      table(
        [
          'encoder',
          'decoded by',
          'size / raw',
          'encode MB/s',
          'decode: inflateHere MB/s',
          'zlib MB/s',
          'fflate MB/s',
          'inflateHere × zlib',
        ],
        rows,
      ),
    );
  }
}
