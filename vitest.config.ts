import { defineConfig } from 'vitest/config';

/**
 * `npm test`: the fast suite, quiet (a test's console output shows only when it fails).
 * `npm run test:all` (vitest.all.config.ts) adds the heavy suites below; CI runs that.
 */
export const HEAVY = [
  'test/field.test.ts', // real child processes, signals, pid namespaces, zombies
  'test/crash/**', // the SIGKILL storm
  'test/browser.test.ts', // Debian's Chromium
  'test/readme.test.ts', // every README snippet, in Node and Chromium
  'test/gpu.test.ts', // the gpu.js kernels (npm run setup:gpu installs gpu.js and the native gl)
  'test/golden-live.test.ts', // Keras, PyTorch, TensorBoard and ONNX Runtime, live (the .venv-ref)
  'test/package.test.ts', // npm pack and a consumer install
  'test/cli-train.test.ts', // two `waypoint train` processes racing
  'test/bundlers.test.ts', // the packed package bundled by Vite and esbuild, in Chromium
  'test/large-files.test.ts', // a 2.4 GB entry (WAYPOINT_LARGE_FILES=1)
];

/** What both suites share. */
export const BASE = { include: ['test/**/*.test.ts'], setupFiles: ['test/setup.ts'], testTimeout: 60_000, silent: 'passed-only' as const };

export default defineConfig({ test: { ...BASE, exclude: HEAVY } });
