import { storageForPath } from '../storage/url-storages.js';
import { fsStorage } from '../node/fs-storage.js';
import type { Storage } from '../storage/storage.js';
import { exportRun, importRun, listRuns } from '../runs/runs.js';
import { isS3Url } from '../s3/index.js';
import { type Command, UsageError } from './args.js';

/** The storage a CLI path is in: an s3:// URL's bucket, else the file system. */
const storageOf = (path: string): Storage => (isS3Url(path) ? storageForPath(path) : fsStorage);

const megabytes = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export const runCommand: Command = {
  name: 'run',
  title: 'list runs, and move them in and out as one archive file',
  summary:
    'list [ROOT]: the runs under ROOT (directories holding a manifest or a backup). export DIR FILE: the run in DIR as one archive (tar; its last member lists every file with its SHA-256). import FILE DIR: the archive into DIR, every file verified before any is written. DIR and FILE may be s3:// URLs.',
  usage: 'run list [ROOT] | run export DIR FILE | run import FILE DIR',
  options: {},
  async run(positionals) {
    const [what, ...args] = positionals;
    if (what === 'list') {
      if (args.length > 1) throw new UsageError('run list: give at most one ROOT');
      const root = args[0] ?? '.';
      const runs = await listRuns(storageOf(root), root);
      if (runs.length === 0) console.log(`no runs under ${root}`);
      for (const r of runs) console.log(`${r.dir}  ${r.files.length} files, ${megabytes(r.bytes)}`);
      return;
    }
    if (what === 'export') {
      if (args.length !== 2) throw new UsageError('run export: give DIR and FILE');
      const [dir, file] = args;
      const index = await exportRun(storageOf(dir), dir, { storage: storageOf(file), path: file });
      const bytes = index.files.reduce((n, f) => n + f.size, 0);
      console.log(`wrote ${file}: ${index.files.length} files of ${dir}, ${megabytes(bytes)}`);
      return;
    }
    if (what === 'import') {
      if (args.length !== 2) throw new UsageError('run import: give FILE and DIR');
      const [file, dir] = args;
      const index = await importRun({ storage: storageOf(file), path: file }, storageOf(dir), dir);
      console.log(`imported ${index.files.length} files into ${dir}, each verified against its SHA-256`);
      return;
    }
    throw new UsageError(`run: say list, export or import${what ? ` (not '${what}')` : ''}`);
  },
};
