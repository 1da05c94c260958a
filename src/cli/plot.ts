import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WptReader } from '../checkpoint/format/reader.js';
import { type Command, UsageError } from './args.js';

interface Series {
  name: string;
  values: number[];
}

/** Training history from a .wpt file, or from a run directory (last.wpt, else best.wpt, else log.csv). */
async function loadHistory(source: string): Promise<{ epochs: number[]; series: Series[] }> {
  let file = source;
  if (existsSync(source) && statSync(source).isDirectory()) {
    const candidates = ['last.wpt', 'best.wpt', 'log.csv'].map((f) => join(source, f)).filter(existsSync);
    if (candidates.length === 0) throw new UsageError(`plot: ${source} has no last.wpt, best.wpt or log.csv`);
    file = candidates[0];
  }
  if (file.endsWith('.csv')) {
    const [header, ...rows] = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    return {
      epochs: rows.map((r) => Number(r[0])),
      series: header.slice(1).map((name, i) => ({ name, values: rows.map((r) => Number(r[i + 1])) })),
    };
  }
  const reader = await WptReader.open(file);
  try {
    if (!reader.entries.some((e) => e.key === 'history'))
      throw new UsageError(`plot: ${file} holds no training history`);
    const h = (await reader.read('history')) as unknown as { epoch: number[]; history: Record<string, number[]> };
    return { epochs: h.epoch, series: Object.entries(h.history).map(([name, values]) => ({ name, values })) };
  } finally {
    await reader.close();
  }
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Runs of consecutive finite values, as [epoch index, value] points: a non-finite value is a gap. */
function finiteRuns(values: number[]): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [];
  let run: Array<[number, number]> = [];
  values.forEach((v, j) => {
    if (Number.isFinite(v)) run.push([j, v]);
    else if (run.length) {
      runs.push(run);
      run = [];
    }
  });
  if (run.length) runs.push(run);
  return runs;
}

/** Few epochs get a marker on every point; longer runs only where a point stands alone (between gaps). */
const MARKERS_UP_TO_EPOCHS = 30;

/** One panel: grid, axes and their labels, a path (broken at gaps) and markers per series, a legend and a note on gaps. */
function panel(
  title: string,
  yLabel: string,
  epochs: number[],
  series: Series[],
  x0: number,
  width: number,
  height: number,
): string {
  const pad = { l: 64, r: 110, t: 28, b: 36 }; // the legend sits in the right margin
  const values = series.flatMap((s) => s.values).filter(Number.isFinite);
  let [lo, hi] = values.length ? [Math.min(...values), Math.max(...values)] : [0, 1];
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
  const e0 = Math.min(...epochs) + 1,
    e1 = Math.max(...epochs) + 1;
  // A single epoch sits in the middle of the axis, not on its left edge.
  const [d0, d1] = e1 > e0 ? [e0, e1] : [e0 - 1, e0 + 1];
  const left = x0 + pad.l,
    right = x0 + width - pad.r,
    top = pad.t,
    bottom = height - pad.b;
  const sx = (e: number) => left + ((e - d0) / (d1 - d0)) * (right - left);
  const sy = (v: number) => top + (1 - (v - lo) / (hi - lo)) * (bottom - top);
  const grid: string[] = [],
    labels: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4,
      y = sy(v).toFixed(1);
    grid.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e8e8e8"/>`);
    labels.push(`<text x="${left - 6}" y="${sy(v) + 4}" text-anchor="end" font-size="11">${v.toPrecision(3)}</text>`);
  }
  const step = Math.max(1, Math.ceil((e1 - e0) / 8));
  for (let e = e0; e <= e1; e += step) {
    const x = sx(e).toFixed(1);
    grid.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e8e8e8"/>`);
    labels.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle" font-size="11">${e}</text>`);
  }
  const parts = [
    `<text x="${x0 + width / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    ...grid,
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333"/>`,
    ...labels,
    `<text x="${(left + right) / 2}" y="${height - 4}" text-anchor="middle" font-size="11">epoch</text>`,
    `<text transform="translate(${x0 + 14},${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)}</text>`,
  ];
  const gaps: string[] = [];
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const runs = finiteRuns(s.values);
    const at = ([j, v]: [number, number]) => `${sx(epochs[j] + 1).toFixed(1)},${sy(v).toFixed(1)}`;
    const d = runs.map((run) => `M${run.map(at).join(' L')}`).join(' ');
    const marked = runs.flatMap((run) => (epochs.length <= MARKERS_UP_TO_EPOCHS || run.length === 1 ? run : []));
    parts.push(
      `<g data-series="${esc(s.name)}" fill="${color}">`,
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`,
      ...marked.map(([j, v]) => `<circle cx="${sx(epochs[j] + 1).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3.5"/>`),
      '</g>',
    );
    parts.push(`<text x="${right + 8}" y="${top + 14 * (i + 1)}" font-size="11" fill="${color}">${esc(s.name)}</text>`);
    const bad = s.values.flatMap((v, j) => (Number.isFinite(v) ? [] : [`${epochs[j] + 1} (${v})`]));
    if (bad.length)
      gaps.push(
        `${s.name}: no value at epoch ${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ` +${bad.length - 3}` : ''}`,
      );
  });
  gaps.forEach((note, k) =>
    parts.push(
      `<text class="gap-note" x="${left + 4}" y="${bottom - 6 - 13 * (gaps.length - 1 - k)}" font-size="10" fill="#a00">${esc(note)}</text>`,
    ),
  );
  return parts.join('\n');
}

function historySvg(epochs: number[], series: Series[]): string {
  const losses = series.filter((s) => /loss/.test(s.name));
  const metrics = series.filter((s) => !/loss/.test(s.name));
  const panels = (
    [
      ['loss', 'loss', losses],
      ['metrics', 'value', metrics],
    ] as Array<[string, string, Series[]]>
  ).filter(([, , s]) => s.length);
  const w = 490,
    h = 300;
  const body = panels.map(([title, yLabel, s], i) => panel(title, yLabel, epochs, s, i * w, w, h)).join('\n');
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
    const gapped = series.filter((s) => s.values.some((x) => !Number.isFinite(x))).map((s) => s.name);
    console.log(
      `wrote ${v.out} (${series.length} series over ${epochs.length} epoch${epochs.length === 1 ? '' : 's'})` +
        (gapped.length ? `; non-finite values drawn as gaps in ${gapped.join(', ')}` : ''),
    );
  },
};
