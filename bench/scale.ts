/**
 * Checkpoint I/O against size: save, load (new tensors) and restore (into a built model's
 * arrays) of models of 10 MB to 4 GB in sixteen float32 tensors, for every codec, beside
 * torch.save/torch.load and safetensors' save_file/load_file (when .venv-ref has them) and
 * the operating system's own write+fsync and read. Every operation runs in a fresh process
 * (harness/checkpoint-scale-child.ts, bench/scale-peer.py), which reports its time and the
 * peak RSS it added beyond the model; rounds alternate the engines, medians are printed.
 * Writes the table and an SVG of time and memory against size into bench-results/.
 *   npm run bench -- scale [--quick] [--sizes 10M,100M,1G,4G] [--rounds N] [--replot: the SVG from bench-results/scale.json]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, table } from './common.js';
import { modelBytesFor } from '../harness/checkpoint-scale-child.js';

const PYTHON = '.venv-ref/bin/python';
const CODECS = ['raw', 'shuffle-deflate', 'deflate'] as const;

interface Sample {
  seconds: number;
  extraMiB: number;
}

/** An engine's operation: how to run it once, and which file it reads or writes. */
interface Op {
  engine: string;
  op: 'save' | 'load' | 'restore';
  file: string;
  run(file: string, bytes: number): Sample | string;
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([MG])$/.exec(s);
  if (!m) throw new Error(`--sizes: '${s}' is not a size like 100M or 4G`);
  return Number(m[1]) * (m[2] === 'G' ? 1e9 : 1e6);
}

function child(command: string, args: string[]): Sample | string {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) return (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').slice(-1)[0];
  return JSON.parse(r.stdout.trim().split('\n').slice(-1)[0]) as Sample;
}

const waypoint = (op: string, codec?: string) => (file: string, bytes: number) =>
  child(process.execPath, [
    '--expose-gc',
    '--import',
    'tsx',
    'harness/checkpoint-scale-child.ts',
    op,
    file,
    String(bytes),
    ...(codec ? [codec] : []),
  ]);
const python = (op: string) => (file: string, bytes: number) =>
  child(PYTHON, ['bench/scale-peer.py', op, file, String(bytes)]);

function operations(dir: string, withPython: boolean): Op[] {
  const ops: Op[] = [];
  for (const codec of CODECS) {
    const file = join(dir, `${codec}.wpt`);
    ops.push({ engine: `Waypoint ${codec}`, op: 'save', file, run: waypoint('save', codec) });
    ops.push({ engine: `Waypoint ${codec}`, op: 'load', file, run: waypoint('load') });
    ops.push({ engine: `Waypoint ${codec}`, op: 'restore', file, run: waypoint('restore') });
  }
  // A background save's snapshot is the model again (until durable): its peak RSS says so.
  ops.push({
    engine: 'Waypoint background save (shuffle-deflate)',
    op: 'save',
    file: join(dir, 'background.wpt'),
    run: waypoint('save-background', 'shuffle-deflate'),
  });
  const fsFile = join(dir, 'fs.bin');
  ops.push({ engine: 'fs write+fsync / read', op: 'save', file: fsFile, run: waypoint('fs-save') });
  ops.push({ engine: 'fs write+fsync / read', op: 'load', file: fsFile, run: waypoint('fs-load') });
  if (withPython) {
    for (const [engine, prefix] of [
      ['torch.save / torch.load', 'torch'],
      ['safetensors save_file / load_file', 'st'],
    ]) {
      const file = join(dir, `${prefix}.bin`);
      ops.push({ engine, op: 'save', file, run: python(`${prefix}-save`) });
      ops.push({ engine, op: 'load', file, run: python(`${prefix}-load`) });
    }
  }
  return ops;
}

type Results = Map<string, Sample[] | string>;
const key = (bytes: number, engine: string, op: string) => `${bytes}|${engine}|${op}`;

function measure(sizes: number[], rounds: number, withPython: boolean): Results {
  const results: Results = new Map();
  for (const bytes of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'waypoint-scale-'));
    try {
      const ops = operations(dir, withPython);
      // Each round saves every engine's file, then loads and restores them: engines alternate.
      for (let r = 0; r < rounds; r++) {
        for (const phase of ['save', 'load', 'restore'] as const) {
          for (const o of ops.filter((x) => x.op === phase)) {
            const k = key(bytes, o.engine, o.op);
            if (typeof results.get(k) === 'string') continue;
            const sample = o.run(o.file, bytes);
            if (typeof sample === 'string') results.set(k, sample);
            else results.set(k, [...((results.get(k) as Sample[] | undefined) ?? []), sample]);
          }
        }
        process.stderr.write(`  ${(bytes / 1e6).toFixed(0)} MB: round ${r + 1} of ${rounds}\n`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

const mbps = (bytes: number, s: Sample[]) => bytes / 1e6 / median(s.map((x) => x.seconds));
const peak = (s: Sample[]) => Math.max(...s.map((x) => x.extraMiB));

function report(sizes: number[], results: Results, engines: string[]): string {
  const lines: string[] = [];
  for (const bytes of sizes) {
    const model = modelBytesFor(bytes);
    const rows: Array<Array<string | number>> = [];
    const ref = (op: string, peer: string) => results.get(key(bytes, peer, op));
    for (const engine of engines) {
      for (const op of ['save', 'load', 'restore']) {
        const s = results.get(key(bytes, engine, op));
        if (s === undefined) continue;
        if (typeof s === 'string') {
          rows.push([engine, op, 'failed', '', '', '', s.slice(0, 50)]);
          continue;
        }
        const vs = (peer: string) => {
          const p = ref(op === 'restore' ? 'load' : op, peer);
          return typeof p === 'object' ? `${(mbps(bytes, s) / mbps(bytes, p)).toFixed(2)}×` : '';
        };
        rows.push([
          engine,
          op,
          mbps(bytes, s),
          peak(s),
          vs('torch.save / torch.load'),
          vs('safetensors save_file / load_file'),
          vs('fs write+fsync / read'),
        ]);
      }
    }
    lines.push(
      `\n${(model / 1e6).toFixed(0)} MB (16 tensors of ${(model / 16 / 2 ** 20).toFixed(1)} MiB), median MB/s; peak RSS beyond the model, MiB (the largest of the rounds)`,
      table(['engine', 'op', 'MB/s', 'peak extra MiB', 'vs torch', 'vs safetensors', 'vs fs'], rows),
    );
  }
  return lines.join('\n');
}

/** Log-log lines of seconds (left) and peak extra MiB (right) against size, one per engine and operation. */
function plotSvg(sizes: number[], results: Results, engines: string[]): string {
  const series: Array<{
    name: string;
    engine: number;
    op: string;
    seconds: Array<[number, number]>;
    mib: Array<[number, number]>;
  }> = [];
  for (const [engineIndex, engine] of engines.entries())
    for (const op of ['save', 'load', 'restore']) {
      const points = sizes.flatMap((b) => {
        const s = results.get(key(b, engine, op));
        return typeof s === 'object' ? [[b, s] as const] : [];
      });
      if (points.length)
        series.push({
          name: `${engine} ${op}`,
          engine: engineIndex,
          op,
          seconds: points.map(([b, s]) => [b, median(s.map((x) => x.seconds))]),
          mib: points.map(([b, s]) => [b, Math.max(1, peak(s))]),
        });
    }
  // A color per engine, a line style per operation.
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#7f7f7f', '#d62728', '#8c564b'];
  const dashes: Record<string, string> = {
    save: '',
    load: ' stroke-dasharray="6 4"',
    restore: ' stroke-dasharray="2 3"',
  };
  const stroke = (s: (typeof series)[0]) => `stroke="${colors[s.engine % colors.length]}"${dashes[s.op]}`;
  const w = 520,
    h = 380,
    pad = { l: 60, r: 20, t: 30, b: 40 };
  const panel = (x0: number, title: string, pick: (s: (typeof series)[0]) => Array<[number, number]>) => {
    const ys = series.flatMap((s) => pick(s).map(([, y]) => y));
    const [y0, y1] = [Math.log10(Math.min(...ys)) - 0.1, Math.log10(Math.max(...ys)) + 0.1];
    const [x0l, x1l] = [Math.log10(Math.min(...sizes)), Math.log10(Math.max(...sizes)) || 1];
    const sx = (b: number) => x0 + pad.l + ((Math.log10(b) - x0l) / (x1l - x0l || 1)) * (w - pad.l - pad.r);
    const sy = (v: number) => pad.t + (1 - (Math.log10(v) - y0) / (y1 - y0 || 1)) * (h - pad.t - pad.b);
    const parts = [`<text x="${x0 + w / 2}" y="18" text-anchor="middle" font-weight="bold">${title}</text>`];
    for (const b of sizes)
      parts.push(
        `<text x="${sx(b).toFixed(1)}" y="${h - 22}" text-anchor="middle" font-size="11">${b >= 1e9 ? `${b / 1e9} GB` : `${b / 1e6} MB`}</text>`,
      );
    for (let p = Math.ceil(y0); p <= Math.floor(y1); p++)
      parts.push(
        `<line x1="${x0 + pad.l}" x2="${x0 + w - pad.r}" y1="${sy(10 ** p).toFixed(1)}" y2="${sy(10 ** p).toFixed(1)}" stroke="#e8e8e8"/>`,
        `<text x="${x0 + pad.l - 6}" y="${(sy(10 ** p) + 4).toFixed(1)}" text-anchor="end" font-size="11">${10 ** p}</text>`,
      );
    series.forEach((s) => {
      const d = pick(s)
        .map(([b, v], j) => `${j ? 'L' : 'M'}${sx(b).toFixed(1)},${sy(v).toFixed(1)}`)
        .join(' ');
      parts.push(
        `<path d="${d}" fill="none" ${stroke(s)} stroke-width="2" data-series="${s.name.replace(/&/g, '&amp;')}"/>`,
      );
    });
    return parts.join('\n');
  };
  const legend = series
    .map(
      (s, i) =>
        `<line x1="${2 * w + 10}" x2="${2 * w + 34}" y1="${26 + 15 * i}" y2="${26 + 15 * i}" ${stroke(s)} stroke-width="2"/>` +
        `<text x="${2 * w + 40}" y="${30 + 15 * i}" font-size="11">${s.name.replace(/&/g, '&amp;')}</text>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${2 * w + 360}" height="${Math.max(h, 40 + 15 * series.length)}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${panel(0, 'seconds against size (log-log)', (s) => s.seconds)}\n${panel(w, 'peak RSS beyond the model, MiB', (s) => s.mib)}\n${legend}\n</svg>\n`;
}

export async function run(): Promise<void> {
  const argv = process.argv;
  const at = argv.indexOf('--sizes');
  const quick = argv.includes('--quick');
  const sizes = (at >= 0 ? argv[at + 1] : quick ? '10M,100M,1G' : '10M,100M,1G,4G').split(',').map(parseSize);
  const roundsAt = argv.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(argv[roundsAt + 1]) : quick ? 1 : 3;
  const withPython = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, safetensors']).status === 0;
  console.log(
    `checkpoint I/O against size: ${rounds} round(s), a fresh process per operation; ${withPython ? 'torch and safetensors from .venv-ref' : `torch and safetensors SKIPPED (${PYTHON} with torch and safetensors not found)`}`,
  );
  // --replot: the SVG again from the samples a run saved, without measuring.
  const results: Results = argv.includes('--replot')
    ? new Map(JSON.parse(readFileSync('bench-results/scale.json', 'utf8')) as Array<[string, Sample[] | string]>)
    : measure(sizes, rounds, withPython);
  const engines = [
    ...CODECS.map((c) => `Waypoint ${c}`),
    'Waypoint background save (shuffle-deflate)',
    'fs write+fsync / read',
    'torch.save / torch.load',
    'safetensors save_file / load_file',
  ];
  const text = report(sizes, results, engines);
  console.log(text);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/scale.txt', `${text}\n`);
  writeFileSync('bench-results/scale.svg', plotSvg(sizes, results, engines));
  writeFileSync('bench-results/scale.json', JSON.stringify([...results]));
  console.log('\nwritten: bench-results/scale.txt, bench-results/scale.svg');
}
