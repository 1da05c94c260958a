/**
 * Writes the Waypoint side of the ONNX goldens into a directory (default test/golden/onnx):
 * each case of harness/interop-cases.ts and harness/functional-cases.ts as NAME.onnx and its
 * input batches as NAME.json. Then
 * `.venv-ref/bin/python scripts/golden/onnx_check.py DIR` checks and runs them.
 *
 *     npx tsx scripts/golden/onnx-cases.ts [DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportOnnx } from '../../src/node/index.js';
import { INTEROP_CASE_NAMES, interopCase } from '../../harness/interop-cases.js';
import { FUNCTIONAL_CASE_NAMES, functionalCase } from '../../harness/functional-cases.js';

const dir = process.argv[2] ?? join(import.meta.dirname, '..', '..', 'test', 'golden', 'onnx');
mkdirSync(dir, { recursive: true });
for (const name of INTEROP_CASE_NAMES) {
  const c = await interopCase(name);
  writeFileSync(join(dir, `${name}.onnx`), exportOnnx(c.model));
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ x: Array.from(c.x.data), shape: c.x.shape })}\n`);
}
// Functional models: an input batch per named graph input.
for (const name of FUNCTIONAL_CASE_NAMES) {
  const c = await functionalCase(name);
  writeFileSync(join(dir, `${name}.onnx`), exportOnnx(c.model));
  const inputs = c.xs.map((x, i) => ({ name: c.model.inputNames[i], x: Array.from(x.data), shape: x.shape }));
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ inputs })}\n`);
}
console.error(`wrote ${INTEROP_CASE_NAMES.length + FUNCTIONAL_CASE_NAMES.length} cases to ${dir}`);
