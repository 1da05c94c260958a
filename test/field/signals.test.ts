/**
 * Resume where trainers really die, with real processes and real signals: SIGTERM and SIGINT
 * in the middle of an epoch, a second signal, a container restart that gives the new process
 * the dead one's pid (a pid namespace: pid 1 both times), and an unreaped (zombie) lock holder.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, CheckpointError, CheckpointManager, Variable, WptReader } from '../../src/node/index.js';
import { pidNamespaceSupport, runToEnd, startChild } from '../helpers/child-process.js';

let root: string;
let reference: string;
const BATCHES = 40; // per epoch in field-child.ts: 320 training samples, batches of 8

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'wpt-field-'));
  await runToEnd([join(root, 'reference'), join(root, 'reference.json')]);
  reference = readFileSync(join(root, 'reference.json'), 'utf8');
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const manifestOf = (run: string) =>
  JSON.parse(readFileSync(join(run, 'backup', 'manifest.json'), 'utf8')) as {
    checkpoints: Array<{ file: string; step: number }>;
  };

async function verifyAll(dir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.wpt'))) {
    const reader = await WptReader.open(join(dir, name));
    problems.push(...(await reader.verify()).map((p) => p.message));
    await reader.close();
  }
  return problems;
}

describe('a signal in the middle of an epoch, with the default per-epoch backups', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal}: finishes the batch, backs up that exact batch, exits ${code}; the rerun resumes inside the epoch and ends bit-identical`, async () => {
      const run = join(root, signal);
      const child = startChild([run, join(run, 'out.json')]);
      await child.waitFor(/^batch 1 10$/);
      child.child.kill(signal);
      const { code: exitCode, signal: killedBy } = await child.exit;
      expect(killedBy).toBeNull();
      expect(exitCode).toBe(code);
      expect(child.stderr()).toMatch(new RegExp(`${signal}: finishing the current batch`));
      const last = Number(
        child.lines
          .filter((l) => l.startsWith('batch '))
          .at(-1)!
          .split(' ')[2],
      );
      // The backup is at the batch after the last one trained: inside epoch 1, not its start.
      const [entry] = manifestOf(run).checkpoints;
      expect(entry.step).toBe(BATCHES + last + 1);
      expect(last).toBeGreaterThanOrEqual(10);
      expect(last).toBeLessThan(BATCHES - 1);
      expect(existsSync(join(run, 'backup', 'manager.lock'))).toBe(false);

      const rerun = await runToEnd([run, join(run, 'out.json')]);
      expect(rerun).toContain(`start 1 ${last + 1}`);
      expect(readFileSync(join(run, 'out.json'), 'utf8')).toBe(reference);
    }, 60_000);
  }

  it('a second signal exits at once, inside the backup the first one started; every earlier file stays whole', async () => {
    const run = join(root, 'twice');
    const child = startChild([run, join(run, 'out.json'), '400']); // each write of a save waits 400 ms
    await child.waitFor(/^batch 1 5$/);
    child.child.kill('SIGTERM');
    // The first signal was handled (the fit is now finishing its batch and saving): the second ends it.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (child.stderr().includes('finishing the current batch')) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    child.child.kill('SIGTERM');
    const { code } = await child.exit;
    expect(code).toBe(143);
    expect(child.stderr()).toMatch(/SIGTERM again: exiting now/);
    // The interrupted backup never landed: the epoch-0 backup is still the one listed, and it verifies.
    expect(manifestOf(run).checkpoints.map((c) => c.step)).toEqual([BATCHES]);
    expect(await verifyAll(join(run, 'backup'))).toEqual([]);

    const rerun = await runToEnd([run, join(run, 'out.json')]);
    expect(rerun).toContain('start 1 0');
    expect(readFileSync(join(run, 'out.json'), 'utf8')).toBe(reference);
    expect(existsSync(join(run, 'backup'))).toBe(false); // finished: backup deleted, temporary leftovers too
  }, 60_000);
});

const namespaces = pidNamespaceSupport();
if (!namespaces.ok) console.log(`SKIPPED: pid-namespace tests (${namespaces.reason})`);
const inNamespace = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL'];

describe.skipIf(!namespaces.ok)(
  "a container restart: the new process has the dead holder's pid (pid 1) and host",
  () => {
    it('SIGKILLed as pid 1 in a pid namespace, restarted as pid 1 in a new one: takes the stale lock over and ends bit-identical', async () => {
      const run = join(root, 'container');
      const first = startChild([run, join(run, 'out.json')], inNamespace);
      expect(await first.waitFor(/^pid /)).toBe('pid 1');
      await first.waitFor(/^batch 1 5$/);
      first.child.kill('SIGKILL'); // the namespace's init dies with unshare (--kill-child): the OOM killer, docker kill
      await first.exit;
      const lock = JSON.parse(readFileSync(join(run, 'backup', 'manager.lock'), 'utf8'));
      expect(lock).toMatchObject({ pid: 1, host: hostname() });
      expect(lock.startTime).toMatch(/^\d+$/);

      const second = startChild([run, join(run, 'out.json')], inNamespace);
      const { code } = await second.exit;
      expect(code, second.stderr()).toBe(0);
      expect(second.lines[0]).toBe('pid 1');
      expect(second.lines).toContain('start 1 0');
      expect(second.stderr()).toMatch(
        /taking over the stale lock .*\(pid 1 on .* is gone \(pid 1 is now another process\)\)/,
      );
      expect(readFileSync(join(run, 'out.json'), 'utf8')).toBe(reference);
    }, 60_000);

    it('a lock of the old form naming pid 1 and this host (the reported case) is taken over inside a namespace', async () => {
      const run = join(root, 'legacy-lock');
      mkdirSync(join(run, 'backup'), { recursive: true });
      writeFileSync(
        join(run, 'backup', 'manager.lock'),
        JSON.stringify({ pid: 1, host: hostname(), time: new Date().toISOString() }),
      );
      const lines = await runToEnd([run, join(run, 'out.json')], inNamespace);
      expect(lines[0]).toBe('pid 1');
      expect(readFileSync(join(run, 'out.json'), 'utf8')).toBe(reference);
    }, 60_000);
  },
);

/** A script that takes `dir`'s lock, prints `locked PID` and stays alive holding it. */
function writeHolder(name: string, dir: string): string {
  const path = join(root, name);
  writeFileSync(
    path,
    `
    import { Checkpoint, CheckpointManager, Variable } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'src', 'node', 'index.ts'))};
    const m = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), ${JSON.stringify(dir)});
    await m.ready; console.log('locked ' + process.pid); setInterval(() => {}, 1000);`,
  );
  return path;
}

describe('a zombie lock holder (killed, never reaped by its parent)', () => {
  it('still answers kill(pid, 0), but is recognised as gone and its lock taken over', async () => {
    const dir = join(root, 'zombie');
    const holder = writeHolder('holder.mts', dir);
    // sh starts the holder, then becomes \`sleep\`, which never waits for its children.
    const parent = spawn('sh', ['-c', `${process.execPath} --import tsx ${holder} & exec sleep 60`], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: join(import.meta.dirname, '..', '..'),
    });
    try {
      const pid = await new Promise<number>((resolve) =>
        parent.stdout!.on('data', (d: Buffer) => {
          const m = /locked (\d+)/.exec(d.toString());
          if (m) resolve(Number(m[1]));
        }),
      );
      const held = await new CheckpointManager(new Checkpoint({ v: new Variable(1) }), dir).ready.catch((e) => e);
      expect(held).toBeInstanceOf(CheckpointError);
      expect(held.message).toMatch(
        new RegExp(`LOCKED: .* by pid ${pid} on .*takeOverLock: true, or waypoint train --take-over-lock`),
      );

      process.kill(pid, 'SIGKILL');
      const state = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
      while (state() !== 'Z') await new Promise((r) => setTimeout(r, 10));
      expect(() => process.kill(pid, 0)).not.toThrow(); // what the old liveness check relied on

      const warnings: string[] = [];
      const taker = new CheckpointManager(new Checkpoint({ v: new Variable(1) }), dir, {
        warn: (m) => warnings.push(m),
      });
      await taker.ready;
      expect(warnings.join()).toMatch(new RegExp(`taking over the stale lock .*pid ${pid} .* zombie`));
      await taker.close();
    } finally {
      parent.kill('SIGKILL'); // the zombie's parent: init adopts and reaps it
    }
  }, 30_000);
});

describe('waypoint train --take-over-lock', () => {
  it('refuses a live holder by name and says how to take over; with the flag it takes over and trains', async () => {
    const run = join(root, 'takeover');
    const holder = writeHolder('live-holder.mts', join(run, 'backup'));
    const live = spawn(process.execPath, ['--import', 'tsx', holder], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: join(import.meta.dirname, '..', '..'),
    });
    try {
      await new Promise<void>((resolve) =>
        live.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('locked')) resolve();
        }),
      );
      const bin = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
      const train = (...extra: string[]) =>
        spawnSync(process.execPath, [bin, 'train', '--model', 'mlp', '--epochs', '1', '--run', run, ...extra], {
          encoding: 'utf8',
          env: { ...process.env, WAYPOINT_BACKEND: 'cpu' },
        });
      const refused = train();
      expect(refused.status).toBe(1);
      expect(refused.stderr.trim()).toMatch(
        new RegExp(
          `^waypoint train: LOCKED: .* is being written by pid ${live.pid} on ${hostname()} .*takeOverLock: true, or waypoint train --take-over-lock`,
        ),
      );
      const taken = train('--take-over-lock');
      expect(taken.status, taken.stderr).toBe(0);
      expect(taken.stderr).toMatch(new RegExp(`taking over the lock of .* from pid ${live.pid} .* as asked`));
      expect(taken.stdout).toMatch(/run complete: 1 epoch;/);
    } finally {
      live.kill('SIGKILL');
    }
  }, 60_000);
});
