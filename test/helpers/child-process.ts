/** Running the field tests' training child: spawn, watch its output line by line, signal it. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const FIELD_CHILD = join(import.meta.dirname, 'field-child.ts');

export interface Watched {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line (already seen or to come) that matches. */
  waitFor(pattern: RegExp): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stderr(): string;
}

/**
 * Starts `node --import tsx field-child.ts ...args` (one process: a SIGTERM reaches the
 * trainer itself, not a wrapper), behind `prefix` (e.g. unshare) when given.
 */
export function startChild(args: string[], prefix: string[] = []): Watched {
  const command = [...prefix, process.execPath, '--import', 'tsx', FIELD_CHILD, ...args];
  const child = spawn(command[0], command.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WAYPOINT_BACKEND: 'cpu' },
  });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (l: string) => void }> = [];
  let partial = '',
    err = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
  });
  return {
    child,
    lines,
    exit,
    stderr: () => err,
    waitFor: (pattern) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exit.then(({ code, signal }) =>
          reject(
            new Error(
              `child exited (${signal ?? code}) before printing ${pattern}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          ),
        );
      });
    },
  };
}

/** Runs the child to completion; throws with its stderr if it fails. */
export async function runToEnd(args: string[], prefix: string[] = []): Promise<string[]> {
  const run = startChild(args, prefix);
  const { code, signal } = await run.exit;
  if (code !== 0)
    throw new Error(`child failed (${signal ?? code}): ${run.stderr().trim().split('\n').slice(-5).join(' | ')}`);
  return run.lines;
}

/** Whether this machine lets us make a pid namespace (root, or user namespaces allowed), and why not. */
export function pidNamespaceSupport(): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', 'sh', '-c', 'echo $$'], {
    encoding: 'utf8',
  });
  if (r.error) return { ok: false, reason: `unshare is not available (${r.error.message})` };
  if (r.status !== 0 || r.stdout.trim() !== '1')
    return { ok: false, reason: `unshare --pid failed: ${r.stderr.trim() || `exit ${r.status}`}` };
  return { ok: true };
}
