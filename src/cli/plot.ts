import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WptReader } from '../checkpoint/format/reader.js';
import { type Command, UsageError } from './args.js';

interface Series { name: string; values: number[] }

/** Training history from a .wpt file, or from a run directory (last.wpt, else best.wpt, else log.csv). */
async function loadHistory(source: string): Promise<{ epochs: number[]; series: Series[] }> {
  let file = source;
  if (existsSync(source) && statSync(source).isDirectory()) {
    const candidates = ['last.wpt', 'best.wpt', 'log.csv'].map((f) => join(source, f)).filter(existsSync);
    if (candidates.length === 0) throw new UsageError(`plot: ${source} has no last.wpt, best.wpt or log.csv`);
    file = candidates[0];
  }
  if (file.endsWith('.csv')) {
    const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(','));
    return { epochs: rows.map((r) => Number(r[0])), series: header.slice(1).map((name, i) => ({ name, values: rows.map((r) => Number(r[i + 1])) })) };
  }
  const reader = await WptReader.open(file);
  try {
    if (!reader.entries.some((e) => e.key === 'history')) throw new UsageError(`plot: ${file} holds no training history`);
    const h = (await reader.read('history')) as unknown as { epoch: number[]; history: Record<string, number[]> };
    return { epochs: h.epoch, series: Object.entries(h.history).map(([name, values]) => ({ name, values })) };
  } finally {
    await reader.close();
  }
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One panel: axes, ticks, a polyline path per series, a legend. */
function panel(title: string, epochs: number[], series: Series[], x0: number, width: number, height: number): string {
  const pad = { l: 56, r: 100, t: 28, b: 36 }; // the legend sits in the right margin
  const values = series.flatMap((s) => s.values).filter(Number.isFinite);
  let [lo, hi] = [Math.min(...values), Math.max(...values)];
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
  const e0 = Math.min(...epochs) + 1, e1 = Math.max(...epochs) + 1;
  const sx = (e: number) => x0 + pad.l + ((e - e0) / Math.max(e1 - e0, 1)) * (width - pad.l - pad.r);
  const sy = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (height - pad.t - pad.b);
  const parts = [`<text x="${x0 + width / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${x0 + pad.l}" y1="${height - pad.b}" x2="${x0 + width - pad.r}" y2="${height - pad.b}" stroke="#333"/>`,
    `<line x1="${x0 + pad.l}" y1="${pad.t}" x2="${x0 + pad.l}" y2="${height - pad.b}" stroke="#333"/>`];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    parts.push(`<text x="${x0 + pad.l - 6}" y="${sy(v) + 4}" text-anchor="end" font-size="11">${v.toPrecision(3)}</text>`);
  }
  const step = Math.max(1, Math.ceil((e1 - e0) / 8));
  for (let e = e0; e <= e1; e += step) parts.push(`<text x="${sx(e)}" y="${height - pad.b + 16}" text-anchor="middle" font-size="11">${e}</text>`);
  parts.push(`<text x="${x0 + width / 2}" y="${height - 4}" text-anchor="middle" font-size="11">epoch</text>`);
  series.forEach((s, i) => {
    const pts = s.values.map((v, j) => (Number.isFinite(v) ? `${sx(epochs[j] + 1).toFixed(1)},${sy(v).toFixed(1)}` : null)).filter(Boolean);
    parts.push(`<path data-series="${esc(s.name)}" d="M${pts.join(' L')}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`);
    parts.push(`<text x="${x0 + width - pad.r + 8}" y="${pad.t + 14 * (i + 1)}" font-size="11" fill="${COLORS[i % COLORS.length]}">${esc(s.name)}</text>`);
  });
  return parts.join('\n');
}

function historySvg(epochs: number[], series: Series[]): string {
  const losses = series.filter((s) => /loss/.test(s.name));
  const metrics = series.filter((s) => !/loss/.test(s.name));
  const panels = [['loss', losses], ['metrics', metrics]].filter(([, s]) => (s as Series[]).length) as Array<[string, Series[]]>;
  const w = 480, h = 300;
  const body = panels.map(([title, s], i) => panel(title, epochs, s, i * w, w, h)).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${w * panels.length}" height="${h}" viewBox="0 0 ${w * panels.length} ${h}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}

export const plot: Command = {
  name: 'plot',
  title: 'draw the training history as SVG',
  summary: 'Draw the training history (loss and metrics, train and validation) as a self-contained SVG.',
  usage: 'plot FILE|RUN_DIR [--out curves.svg]',
  options: { out: { type: 'string', default: 'curves.svg', help: 'output SVG path' } },
  async run(positionals, v) {
    if (positionals.length !== 1) throw new UsageError('plot: give one .wpt file or run directory');
    const { epochs, series } = await loadHistory(positionals[0]);
    if (epochs.length === 0) throw new UsageError(`plot: ${positionals[0]} has an empty history`);
    writeFileSync(v.out as string, historySvg(epochs, series));
    console.log(`wrote ${v.out} (${series.length} series over ${epochs.length} epochs)`);
  },
};
