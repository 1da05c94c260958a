/**
 * Export and import of a 10M-parameter model as safetensors (Keras and PyTorch layouts,
 * with the file write or read), beside the safetensors library's own save_file/load_file
 * in Python on the same tensors and machine, when .venv-ref has it; medians.
 * `npm run bench -- interop [--quick]`
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dense, Sequential, exportSafetensors, importSafetensors } from '../src/node/index.js';
import { median, table } from './common.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 9;
const PYTHON = '.venv-ref/bin/python';

function timed(fn: () => void): number[] {
  const samples: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const t = performance.now();
    fn();
    if (r > 0) samples.push(performance.now() - t); // the first is warm-up
  }
  return samples;
}

export async function run(): Promise<void> {
  const model = new Sequential([new Dense({ units: 5000, inputShape: [1000] }), new Dense({ units: 1000 })], {
    seed: 1,
  }); // 10.0M parameters
  const target = new Sequential([new Dense({ units: 5000, inputShape: [1000] }), new Dense({ units: 1000 })], {
    seed: 2,
  });
  const params = model.getWeights().reduce((n, w) => n + w.size, 0);
  const dir = mkdtempSync(join(tmpdir(), 'wpt-interop-bench-'));
  const rows: Array<Array<string | number>> = [];
  try {
    for (const layout of ['keras', 'torch'] as const) {
      const path = join(dir, `${layout}.safetensors`);
      const save = median(timed(() => writeFileSync(path, exportSafetensors(model, { layout }))));
      const load = median(timed(() => importSafetensors(target, new Uint8Array(readFileSync(path)), { layout })));
      rows.push([
        `Waypoint, ${layout} layout`,
        save,
        load,
        (params * 4) / 1e6 / (save / 1000),
        (params * 4) / 1e6 / (load / 1000),
      ]);
    }
    let python = `${PYTHON} not found`;
    if (existsSync(PYTHON)) {
      const script = `
import json, statistics, time, numpy as np
from safetensors.numpy import save_file, load_file
rng = np.random.default_rng(0)
tensors = {"0.weight": rng.standard_normal((5000, 1000), dtype=np.float32), "0.bias": np.zeros(5000, np.float32),
           "1.weight": rng.standard_normal((1000, 5000), dtype=np.float32), "1.bias": np.zeros(1000, np.float32)}
path = "${join(dir, 'py.safetensors')}"
def med(f):
    t = []
    for r in range(${RUNS} + 1):
        s = time.perf_counter(); f(); d = (time.perf_counter() - s) * 1000
        if r: t.append(d)
    return statistics.median(t)
print(json.dumps({"save": med(lambda: save_file(tensors, path)), "load": med(lambda: load_file(path))}))
`;
      const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
      if (r.status === 0) {
        const { save, load } = JSON.parse(r.stdout) as { save: number; load: number };
        rows.push([
          'safetensors (Python, numpy) save_file / load_file',
          save,
          load,
          (params * 4) / 1e6 / (save / 1000),
          (params * 4) / 1e6 / (load / 1000),
        ]);
        python = '';
      } else python = `safetensors in ${PYTHON} failed: ${r.stderr.trim().split('\n').at(-1)}`;
    }
    console.log(
      `${(params / 1e6).toFixed(1)}M float32 parameters (${((params * 4) / 1e6).toFixed(0)} MB), median of ${RUNS}; save = export + write, load = read + import into a built model`,
    );
    console.log(table(['', 'save ms', 'load ms', 'save MB/s', 'load MB/s'], rows));
    if (python) console.log(`Python peer absent: ${python}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
