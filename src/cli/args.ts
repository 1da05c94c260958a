import { parseArgs } from 'node:util';
import { WaypointError } from '../errors.js';

/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends WaypointError {}

export type OptionSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; default?: string | boolean; help: string }
>;

export interface Command {
  name: string;
  /** One line for the command list. */
  title: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  /** The exit status of a failure other than a usage error (default 1; diff: 2, as diff and cmp). */
  errorExitCode?: number;
  run(positionals: string[], values: Record<string, string | boolean | undefined>): Promise<void>;
}

export function helpText(cmd: Command): string {
  const lines = [`usage: waypoint ${cmd.usage}`, '', cmd.summary, ''];
  const opts = Object.entries(cmd.options);
  if (opts.length) {
    lines.push('options:');
    for (const [name, o] of opts) {
      const flag = `--${name}${o.type === 'string' ? ' VALUE' : ''}`;
      lines.push(
        `  ${flag.padEnd(24)} ${o.help}${o.default !== undefined && o.default !== false ? ` (default ${String(o.default)})` : ''}`,
      );
    }
  }
  lines.push(`  ${'--help'.padEnd(24)} show this help`);
  return lines.join('\n');
}

/**
 * `--epochs -1` as `--epochs=-1`: node's parser reads a value that starts with '-' as an
 * option, so a negative number reached the user as "argument is ambiguous" instead of the
 * rule it breaks.
 */
function joinNegativeValues(cmd: Command, argv: string[]): string[] {
  const optionOf = (token: string) =>
    token.startsWith('--')
      ? token.slice(2)
      : Object.entries(cmd.options).find(([, o]) => o.short !== undefined && `-${o.short}` === token)?.[0];
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].includes('=') ? undefined : optionOf(argv[i]);
    const next = argv[i + 1];
    if (
      name !== undefined &&
      cmd.options[name]?.type === 'string' &&
      next !== undefined &&
      /^-(\d|\.\d|Infinity)/.test(next)
    ) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

export function parse(cmd: Command, argv: string[]) {
  argv = joinNegativeValues(cmd, argv);
  const options = Object.fromEntries(
    Object.entries(cmd.options).map(([k, o]) => [
      k,
      {
        type: o.type,
        ...(o.short ? { short: o.short } : {}),
        ...(o.default !== undefined ? { default: o.default } : {}),
      },
    ]),
  );
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean' } } as never,
      allowPositionals: true,
      strict: true,
    }) as { values: Record<string, string | boolean | undefined>; positionals: string[] };
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split(/\. |\n/)[0]} (see waypoint ${cmd.name} --help)`);
  }
}

export function intOption(cmd: string, name: string, v: unknown, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${cmd}: --${name} must be an integer ≥ ${min}, got '${String(v)}'`);
  return n;
}
