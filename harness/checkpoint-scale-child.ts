/**
 * One checkpoint operation at one size, in a process of its own, for bench/scale.ts: it builds
 * (or not) a model of `bytes` bytes in sixteen float32 tensors, resets the kernel's peak-RSS
 * mark, runs the operation once and prints one JSON line: seconds, and the peak RSS the
 * operation added beyond the model (Linux's VmHWM after /proc/self/clear_refs).
 *   tsx harness/checkpoint-scale-child.ts OP FILE BYTES [CODEC]
 * OP: save | save-background | load | restore (Waypoint), fs-save | fs-load (the operating system's reference).
 */
import { closeSync, fsyncSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { Checkpoint, type Codec, Tensor, readWpt } from '../src/node/index.js';

export const TENSORS = 16;

/** The bytes of the sixteen tensors of a model of about `bytes` bytes. */
export const modelBytesFor = (bytes: number) => Math.max(1, Math.floor(bytes / TENSORS / 4)) * TENSORS * 4;

/** Sixteen tensors of `bytes / 16` bytes each (rounded to whole floats), filled with small uniform values. */
export function scaleModel(bytes: number, fill: boolean): Record<string, Tensor> {
  const per = Math.max(1, Math.floor(bytes / TENSORS / 4));
  const model: Record<string, Tensor> = {};
  let s = 0x9e3779b9;
  for (let i = 0; i < TENSORS; i++) {
    const data = new Float32Array(per);
    // xorshift32 scaled to ±0.1: random mantissas, few exponents, as trained weights have.
    if (fill)
      for (let j = 0; j < per; j++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        data[j] = (s | 0) * (0.1 / 2 ** 31);
      }
    else data.fill(0); // paged in, as a built model's weights are
    model[`layer_${String(i).padStart(2, '0')}/kernel`] = new Tensor(data, [per]);
  }
  return model;
}

const rssKiB = (field: 'VmRSS' | 'VmHWM') =>
  Number(readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))![1]);

function trackable(model: Record<string, Tensor>) {
  return { stateDict: () => model, loadStateDict: () => undefined };
}

/** The file's bytes written in 1 GiB calls and fsynced; read back into new memory in 1 GiB calls. */
function fsSave(file: string, model: Record<string, Tensor>): void {
  const fd = openSync(file, 'w');
  for (const t of Object.values(model)) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (let at = 0; at < bytes.length; at += 1 << 30) writeSync(fd, bytes.subarray(at, at + (1 << 30)));
  }
  fsyncSync(fd);
  closeSync(fd);
}

function fsLoad(file: string, bytes: number): Float32Array[] {
  const fd = openSync(file, 'r');
  const per = Math.floor(bytes / TENSORS / 4);
  const out: Float32Array[] = [];
  let position = 0;
  for (let i = 0; i < TENSORS; i++) {
    const data = new Float32Array(per);
    const view = new Uint8Array(data.buffer);
    for (let at = 0; at < view.length;) {
      const n = readSync(fd, view, at, Math.min(1 << 30, view.length - at), position);
      if (n <= 0) throw new Error(`${file} ended at ${position}`);
      at += n;
      position += n;
    }
    out.push(data);
  }
  closeSync(fd);
  return out;
}

async function main(): Promise<void> {
  const [op, file, bytesArg, codecArg] = process.argv.slice(2);
  const bytes = Number(bytesArg);
  const codec = (codecArg ?? 'raw') as Codec;
  const needsModel = op !== 'load' && op !== 'fs-load';
  const model = needsModel ? scaleModel(bytes, op !== 'restore') : {};
  globalThis.gc?.();
  const before = rssKiB('VmRSS');
  writeFileSync('/proc/self/clear_refs', '5');
  const t0 = performance.now();
  let kept: unknown;
  if (op === 'save') await new Checkpoint({ model: trackable(model) }).write(file, { codec });
  else if (op === 'save-background') {
    const pending = await new Checkpoint({ model: trackable(model) }).writeInBackground(file, { codec });
    await pending.durable;
  } else if (op === 'restore') await new Checkpoint({ model: trackable(model) }).read(file);
  else if (op === 'load') kept = (await readWpt(file)).values;
  else if (op === 'fs-save') fsSave(file, model);
  else if (op === 'fs-load') kept = fsLoad(file, bytes);
  else throw new Error(`unknown operation '${op}'`);
  const seconds = (performance.now() - t0) / 1000;
  // A load's new arrays are the model: what it held beyond them is the overhead.
  const loaded = op === 'load' || op === 'fs-load' ? modelBytesFor(bytes) : 0;
  const extraMiB = ((rssKiB('VmHWM') - before) * 1024 - loaded) / 2 ** 20;
  process.stdout.write(`${JSON.stringify({ seconds, extraMiB, kept: kept !== undefined })}\n`);
}

if (process.argv[1]?.endsWith('checkpoint-scale-child.ts')) await main();
