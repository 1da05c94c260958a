import { defineConfig } from 'vitest/config';

/**
 * Tests mirror what they test and are grouped by what they need (test/README.md): unit/,
 * contract/ (suites every implementation runs), parity/ (Keras, PyTorch, TensorFlow), field/
 * (real processes, signals, faults, installs), browser/.
 *
 * `npm test`: the fast suite, quiet (a test's console output shows only when it fails).
 * `npm run test:all` (vitest.all.config.ts) adds the heavy suites below; CI runs that.
 */
export const HEAVY = [
  'test/field/signals.test.ts', // real child processes, signals, pid namespaces, zombies
  'test/field/kill-storm.test.ts', // the SIGKILL storm
  'test/browser/**', // Debian's Chromium
  'test/field/readme.test.ts', // every README snippet, in Node and Chromium
  'test/contract/gpu.test.ts', // the gpu.js kernels (npm run setup:gpu installs gpu.js and the native gl)
  'test/parity/golden-live.test.ts', // Keras, PyTorch, TensorBoard and ONNX Runtime, live (the .venv-ref)
  'test/field/package.test.ts', // npm pack and a consumer install
  'test/field/cli-train.test.ts', // two `waypoint train` processes racing
  'test/field/bundlers.test.ts', // the packed package bundled by Vite and esbuild, in Chromium
  'test/field/large-files.test.ts', // a 4.6 GB file with a 2.4 GB entry (WAYPOINT_LARGE_FILES=1)
  'test/field/dataset-resume.test.ts', // a 2-million-row CSV streamed by processes killed with SIGKILL
  'test/field/timed-backups.test.ts', // processes killed at random moments, timed in wall-clock milliseconds
  'test/field/remote-resume.test.ts', // processes killed mid-upload to an S3 server, resumed on "new machines"
];

/** What both suites share. */
export const BASE = {
  include: ['test/**/*.test.ts'],
  setupFiles: ['test/setup.ts'],
  testTimeout: 60_000,
  silent: 'passed-only' as const,
};

export default defineConfig({ test: { ...BASE, exclude: HEAVY } });
