import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WptReader } from '../checkpoint/format/reader.js';
import { TAIL_BYTES, isHttpUrl } from '../storage/http.js';
import { isS3Url } from '../s3/index.js';
import { parseManifest } from '../checkpoint/manifest.js';
import { decodedByteLength } from '../checkpoint/layout/format.js';
import { Tensor } from '../tensor/tensor.js';
import { fmtShape } from '../errors.js';
import { type Command, UsageError } from './args.js';
import { bytes, num, table } from './format.js';
import { median } from './io-measure.js';

interface SavedHistory {
  epoch: number[];
  history: Record<string, number[]>;
}

function historyTable(h: SavedHistory): string {
  const keys = Object.keys(h.history).sort();
  return table(
    ['epoch', ...keys],
    h.epoch.map((e, i) => [String(e + 1), ...keys.map((k) => num(h.history[k][i]))]),
    [true, ...keys.map(() => true)],
  );
}

/** Min, max and mean of the finite values, and counts of the others. */
export function tensorStats(values: Float32Array): {
  min: number;
  max: number;
  mean: number;
  nan: number;
  inf: number;
} {
  let min = Infinity,
    max = -Infinity,
    sum = 0,
    finite = 0,
    nan = 0,
    inf = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) nan++;
    else if (v === Infinity || v === -Infinity) inf++;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      finite++;
    }
  }
  return finite ? { min, max, mean: sum / finite, nan, inf } : { min: NaN, max: NaN, mean: NaN, nan, inf };
}

export const inspect: Command = {
  name: 'inspect',
  title: 'show entries, sizes, metadata, history and checksums of a .wpt file',
  summary:
    'Show what a .wpt file holds: kind, versions, entries (dtype, shape, codec, sizes), metadata, training history, and whether every checksum verifies.',
  usage: 'inspect FILE|RUN_DIR',
  options: {},
  async run(positionals) {
    if (positionals.length !== 1) throw new UsageError('inspect: give exactly one FILE or RUN_DIR');
    if (existsSync(positionals[0]) && statSync(positionals[0]).isDirectory()) return inspectRun(positionals[0]);
    // A remote file's inspection reads its header only: its entries could be gigabytes.
    const remote = isHttpUrl(positionals[0]) || isS3Url(positionals[0]);
    const reader = await WptReader.open(positionals[0]);
    try {
      const h = reader.header;
      console.log(
        `${positionals[0]}: ${h.kind}, format ${h.version.join('.')}, written by ${h.engine.name} ${h.engine.version} at ${h.created}, ${bytes(reader.size)}`,
      );
      let stored = 0,
        raw = 0;
      const nonFinite: string[] = [];
      const rows: string[][] = [];
      for (const e of reader.entries) {
        const decoded = decodedByteLength(e);
        stored += e.length;
        raw += decoded;
        const codec = e.planes ? `${e.codec} [${e.planes.map((p) => (p === 'raw' ? 'r' : 'd')).join('')}]` : e.codec;
        const stats =
          e.dtype === 'json' || remote
            ? null
            : await reader.read(e.key).then(
                (t) => tensorStats((t as Tensor).data),
                () => 'unreadable' as const,
              );
        if (stats && stats !== 'unreadable' && stats.nan + stats.inf > 0)
          nonFinite.push(`${e.key} (${stats.nan} NaN, ${stats.inf} Inf)`);
        const statCells =
          stats === null
            ? ['', '', '', '', '']
            : stats === 'unreadable'
              ? ['?', '?', '?', '?', '?']
              : [num(stats.min), num(stats.max), num(stats.mean), String(stats.nan), String(stats.inf)];
        rows.push([
          e.key,
          e.dtype,
          e.dtype === 'json' ? '' : fmtShape(e.shape),
          codec,
          String(e.length),
          String(decoded),
          decoded ? (e.length / decoded).toFixed(3) : '-',
          ...statCells,
        ]);
      }
      console.log(
        `\n${table(
          ['entry', 'dtype', 'shape', 'codec', 'stored B', 'raw B', 'ratio', 'min', 'max', 'mean', 'NaN', 'Inf'],
          rows,
          [false, false, false, false, true, true, true, true, true, true, true, true],
        )}`,
      );
      // min, max and mean are over the finite values; the NaN and Inf columns count the rest.
      if (nonFinite.length)
        console.log(
          `\nwarning: non-finite values in ${nonFinite.length} entr${nonFinite.length === 1 ? 'y' : 'ies'}: ${nonFinite.join('; ')}`,
        );
      console.log(
        `total: ${bytes(stored)} stored for ${bytes(raw)} raw (${raw ? (stored / raw).toFixed(3) : '-'}); ${reader.entries
          .filter((e) => e.dtype !== 'json')
          .reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0)
          .toLocaleString('en-US')} tensor values`,
      );
      if (Object.keys(h.metadata).length) console.log(`\nmetadata: ${JSON.stringify(h.metadata)}`);
      if (remote) {
        console.log(
          `\nentries not read: ${positionals[0]} is remote, and inspect reads its header only (${reader.size - Math.min(reader.size, TAIL_BYTES) > 0 ? 'the last 63 KiB and the first 16 bytes' : 'the whole file, which is smaller than 63 KiB'}); \`waypoint diff\` or a download verifies the entries`,
        );
        return;
      }
      if (reader.entries.some((e) => e.key === 'history')) {
        const history = (await reader.read('history')) as unknown as SavedHistory;
        if (history.epoch.length) console.log(`\nhistory (${history.epoch.length} epochs):\n${historyTable(history)}`);
      }
      const problems = await reader.verify();
      if (problems.length === 0) console.log(`\nchecksums: all ${reader.entries.length} entries and the header verify`);
      else {
        console.log(`\nchecksums: ${problems.length} entr${problems.length === 1 ? 'y fails' : 'ies fail'}:`);
        for (const p of problems) console.log(`  ${p.message}`);
        process.exitCode = 1;
      }
    } finally {
      await reader.close();
    }
  },
};

export const diff: Command = {
  name: 'diff',
  title: 'compare two .wpt files entry by entry',
  summary:
    'Compare two .wpt files entry by entry: max abs difference, shape changes, entries only on one side, differing JSON values, metadata and history differences. Exits 0 when the files hold the same entries and values, 1 when anything differs, 2 on error (as diff and cmp).',
  usage: 'diff A B',
  options: {},
  errorExitCode: 2,
  async run(positionals) {
    if (positionals.length !== 2) throw new UsageError('diff: give two files, A and B');
    const [a, b] = await Promise.all(positionals.map((p) => WptReader.open(p)));
    try {
      const keys = [...new Set([...a.entries.map((e) => e.key), ...b.entries.map((e) => e.key)])];
      const rows: string[][] = [];
      let same = 0;
      for (const key of keys) {
        const ea = a.entries.find((e) => e.key === key),
          eb = b.entries.find((e) => e.key === key);
        if (!ea || !eb) {
          rows.push([key, ea ? 'only in A' : 'only in B', '']);
          continue;
        }
        const [va, vb] = [await a.read(ea), await b.read(eb)];
        if (va instanceof Tensor && vb instanceof Tensor) {
          if (fmtShape(va.shape) !== fmtShape(vb.shape)) {
            rows.push([key, `shape ${fmtShape(va.shape)} → ${fmtShape(vb.shape)}`, '']);
            continue;
          }
          let max = 0;
          for (let i = 0; i < va.size; i++)
            max = Math.max(
              max,
              Math.abs(va.data[i] - vb.data[i]) || (Object.is(va.data[i], vb.data[i]) ? 0 : Infinity),
            );
          if (max === 0) same++;
          else rows.push([key, 'values differ', `max |a-b| = ${max.toPrecision(4)}`]);
        } else if (JSON.stringify(va) === JSON.stringify(vb)) same++;
        else
          rows.push([
            key,
            'JSON differs',
            key === 'history'
              ? historyDelta(va as unknown as SavedHistory, vb as unknown as SavedHistory)
              : jsonDelta(key, va, vb),
          ]);
      }
      console.log(
        `A: ${positionals[0]} (${a.header.kind}, ${a.header.created})\nB: ${positionals[1]} (${b.header.kind}, ${b.header.created})`,
      );
      if (JSON.stringify(a.header.metadata) !== JSON.stringify(b.header.metadata)) {
        console.log(
          `metadata: A ${JSON.stringify(a.header.metadata)}\n          B ${JSON.stringify(b.header.metadata)}`,
        );
      }
      console.log(
        rows.length ? `\n${table(['entry', 'difference', 'detail'], rows)}` : '\nno differences in any entry',
      );
      console.log(`\n${same} of ${keys.length} entries identical`);
      const metadataDiffers = JSON.stringify(a.header.metadata) !== JSON.stringify(b.header.metadata);
      if (rows.length > 0 || metadataDiffers) process.exitCode = 1;
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  },
};

/** The leaves where two JSON values differ, as `path: a vs b` (the first few). */
function jsonDelta(key: string, a: unknown, b: unknown): string {
  const found: string[] = [];
  const walk = (path: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) === JSON.stringify(y)) return;
    const isObj = (v: unknown) => typeof v === 'object' && v !== null;
    if (isObj(x) && isObj(y) && Array.isArray(x) === Array.isArray(y)) {
      const xs = x as Record<string, unknown>,
        ys = y as Record<string, unknown>;
      for (const k of new Set([...Object.keys(xs), ...Object.keys(ys)])) walk(`${path}/${k}`, xs[k], ys[k]);
    } else {
      found.push(
        `${path}: ${x === undefined ? '(none)' : JSON.stringify(x)} vs ${y === undefined ? '(none)' : JSON.stringify(y)}`,
      );
    }
  };
  walk(key, a, b);
  return found.slice(0, 5).join('; ') + (found.length > 5 ? `; and ${found.length - 5} more` : '');
}

function historyDelta(a: SavedHistory, b: SavedHistory): string {
  const la = a.epoch.length,
    lb = b.epoch.length;
  const common = Math.min(la, lb);
  let firstDiff = -1;
  for (let i = 0; i < common && firstDiff < 0; i++) {
    for (const k of Object.keys(a.history))
      if (a.history[k][i] !== b.history[k]?.[i]) {
        firstDiff = i;
        break;
      }
  }
  return `${la} vs ${lb} epochs${firstDiff >= 0 ? `; first differs at epoch ${firstDiff + 1}` : la !== lb ? '; one continues the other' : ''}`;
}

/**
 * A run directory's saves, from the manifests in it and its sub-directories (BackupAndRestore's,
 * a CheckpointManager's, ModelCheckpoint's hidden ones): per manifest, the saves it holds and
 * what they cost (medians and totals of the costs recorded since they were).
 */
function inspectRun(dir: string): void {
  const manifests: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (name.endsWith('manifest.json')) manifests.push(path);
      else if (depth < 2 && statSync(path).isDirectory()) walk(path, depth + 1);
    }
  };
  walk(dir, 0);
  if (manifests.length === 0) throw new UsageError(`inspect: ${dir} holds no checkpoint manifest (manifest.json)`);
  const rows = manifests.map((path) => {
    const entries = parseManifest(readFileSync(path)).manifest.checkpoints;
    const costs = entries.flatMap((e) => (e.cost ? [e.cost] : []));
    const of = (k: 'blockedMs' | 'durableAfterMs' | 'encodeMs' | 'writeMs' | 'syncMs') => costs.map((c) => c[k]);
    const stored = costs.reduce((n, c) => n + c.storedBytes, 0),
      raw = costs.reduce((n, c) => n + c.bytes, 0);
    return [
      path,
      String(entries.length),
      costs.length ? num(median(of('blockedMs'))) : '-',
      costs.length ? num(median(of('durableAfterMs'))) : '-',
      costs.length
        ? `${num(median(of('encodeMs')))} / ${num(median(of('writeMs')))} / ${num(median(of('syncMs')))}`
        : '-',
      costs.length ? num(of('blockedMs').reduce((a, b) => a + b, 0)) : '-',
      costs.length ? `${bytes(stored)} (${raw ? (stored / raw).toFixed(3) : '-'})` : '-',
    ];
  });
  console.log(`${dir}: ${manifests.length} manifest${manifests.length === 1 ? '' : 's'}\n`);
  console.log(
    table(
      [
        'manifest',
        'saves',
        'blocked ms (median)',
        'durable after ms',
        'encode / write / sync ms',
        'blocked ms (total)',
        'stored (ratio)',
      ],
      rows,
      [false, true, true, true, true, true, true],
    ),
  );
  console.log('\nCosts are recorded by saves made since 2026-12-07; older entries show "-".');
}
