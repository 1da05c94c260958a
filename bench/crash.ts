/**
 * The kill harness for long runs: `npm run bench -- crash --kills 200`. SIGKILLs a training
 * process at random moments (many inside saves), restarts it each time, and checks the final
 * result is bit-identical to an uninterrupted run and every file verifies.
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { killStorm } from '../harness/kill-storm.js';

export async function run(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(3),
    options: {
      kills: { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      quick: { type: 'boolean' },
    },
  });
  const kills = values.quick ? 10 : Number(values.kills);
  const t = performance.now();
  const r = await killStorm(kills, Number(values.seed));
  console.log(
    `kill storm: ${r.kills} SIGKILLs (${r.killsInsideSaves} left a half-written temporary file: inside a save), ${r.runs} runs, ${((performance.now() - t) / 1000).toFixed(0)} s`,
  );
  console.log(
    `final weights, optimizer, RNG and history bit-identical to an uninterrupted run: ${r.identical ? 'yes' : 'NO'}`,
  );
  console.log(
    `files that fail to verify or should not be there: ${r.problems.length}${r.problems.length ? `\n  ${r.problems.join('\n  ')}` : ''}`,
  );
  if (!r.identical || r.problems.length) process.exitCode = 1;
  else rmSync(r.dir, { recursive: true, force: true });
}
