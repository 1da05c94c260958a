/**
 * Writes the Waypoint side of the PyTorch interop goldens into a directory (default
 * test/golden/torch-interop): for each case of harness/interop-cases.ts, the model's
 * torch-layout safetensors, the Python source of its nn.Sequential, and the input batch.
 * Then `.venv-ref/bin/python scripts/golden/torch_interop.py DIR` loads each into PyTorch.
 *
 *     npx tsx scripts/golden/torch-cases.ts [DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportSafetensors, torchSource } from '../../src/node/index.js';
import { INTEROP_CASE_NAMES, interopCase } from '../../harness/interop-cases.js';

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
console.error(`wrote ${INTEROP_CASE_NAMES.length} cases to ${dir}`);
