/** BackupAndRestore's cleanup at train end (callbacks/backup-and-restore.ts) on the file system as users lay it out. */
import { describe, it, expect } from 'vitest';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupAndRestore, CSVLogger, ModelCheckpoint } from '../../src/node/index.js';
import { dataFor, makeModel } from '../../harness/training.js';

describe('BackupAndRestore at train end', () => {
  it('a backup directory that is a symbolic link: the backup is cleaned, the link stays, and the callbacks after it still save the final model', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wpt-bar-'));
    try {
      const target = join(root, 'elsewhere');
      mkdirSync(target);
      symlinkSync(target, join(root, 'backup'));
      const [x, y] = dataFor('mlp');
      const warnings: string[] = [];
      const fit = () =>
        makeModel('mlp', 1).fit(x, y, {
          epochs: 2,
          verbose: 0,
          callbacks: [
            new BackupAndRestore({ backupDir: join(root, 'backup'), warn: (m) => warnings.push(m) }),
            new ModelCheckpoint({
              filepath: join(root, 'best.wpt'),
              monitor: 'loss',
              saveBestOnly: true,
              saveLast: join(root, 'last.wpt'),
            }),
            new CSVLogger(join(root, 'log.csv'), { append: true }),
          ],
        });
      await fit();
      expect(existsSync(join(root, 'last.wpt'))).toBe(true);
      expect(lstatSync(join(root, 'backup')).isSymbolicLink()).toBe(true);
      expect(readdirSync(target)).toEqual([]);
      expect(warnings).toEqual([]);
      expect(
        readFileSync(join(root, 'log.csv'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(',')[0]),
      ).toEqual(['epoch', '0', '1']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
