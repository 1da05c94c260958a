/**
 * Kill harness: runs the child to completion once without kills (the reference), then again
 * under a storm of SIGKILLs at random moments, restarting it after each until it completes.
 * Checks that the result is bit-identical and the directory holds only checkpoints that
 * verify, the manifest, and no temporary files.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Random, WptReader, TEMP_SUFFIX } from '../src/node/index.js';

const CHILD = join(import.meta.dirname, 'kill-storm-child.ts');

export interface StormResult {
  kills: number;
  /** Kills after which a half-written temporary file was found: they landed inside a save. */
  killsInsideSaves: number;
  runs: number;
  identical: boolean;
  problems: string[];
  dir: string;
}

/** Runs the child once; kills it `delayMs` after it starts training (never, if null). Resolves true if it completed. */
function runChild(dir: string, out: string, slowMs: number, delayMs: number | null): Promise<boolean> {
  return new Promise((resolve, reject) => {
    // node --import tsx: one process (the tsx CLI would put a wrapper in front, and SIGKILL would only hit the wrapper).
    // WAYPOINT_BACKEND=cpu: under an X display 'auto' would first probe GL, and kills would land there instead of in saves.
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, out, String(slowMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WAYPOINT_BACKEND: 'cpu' },
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d: Buffer) => {
      if (delayMs !== null && d.toString().includes('training')) setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(false);
      else if (code === 0) resolve(true);
      else reject(new Error(`child failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

export async function killStorm(minKills: number, seed: number, slowMs = 15): Promise<StormResult> {
  const root = mkdtempSync(join(tmpdir(), 'wpt-storm-'));
  const reference = join(root, 'reference'),
    stormed = join(root, 'stormed');
  await runChild(reference, join(root, 'reference.json'), slowMs, null);
  const rng = new Random(seed);
  let kills = 0,
    killsInsideSaves = 0,
    runs = 0;
  const tempFiles = () =>
    [stormed, join(stormed, 'backup')]
      .flatMap((d) => (existsSync(d) ? readdirSync(d) : []))
      .filter((n) => n.endsWith(TEMP_SUFFIX)).length;
  for (;;) {
    runs++;
    const delay = kills < minKills ? Math.floor(rng.uniform() * 250) : null; // after enough kills, let it finish
    if (await runChild(stormed, join(root, 'stormed.json'), slowMs, delay)) break;
    kills++;
    if (tempFiles() > 0) killsInsideSaves++;
  }
  const problems: string[] = [];
  for (const sub of [stormed, join(stormed, 'backup')]) {
    for (const name of readdirSync(sub)) {
      const path = join(sub, name);
      if (name.endsWith(TEMP_SUFFIX)) problems.push(`temporary file left: ${path}`);
      if (!name.endsWith('.wpt')) continue;
      const reader = await WptReader.open(path).catch((e) => {
        problems.push(`${path}: ${e.message}`);
        return null;
      });
      if (reader) {
        for (const p of await reader.verify()) problems.push(p.message);
        await reader.close();
      }
    }
  }
  if (!existsSync(join(stormed, 'backup', 'manifest.json'))) problems.push('backup manifest missing');
  if (existsSync(join(stormed, 'backup', 'manager.lock'))) problems.push('lock file left after a completed run');
  const identical =
    readFileSync(join(root, 'reference.json'), 'utf8') === readFileSync(join(root, 'stormed.json'), 'utf8');
  return { kills, killsInsideSaves, runs, identical, problems, dir: root };
}
