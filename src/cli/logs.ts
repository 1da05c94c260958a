/** `waypoint inspect-logs` and `waypoint tensorboard-export`: TensorBoard logs as TensorBoard would show them. */
import { fsStorage } from '../node/fs-storage.js';
import { readLogs, type RunLogs } from '../tensorboard/reader.js';
import { bundleLogs } from '../tensorboard/bundle.js';
import { type Command, UsageError } from './args.js';
import { writeOutput } from './output.js';

function describeRun(run: RunLogs): string[] {
  const lines = [
    `run ${run.run === '.' ? '(log directory)' : run.run}: ${run.files.length} event file${run.files.length === 1 ? '' : 's'}` +
      (run.starts.length > 1
        ? `, ${run.starts.length - 1} restart${run.starts.length === 2 ? '' : 's'} (at step${run.starts.length === 2 ? '' : 's'} ${run.starts.slice(1).join(', ')})`
        : ''),
  ];
  for (const p of run.problems) {
    lines.push(
      p.torn
        ? `  ${p.file}: torn record at byte ${p.offset} (a writer stopped mid-write); the records before it are read`
        : `  ${p.file}: damaged at byte ${p.offset}: ${p.reason}; the records before it are read`,
    );
  }
  const rows: string[][] = [];
  const range = (points: Array<{ step: number }>) => (points.length ? `${points[0].step}–${points.at(-1)!.step}` : '-');
  for (const [tag, points] of run.scalars)
    rows.push([tag, 'scalar', String(points.length), range(points), String(points.at(-1)?.value ?? '')]);
  for (const [tag, points] of run.histograms)
    rows.push([
      tag,
      'histogram',
      String(points.length),
      range(points),
      points.length ? `mean ${(points.at(-1)!.value.sum / Math.max(points.at(-1)!.value.num, 1)).toPrecision(4)}` : '',
    ]);
  for (const [tag, points] of run.texts)
    rows.push([tag, 'text', String(points.length), range(points), `${points.at(-1)?.value.length ?? 0} characters`]);
  const header = ['tag', 'kind', 'points', 'steps', 'last'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [header, ...rows.sort((a, b) => a[0].localeCompare(b[0]))])
    lines.push(`  ${r.map((c, i) => c.padEnd(widths[i])).join('  ')}`.trimEnd());
  return lines;
}

export const inspectLogs: Command = {
  name: 'inspect-logs',
  title: 'list TensorBoard logs: tags, steps, last values',
  summary:
    'List the runs of a TensorBoard log directory as TensorBoard shows them (restarts applied): every tag with its number of points, step range and last value; torn or damaged records are reported, not fatal.',
  usage: 'inspect-logs LOG_DIR',
  options: {},
  async run(positionals) {
    if (positionals.length !== 1) throw new UsageError('inspect-logs: give one log directory');
    const runs = await readLogs(fsStorage, positionals[0]);
    if (runs.length === 0)
      throw new UsageError(`inspect-logs: no TensorBoard event files in ${positionals[0]} or its run directories`);
    console.log(runs.flatMap(describeRun).join('\n'));
  },
};

export const tensorboardExport: Command = {
  name: 'tensorboard-export',
  title: 'zip TensorBoard logs for download',
  summary:
    'Zip every event file under a log directory, with its run path, into one file (what a browser app offers as a download).',
  usage: 'tensorboard-export LOG_DIR [--out logs.zip]',
  options: { out: { type: 'string', default: 'logs.zip', help: 'output zip path' } },
  async run(positionals, v) {
    if (positionals.length !== 1) throw new UsageError('tensorboard-export: give one log directory');
    const zip = await bundleLogs(fsStorage, positionals[0]);
    await writeOutput(v.out as string, zip);
    console.log(`wrote ${v.out} (${zip.length} bytes)`);
  },
};
