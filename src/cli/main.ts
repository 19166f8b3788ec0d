/**
 * `microsteer`: the engine from a terminal. Exit codes: 0 success, 2 bad input (InputError), 1 anything else.
 * An error is one line; its stack trace only with --verbose (any command) or MICROSTEER_DEBUG=1.
 */
import { commands } from './commands';
import { terminalLine } from './terminalText';
import { isInputError } from '../engine/errors';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  return [
    'usage: microsteer <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `microsteer <command> --help` for a command\'s options.',
  ].join('\n');
}

async function main(args: string[]): Promise<number> {
  const verbose = args.includes('--verbose') || process.env.MICROSTEER_DEBUG === '1';
  const argv = args.filter((a) => a !== '--verbose');
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(help());
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`microsteer: unknown command "${terminalLine(name)}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (e) {
    const message = terminalLine(e instanceof Error ? e.message : String(e));
    if (isInputError(e)) {
      console.error(`microsteer ${name}: ${message}`);
      return 2;
    }
    console.error(`microsteer ${name}: ${message}${verbose ? '' : ' (run with --verbose for details)'}`);
    if (verbose && e instanceof Error && e.stack) console.error(e.stack);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
