/**
 * The folder graph of docs/ARCHITECTURE.md, enforced: every import of a source file must go
 * to its own folder, a folder its folder may use, or a root module (errors, version). Fails
 * on any other import, which is how a cycle or an engine import of `checkpoint` would start.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** What each folder may import, besides itself and the root modules. Top of the graph first. */
export const ALLOWED: Record<string, string[]> = {
  // The package entries for Node and browsers: each installs its platform, then the core.
  'src/node': ['src/callbacks', 'src/tensorboard', 'src/interop', 'src/model', 'src/nn', 'src/optim', 'src/data', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor', 'src/backend', 'kernels'],
  'src/browser': ['src/callbacks', 'src/tensorboard', 'src/interop', 'src/model', 'src/nn', 'src/optim', 'src/data', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor', 'src/backend', 'kernels'],
  'src/cli': ['src/node', 'src/callbacks', 'src/tensorboard', 'src/interop', 'src/model', 'src/nn', 'src/optim', 'src/data', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor', 'src/backend', 'kernels'],
  // waypoint/testing: the contract suites (the Storage contract) for any implementation.
  'src/testing': ['src/checkpoint', 'src/storage', 'src/state', 'src/tensor'],
  'src/callbacks': ['src/model', 'src/tensorboard', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor'],
  'src/tensorboard': ['src/storage', 'src/protobuf'],
  'src/protobuf': [],
  'src/interop': ['src/model', 'src/nn', 'src/protobuf', 'src/state', 'src/tensor'],
  'src/model': ['src/nn', 'src/optim', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor'],
  'src/nn': ['src/state', 'src/tensor'],
  // Adam's update is a SIMD kernel.
  'src/optim': ['src/state', 'src/tensor', 'kernels'],
  'src/data': ['src/tensor'],
  // The codecs assemble their WebAssembly with the kernels' assembler.
  'src/checkpoint': ['src/storage', 'src/state', 'src/tensor', 'kernels'],
  // The Storage interface and its helpers, just above the platform: files, handles, atomic writes, OS errors.
  'src/storage': ['src/state'],
  'src/state': ['src/tensor'],
  'src/tensor': ['src/backend', 'kernels'],
  'src/backend': ['kernels'],
  'kernels': [],
  // Outside the package: benchmarks and the processes they share with tests; never test/.
  'bench': ['harness', 'src/node', 'src/cli', 'src/callbacks', 'src/tensorboard', 'src/interop', 'src/model', 'src/nn', 'src/optim', 'src/data', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor', 'src/backend', 'kernels'],
  'harness': ['src/node', 'src/browser', 'src/testing', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor'],
};
/** The package's public entry, for the folders outside it. */
const ENTRY = 'src/index.ts';
/** Root modules every folder may import; they import nothing of the project themselves. */
const ROOT_MODULES = ['src/errors.ts', 'src/version.ts', 'src/paths.ts', 'src/platform.ts', 'src/event-loop.ts'];
/** The folders that are the package's entries for a platform: each re-exports the portable entry. */
const PLATFORM_ENTRIES = ['src/node', 'src/browser'];

const root = resolve(new URL('..', import.meta.url).pathname);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const folderOf = (file: string) => Object.keys(ALLOWED).find((f) => relative(join(root, f), file).split('/')[0] !== '..');

/** Every violation, as "file: import". */
export function violations(): string[] {
  const out: string[] = [];
  for (const folder of Object.keys(ALLOWED)) {
    for (const file of files(join(root, folder))) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
        const rel = relative(root, target);
        if (ROOT_MODULES.includes(rel) || (rel === ENTRY && (!folder.startsWith('src/') || PLATFORM_ENTRIES.includes(folder)))) continue;
        const to = folderOf(target);
        if (to === folder || (to !== undefined && ALLOWED[folder].includes(to))) continue;
        out.push(`${relative(root, file)}: imports ${rel} (${folder} may import ${[...ALLOWED[folder], 'itself'].join(', ')})`);
      }
    }
  }
  for (const m of ROOT_MODULES) {
    if (/from\s+'\.\//.test(readFileSync(join(root, m), 'utf8'))) out.push(`${m}: a root module imports the project`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = violations();
  if (found.length) {
    console.error(`architecture: ${found.length} import${found.length === 1 ? '' : 's'} outside the folder graph (docs/ARCHITECTURE.md):\n  ${found.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`architecture: every import follows the folder graph (${Object.keys(ALLOWED).length} folders)`);
}
