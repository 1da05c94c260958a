/**
 * The live check behind the committed Keras golden files: where the reference venv exists
 * (.venv-ref with keras and torch, see README), rerun each script and compare its output
 * with the committed file, so a golden file cannot drift from what its script makes. Where
 * it does not, say so: the parity tests then rest on the committed files alone.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const python = join(root, '.venv-ref', 'bin', 'python');
const probe = existsSync(python)
  ? spawnSync(python, ['-c', 'import keras, torch; print(keras.__version__, torch.__version__)'], {
      encoding: 'utf8',
      env: { ...process.env, KERAS_BACKEND: 'torch' },
    })
  : null;
const live = probe?.status === 0;
if (!live)
  console.warn(
    `SKIPPED live Keras golden checks: ${probe ? `keras/torch do not import in .venv-ref (${probe.stderr.trim().split('\n').at(-1)})` : '.venv-ref/bin/python not found'}; the committed golden files are used as they are`,
  );

/**
 * Every number equal to rtol 1e-5. The same library versions on the same CPU give the same
 * bits; on another CPU, PyTorch's float32 convolutions sum in another order (oneDNN picks
 * its kernels by vector width: a dilated conv's filter gradient moved by 1.3e-6 relative
 * between an AVX2 and an AVX-512 machine).
 */
function compare(a: unknown, b: unknown, path: string): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (!(Math.abs(a - b) <= 1e-5 * Math.abs(b) + 1e-8))
      expect.fail(`${path}: the script now gives ${a}, the committed file has ${b}`);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, `${path}: length`).toBe(b.length);
    a.forEach((v, i) => compare(v, b[i], `${path}[${i}]`));
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    if (path === '')
      return Object.keys(b)
        .filter((k) => k !== 'keras')
        .forEach((k) => compare((a as never)[k], (b as never)[k], k));
    expect(Object.keys(a).sort(), `${path}: keys`).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(b)) compare((a as never)[k], (b as never)[k], `${path}.${k}`);
    return;
  }
  expect(a, path).toEqual(b);
}

describe.runIf(live)(`committed golden files equal what their scripts make now (${probe?.stdout.trim()})`, () => {
  for (const [script, golden] of [
    ['keras_optimizers.py', 'keras-optimizers.json'],
    ['keras_layers.py', 'keras-layers.json'],
    ['keras_functional.py', 'keras-functional.json'],
  ]) {
    it(`${script} → test/golden/${golden}`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'wpt-golden-'));
      try {
        const out = join(dir, golden);
        const run = spawnSync(python, [join(root, 'scripts', 'golden', script), out], {
          encoding: 'utf8',
          env: { ...process.env, KERAS_BACKEND: 'torch' },
          timeout: 300_000,
        });
        expect(run.status, run.stderr).toBe(0);
        compare(
          JSON.parse(readFileSync(out, 'utf8')),
          JSON.parse(readFileSync(join(root, 'test', 'golden', golden), 'utf8')),
          '',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 300_000);
  }
});
