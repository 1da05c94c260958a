/** The `waypoint` command: dispatches to a subcommand; any failure is one line on stderr and a non-zero exit. */
import '../node/install.js'; // first: the Node platform and the file system, before the modules below run
import { WaypointError } from '../errors.js';
import { ENGINE_VERSION } from '../version.js';
import { type Command, UsageError, helpText, parse } from './args.js';
import { train } from './train.js';
import { diff, inspect } from './inspect.js';
import { inspectLogs, tensorboardExport } from './logs.js';
import { importCommand } from './import.js';
import { select } from './select.js';
import { average } from './average.js';
import { plot } from './plot.js';
import { exportCommand } from './export.js';
import { bench } from './bench.js';
import { runCommand } from './runs.js';
import { errnoOf, osError } from '../storage/os-errors.js';

const COMMANDS: Command[] = [
  train,
  inspect,
  diff,
  select,
  average,
  plot,
  exportCommand,
  importCommand,
  inspectLogs,
  tensorboardExport,
  runCommand,
  bench,
];

function usage(): string {
  return [
    `waypoint ${ENGINE_VERSION}: train, checkpoint and inspect small models`,
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(Math.max(...COMMANDS.map((k) => k.name.length)))}  ${c.title}`),
    '',
    'waypoint COMMAND --help for its options',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    console.log(ENGINE_VERSION);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  try {
    if (!cmd) throw new UsageError(`unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
    const { values, positionals } = parse(cmd, rest);
    if (values.help) {
      console.log(helpText(cmd));
      return 0;
    }
    await cmd.run(positionals, values);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    const message =
      e instanceof WaypointError
        ? e.message
        : errnoOf(e) !== undefined
          ? osError(`${name} failed`, (e as NodeJS.ErrnoException).path ?? '?', e).message
          : `unexpected error: ${(e as Error).stack ?? String(e)}`;
    // A command's own messages may start with its name: said once.
    const line = message.split('\n')[0].replace(new RegExp(`^${name}: `), '');
    console.error(`waypoint ${name}: ${line}`);
    return e instanceof UsageError ? 2 : (cmd?.errorExitCode ?? 1);
  }
}
