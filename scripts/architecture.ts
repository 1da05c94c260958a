/**
 * The folder graph of docs/ARCHITECTURE.md, enforced: every import of a source file must go
 * to its own folder, a folder its folder may use, or a root module (errors, version). Fails
 * on any other import, which is how a cycle or an engine import of `checkpoint` would start.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Everything below the platform entries and the CLI: what the entries (and benchmarks) may import. */
const PACKAGE_CORE = [
  'src/callbacks',
  'src/tensorboard',
  'src/interop',
  'src/model',
  'src/nn',
  'src/optim',
  'src/data',
  'src/runs',
  'src/checkpoint',
  'src/storage',
  'src/state',
  'src/tensor',
  'src/backend',
  'kernels',
];

/** What each folder may import, besides itself and the root modules. Top of the graph first. */
export const ALLOWED: Record<string, string[]> = {
  // The package entries for Node and browsers: each installs its platform, then the core.
  'src/node': PACKAGE_CORE,
  'src/browser': PACKAGE_CORE,
  'src/cli': ['src/node', 'src/s3', ...PACKAGE_CORE],
  // Runs in and out of storages: the run archive (tar), copies between storages, listing.
  'src/runs': ['src/checkpoint', 'src/storage', 'src/state'],
  // waypoint/s3: S3-compatible object storage, an entry of its own (with its request signer, aws4fetch).
  'src/s3': ['src/storage', 'src/state'],
  // waypoint/testing: the contract suites (the Storage contract) for any implementation.
  'src/testing': ['src/checkpoint', 'src/storage', 'src/state', 'src/tensor'],
  'src/callbacks': ['src/model', 'src/tensorboard', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor'],
  'src/tensorboard': ['src/storage', 'src/protobuf'],
  'src/protobuf': [],
  'src/interop': ['src/model', 'src/nn', 'src/protobuf', 'src/state', 'src/tensor'],
  'src/model': ['src/nn', 'src/optim', 'src/data', 'src/checkpoint', 'src/storage', 'src/state', 'src/tensor'],
  'src/nn': ['src/state', 'src/tensor'],
  // Adam's update is the backend's kernel (a SIMD one on the cpu).
  'src/optim': ['src/state', 'src/tensor', 'src/backend'],
  'src/data': ['src/storage', 'src/state', 'src/tensor'],
  // The codecs assemble their WebAssembly with the kernels' assembler.
  // .wpt files in layers: the byte layout < codecs (one entry's bytes) < load threads < file I/O
  // (reader, writer) < the folder's own files (manifest < Checkpoint < CheckpointManager, by the no-circle rule).
  'src/checkpoint': [
    'src/checkpoint/format',
    'src/checkpoint/threads',
    'src/checkpoint/codec',
    'src/checkpoint/layout',
    'src/storage',
    'src/state',
    'src/tensor',
    'kernels',
  ],
  'src/checkpoint/format': [
    'src/checkpoint/threads',
    'src/checkpoint/codec',
    'src/checkpoint/layout',
    'src/storage',
    'src/state',
    'src/tensor',
  ],
  'src/checkpoint/threads': ['src/checkpoint/codec', 'src/checkpoint/layout', 'src/storage', 'src/state', 'src/tensor'],
  // The codecs assemble their WebAssembly with the kernels' assembler.
  'src/checkpoint/codec': ['src/checkpoint/layout', 'src/storage', 'src/state', 'src/tensor', 'kernels'],
  'src/checkpoint/layout': ['src/state'],
  // The Storage interface and its helpers, just above the platform: files, handles, atomic writes, OS errors.
  'src/storage': ['src/state'],
  'src/state': ['src/tensor'],
  'src/tensor': ['src/backend', 'kernels'],
  'src/backend': ['kernels'],
  kernels: [],
  // Outside the package: benchmarks and the processes they share with tests; never test/.
  bench: ['harness', 'src/node', 'src/cli', 'src/s3', ...PACKAGE_CORE],
  harness: [
    'src/node',
    'src/browser',
    'src/s3',
    'src/testing',
    'src/checkpoint',
    'src/storage',
    'src/state',
    'src/tensor',
  ],
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

/** The most specific folder of the table holding `file` (src/checkpoint/codec before src/checkpoint). */
const folderOf = (file: string) =>
  Object.keys(ALLOWED)
    .filter((f) => relative(join(root, f), file).split('/')[0] !== '..')
    .sort((a, b) => b.length - a.length)[0];

/** A folder may import itself, the folders of its row, and their subfolders (from outside them: inside, the subfolders' own rows rule). */
const mayImport = (from: string, to: string) =>
  to === from ||
  ALLOWED[from].some((a) => to === a || (to.startsWith(`${a}/`) && from !== a && !from.startsWith(`${a}/`)));

/**
 * Files that import each other by value, directly or around a circle (type-only imports do not
 * count: they vanish at run time). The one circle allowed: the tensor's method sugar
 * (`x.add(y)` calls ops/, and ops/ make Tensors).
 */
export const ALLOWED_CIRCLES = [
  [
    'src/tensor/ops.ts',
    'src/tensor/ops/elementwise.ts',
    'src/tensor/ops/layout.ts',
    'src/tensor/ops/nn.ts',
    'src/tensor/ops/normalization.ts',
    'src/tensor/ops/reduce.ts',
    'src/tensor/tensor.ts',
  ],
];

export function circles(): string[][] {
  const graph = new Map<string, string[]>();
  for (const file of [...files(join(root, 'src')), ...files(join(root, 'kernels'))]) {
    const source = readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of source.matchAll(/^(?:import|export)\s+(?!type\b)([^;]*?)\s*from\s+'(\.{1,2}\/[^']+)'/gm)) {
      const names = m[1].trim();
      const typeOnly =
        /^\{[^}]*\}$/.test(names) &&
        names
          .slice(1, -1)
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean)
          .every((n) => n.startsWith('type '));
      if (!typeOnly) deps.push(relative(root, resolve(dirname(file), m[2]).replace(/\.js$/, '.ts')));
    }
    graph.set(relative(root, file), deps);
  }
  // Tarjan's strongly connected components: each of more than one file is a circle.
  let next = 0;
  const index = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    onStack = new Set<string>(),
    found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!.filter((d) => graph.has(d))) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.filter((c) => !ALLOWED_CIRCLES.some((a) => a.join() === c.join()));
}

/** Every violation, as "file: import". */
export function violations(): string[] {
  const out: string[] = [];
  for (const folder of Object.keys(ALLOWED)) {
    for (const file of files(join(root, folder)).filter((f) => folderOf(f) === folder)) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
        const rel = relative(root, target);
        if (
          ROOT_MODULES.includes(rel) ||
          (rel === ENTRY && (!folder.startsWith('src/') || PLATFORM_ENTRIES.includes(folder)))
        )
          continue;
        const to = folderOf(target);
        if (to !== undefined && mayImport(folder, to)) continue;
        out.push(
          `${relative(root, file)}: imports ${rel} (${folder} may import ${[...ALLOWED[folder], 'itself'].join(', ')})`,
        );
      }
    }
  }
  for (const m of ROOT_MODULES) {
    if (/from\s+'\.\//.test(readFileSync(join(root, m), 'utf8'))) out.push(`${m}: a root module imports the project`);
  }
  for (const c of circles()) out.push(`a circle of value imports: ${c.join(' → ')}`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = violations();
  if (found.length) {
    console.error(
      `architecture: ${found.length} import${found.length === 1 ? '' : 's'} outside the folder graph (docs/ARCHITECTURE.md):\n  ${found.join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log(`architecture: every import follows the folder graph (${Object.keys(ALLOWED).length} folders)`);
}
