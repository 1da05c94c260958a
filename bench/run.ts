/** `npm run bench -- NAME [flags]`: runs bench/NAME.ts. */
import { readdirSync } from 'node:fs';

const available = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'common.ts'].includes(f))
  .map((f) => f.slice(0, -3));
const name = process.argv[2];
if (name === undefined || !available.includes(name)) {
  console.error(
    `usage: npm run bench -- <${available.join('|')}> [--quick]${name ? ` (unknown benchmark '${name}')` : ''}`,
  );
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { run(): Promise<void> };
await mod.run();
