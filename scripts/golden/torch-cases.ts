/**
 * Writes the Waypoint side of the PyTorch interop goldens into a directory (default
 * test/golden/torch-interop): for each case of harness/interop-cases.ts and
 * harness/functional-cases.ts, the model's torch-layout safetensors, the Python source of its
 * module, and the input batches.
 * Then `.venv-ref/bin/python scripts/golden/torch_interop.py DIR` loads each into PyTorch.
 *
 *     npx tsx scripts/golden/torch-cases.ts [DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportSafetensors, torchSource } from '../../src/node/index.js';
import { INTEROP_CASE_NAMES, interopCase } from '../../harness/interop-cases.js';
import { FUNCTIONAL_CASE_NAMES, functionalCase } from '../../harness/functional-cases.js';

const dir = process.argv[2] ?? join(import.meta.dirname, '..', '..', 'test', 'golden', 'torch-interop');
mkdirSync(dir, { recursive: true });
for (const name of INTEROP_CASE_NAMES) {
  const c = await interopCase(name);
  writeFileSync(join(dir, `${name}.safetensors`), exportSafetensors(c.model, { layout: 'torch' }));
  writeFileSync(join(dir, `${name}.py`), torchSource(c.model));
  writeFileSync(
    join(dir, `${name}.json`),
    `${JSON.stringify({ x: Array.from(c.x.data), shape: c.x.shape, ids: c.ids, nchw: c.x.rank === 4 })}\n`,
  );
}
// Functional models: a module with a forward, one input batch per argument.
for (const name of FUNCTIONAL_CASE_NAMES) {
  const c = await functionalCase(name);
  writeFileSync(join(dir, `${name}.safetensors`), exportSafetensors(c.model, { layout: 'torch' }));
  writeFileSync(join(dir, `${name}.py`), torchSource(c.model));
  const inputs = c.xs.map((x, i) => ({
    x: Array.from(x.data),
    shape: x.shape,
    ids: c.ids[i] !== undefined,
    nchw: x.rank === 4,
  }));
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ inputs })}\n`);
}
console.error(`wrote ${INTEROP_CASE_NAMES.length + FUNCTIONAL_CASE_NAMES.length} cases to ${dir}`);
