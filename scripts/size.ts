/**
 * Counts lines of code (no blank lines, no comments) per folder, and fails when the core
 * (src/tensor + kernels/cpu) outgrows the budget that keeps it readable in an afternoon.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const CORE = ['src/tensor', 'kernels/cpu'];
const CORE_BUDGET = 2000;
const root = new URL('..', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Lines that hold code: blank lines, line comments and block comments are dropped. */
export function codeLines(source: string): number {
  const withoutBlocks = source.replace(/\/\*[\s\S]*?\*\//g, '');
  return withoutBlocks.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('//')).length;
}

const folders = ['src/tensor', 'kernels/cpu', 'kernels/gpu', 'src/backend', 'src/nn', 'src/optim', 'src/train',
  'src/checkpoint', 'src/data', 'src/cli'];
let core = 0;
console.log('lines of code per folder (comments and blank lines excluded)');
for (const folder of folders) {
  let n = 0;
  try {
    for (const f of files(join(root, folder))) n += codeLines(readFileSync(f, 'utf8'));
  } catch {
    continue; // folder not there yet
  }
  if (CORE.includes(folder)) core += n;
  console.log(`  ${folder.padEnd(16)} ${String(n).padStart(6)}`);
}
console.log(`core (${CORE.join(' + ')}): ${core} / ${CORE_BUDGET}`);
if (core > CORE_BUDGET) {
  console.error(`size: the core is ${core} lines, over its ${CORE_BUDGET}-line budget`);
  process.exit(1);
}
